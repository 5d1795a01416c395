from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.accepted import validated
from core.api.audit import AuditedMixin, audited
from core.api.bulk import BulkWriteMixin
from core.api.views import ApiViewMixin
from core.roles import Role as ConsoleRole
from inventory import ansible, services
from inventory.models import Host, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag
from inventory.services import repair

from . import filters
from .serializers import (
    HostBulkUpdateItemSerializer,
    HostSerializer,
    InterfaceSerializer,
    JournalEntrySerializer,
    NamingSchemeSerializer,
    NextNameSerializer,
    RackSerializer,
    RepairedSerializer,
    RoleSerializer,
    SiteSerializer,
    TagSerializer,
)


class InventoryViewSet(ApiViewMixin, AuditedMixin, viewsets.ModelViewSet):
    # Who reads, writes and deletes is each model's `required_roles` (core.roles.model_role),
    # the declaration the console's pages read too.
    pass


class SiteViewSet(InventoryViewSet):
    """Sites. Viewers read; admins create, change and delete."""

    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    filterset_class = filters.SiteFilterSet
    ordering_fields = ["name", "slug", "created_at", "updated_at"]


class RackViewSet(InventoryViewSet):
    """Racks. Viewers read; admins create, change and delete."""

    queryset = Rack.objects.select_related("site")
    serializer_class = RackSerializer
    filterset_class = filters.RackFilterSet
    ordering_fields = ["name", "site__name", "u_height", "created_at", "updated_at"]


class NamingSchemeViewSet(InventoryViewSet):
    """Naming schemes (host name pools). Viewers read; admins create, change and delete."""

    queryset = NamingScheme.objects.all()
    serializer_class = NamingSchemeSerializer
    filterset_class = filters.NamingSchemeFilterSet
    ordering_fields = ["name"]


class RoleViewSet(InventoryViewSet):
    """Host roles. Viewers read; admins create, change and delete."""

    queryset = Role.objects.select_related("naming_scheme")
    serializer_class = RoleSerializer
    filterset_class = filters.RoleFilterSet
    ordering_fields = ["name", "slug"]

    @extend_schema(responses=NextNameSerializer)
    @action(detail=True, methods=["get"], url_path="next-name")
    def next_name(self, request, pk=None):
        """The next free host name from the role's naming scheme (null when the pool is used up
        or the role has no scheme)."""
        role = self.get_object()
        scheme = role.naming_scheme
        data = {"role": role.slug, "naming_scheme": scheme.name if scheme else None, "name": services.suggest_name(role)}
        return Response(NextNameSerializer(data).data)


class TagViewSet(InventoryViewSet):
    """Tags. Viewers read; admins create, change and delete."""

    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    filterset_class = filters.TagFilterSet
    ordering_fields = ["name", "slug"]


HOST_OR_HOST_LIST = PolymorphicProxySerializer(
    component_name="HostOrHostList",
    serializers=[HostSerializer, HostSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    create=extend_schema(
        summary="Create one host, or several at once",
        description="POST one host object, or a list of them to create all atomically: one bad item and "
        "nothing is created; the 400 answer keys each bad item's errors by its index in the list.",
        request=HOST_OR_HOST_LIST,
        responses={201: HOST_OR_HOST_LIST},
    ),
)
class HostViewSet(BulkWriteMixin, InventoryViewSet):
    """Physical hosts. Viewers read; operators create and change (also in bulk); admins delete.
    Filters: ?status=spare&role=<slug>&site=<slug>&tag=<slug>&q=<search>."""

    queryset = Host.objects.select_related("role", "site", "rack").prefetch_related("tags", "interfaces")
    serializer_class = HostSerializer
    filterset_class = filters.HostApiFilterSet
    ordering_fields = [
        "hostname", "status", "site__name", "role__name", "owner", "vendor", "memory_mib", "cpu_cores",
        "created_at", "updated_at",
    ]

    @extend_schema(
        operation_id="inventory_hosts_bulk_partial_update",
        summary="Update several hosts at once",
        description='PATCH a list of partial host objects, each with its "id". All or nothing, like bulk create.',
        request=HostBulkUpdateItemSerializer(many=True),
        responses={200: HostSerializer(many=True)},
    )
    def bulk_partial_update(self, request, *args, **kwargs):
        return super().bulk_partial_update(request, *args, **kwargs)

    @extend_schema(request=RepairedSerializer, responses={200: HostSerializer})
    @action(detail=True, methods=["post"], write_role=repair.mark_repaired.role)
    def repaired(self, request, pk=None):
        """The failed host is repaired: back to the status it had before it failed (active,
        or spare for a spare), journaled with your name and the note. 400 with the reason
        when the host is not failed or its health checks still fail."""
        host = self.get_object()
        note = validated(RepairedSerializer, request.data)["note"]
        with audited(request):
            host = repair.mark_repaired(host, user=request.user, note=note)
        return Response(HostSerializer(self.get_queryset().get(pk=host.pk), context={"request": request}).data)


class InterfaceViewSet(InventoryViewSet):
    """Network interfaces of hosts. Viewers read; operators write; admins delete."""

    queryset = Interface.objects.select_related("host")
    serializer_class = InterfaceSerializer
    filterset_class = filters.InterfaceFilterSet
    ordering_fields = ["name", "host__hostname", "mac_address", "ip_address"]


class JournalEntryViewSet(InventoryViewSet):
    """What happened to hosts: the evidence of every detection, fence and recovery. Viewers
    read; operators add entries. Append-only: an entry is never changed or deleted (405).
    Status-change and automatic entries are written by the system."""

    http_method_names = ["get", "post", "head", "options"]
    delete_role = ConsoleRole.OPERATOR  # so whoever may write the journal hears 405 for a DELETE, not 403
    queryset = JournalEntry.objects.select_related("host", "author")
    serializer_class = JournalEntrySerializer
    filterset_class = filters.JournalEntryFilterSet
    ordering_fields = ["created_at", "id", "kind"]


class AnsibleInventoryView(ApiViewMixin, APIView):
    """The inventory in the JSON `ansible-inventory --list` expects from a dynamic inventory
    script: groups role_*, site_*, status_*, tag_*; decommissioned hosts left out."""

    read_role = ConsoleRole.VIEWER

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(ansible.build_inventory())
