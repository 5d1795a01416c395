"""Bulk writes: POST a JSON list to a list URL to create every item, PATCH a list of
objects that each carry an "id" to update every item. All or nothing: one bad item
and nothing is written; the 400 answer gives the errors of each bad item keyed by
its index in the request, e.g. {"2": {"hostname": ["..."]}}.

Items are validated and saved one after the other inside one transaction, so an item
is checked against the ones before it (two new hosts in the same rack units clash).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers, status
from rest_framework.fields import empty
from rest_framework.response import Response

from .audit import audited
from .exceptions import django_validation_error_detail

MAX_BULK_ITEMS = 1000
MAX_ID = 2**63 - 1  # BigAutoField


class BulkWriteMixin:
    # For a ModelViewSet registered on a core.api.routers.BulkRouter.

    max_bulk_items = MAX_BULK_ITEMS

    def create(self, request, *args, **kwargs):
        if isinstance(request.data, list):
            return self.bulk_create(request)
        return super().create(request, *args, **kwargs)

    def bulk_create(self, request):
        items = self._checked_items(request.data)
        saved = self._save_all(request, [(None, item) for item in items], partial=False)
        return Response(self._represent(saved), status=status.HTTP_201_CREATED)

    def bulk_partial_update(self, request, *args, **kwargs):
        items = self._checked_items(request.data)
        pairs = self._pair_with_instances(items)
        saved = self._save_all(request, pairs, partial=True)
        return Response(self._represent(saved))

    def _checked_items(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError({"non_field_errors": ["Expected a list of objects."]})
        if not data:
            raise serializers.ValidationError({"non_field_errors": ["The list is empty: send at least one item."]})
        if len(data) > self.max_bulk_items:
            raise serializers.ValidationError(
                {"non_field_errors": [f"At most {self.max_bulk_items} items per request; got {len(data)}."]}
            )
        return data

    def _pair_with_instances(self, items):
        """[(instance or an id error, item)] for a bulk update; ids are looked up in one query."""
        id_field = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        ids = []
        for item in items:
            try:
                ids.append(id_field.run_validation(item.get("id", empty)) if isinstance(item, dict) else None)
            except serializers.ValidationError as exc:
                ids.append(exc.detail)
        wanted = [pk for pk in ids if isinstance(pk, int)]
        instances = self.get_queryset().in_bulk(wanted)
        pairs, seen = [], set()
        for pk, item in zip(ids, items, strict=True):
            if not isinstance(item, dict):
                pairs.append(({"non_field_errors": ["Expected an object with an id."]}, item))
            elif not isinstance(pk, int):
                pairs.append(({"id": pk}, item))
            elif pk in seen:
                pairs.append(({"id": [f"Id {pk} is listed twice in this request."]}, item))
            elif pk not in instances:
                pairs.append(({"id": [f"No object with id {pk}."]}, item))
            else:
                seen.add(pk)
                pairs.append((instances[pk], item))
        return pairs

    def _save_all(self, request, pairs, partial):
        errors, saved = {}, []
        with transaction.atomic(), audited(request):
            for index, (instance, item) in enumerate(pairs):
                if isinstance(instance, dict):  # the item's id was already refused
                    errors[str(index)] = instance
                    continue
                serializer = self.get_serializer(instance, data=item, partial=partial)
                if not serializer.is_valid():
                    errors[str(index)] = serializer.errors
                    continue
                try:
                    with transaction.atomic():
                        saved.append(serializer.save())
                except DjangoValidationError as exc:
                    errors[str(index)] = django_validation_error_detail(exc)
                except IntegrityError:
                    errors[str(index)] = {"non_field_errors": ["This conflicts with an existing record."]}
            if errors:
                # Raising inside the transaction rolls back the items already saved.
                raise serializers.ValidationError(errors)
        return saved

    def _represent(self, saved):
        """The saved objects, re-read through the viewset's queryset (one fixed set of
        queries, not one per object), in request order."""
        by_pk = self.get_queryset().in_bulk([obj.pk for obj in saved])
        return self.get_serializer([by_pk[obj.pk] for obj in saved], many=True).data
