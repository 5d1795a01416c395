"""Turn django-auditlog entries into what a reader wants: which field, before, after.

auditlog stores foreign keys as primary keys ("role": ["3", "5"]) and choices as raw
values; `describe_entries` resolves those for a whole page at once (one query per
related model, never one per entry) so a change-log page costs the same whatever its size.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django import template
from django.core.exceptions import FieldDoesNotExist, ValidationError

register = template.Library()

# Auto-maintained values (ids, timestamps) say nothing a reader needs.
HIDDEN_FIELDS = {"id", "updated_at", "created_at"}
EMPTY_VALUES = {"None", "", None}
MAX_VALUE_LENGTH = 200


@dataclass
class ChangeRow:
    field: str
    before: str = ""
    after: str = ""
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)


@dataclass
class DescribedEntry:
    entry: object
    rows: list
    object_url: str = ""


def _model_field(model, name):
    try:
        return model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        return None


def _is_reverse_relation(model_field):
    # auditlog also "tracks" reverse relations (host.interfaces); they hold nothing.
    return model_field is not None and model_field.auto_created and not model_field.concrete


def _is_foreign_key(model_field):
    return model_field is not None and (model_field.many_to_one or model_field.one_to_one)


def _short(value):
    text = "" if value in EMPTY_VALUES else str(value)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"


def _valid_pks(model, pks):
    """The values that can be primary keys of model (a log may hold anything)."""
    valid = []
    for pk in pks:
        try:
            valid.append(model._meta.pk.to_python(pk))
        except ValidationError:
            continue
    return valid


def _foreign_key_names(entries):
    """{(related model, "pk"): "str(object)"} for every FK value on these entries."""
    wanted = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class()
        for name, values in (entry.changes_dict or {}).items():
            model_field = _model_field(model, name)
            if _is_foreign_key(model_field) and isinstance(values, list):
                wanted[model_field.related_model].update(v for v in values if v not in EMPTY_VALUES)
    names = {}
    for related_model, pks in wanted.items():
        # select_related() follows required FKs, so a __str__ like Rack's ("site / name") costs nothing.
        for obj in related_model._default_manager.select_related().filter(pk__in=_valid_pks(related_model, pks)):
            names[(related_model, str(obj.pk))] = str(obj)
    return names


def _object_urls(entries):
    """Links to the changed objects that still exist and have a page."""
    wanted = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class()
        if model is not None and hasattr(model, "get_absolute_url"):
            wanted[model].add(entry.object_pk)
    urls = {}
    for model, pks in wanted.items():
        # Whole rows: a get_absolute_url may use more than the pk (a slug, a parent).
        for obj in model._default_manager.filter(pk__in=_valid_pks(model, pks)):
            urls[(model, str(obj.pk))] = obj.get_absolute_url()
    return urls


def _display(model_field, value, fk_names):
    if value in EMPTY_VALUES:
        return ""
    if _is_foreign_key(model_field):
        return fk_names.get((model_field.related_model, str(value)), f"deleted #{value}")
    if model_field is not None and model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return _short(value)


def _rows(entry, fk_names):
    model = entry.content_type.model_class()
    rows = []
    for name, values in (entry.changes_dict or {}).items():
        model_field = _model_field(model, name)
        if name in HIDDEN_FIELDS or _is_reverse_relation(model_field):
            continue
        label = str(getattr(model_field, "verbose_name", name))
        if isinstance(values, dict) and values.get("type") == "m2m":
            objects = [str(o) for o in values.get("objects", [])]
            row = ChangeRow(label)
            (row.added if values.get("operation") == "add" else row.removed).extend(objects)
            rows.append(row)
            continue
        if not isinstance(values, list) or len(values) != 2:
            continue
        before, after = (_display(model_field, v, fk_names) for v in values)
        if before or after:
            rows.append(ChangeRow(label, before, after))
    return rows


@register.simple_tag
def describe_entries(entries):
    """[DescribedEntry(entry, rows, object_url)] for a page of LogEntry rows
    (fetched with select_related("actor", "content_type"))."""
    entries = list(entries)
    fk_names = _foreign_key_names(entries)
    urls = _object_urls(entries)
    described = []
    for entry in entries:
        model = entry.content_type.model_class()
        described.append(DescribedEntry(entry, _rows(entry, fk_names), urls.get((model, str(entry.object_pk)), "")))
    return described
