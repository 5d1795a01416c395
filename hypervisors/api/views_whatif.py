"""What if it died now? Read only, viewers and up: where each HA VM of a hypervisor (or of
every hypervisor of a rack) would be restarted, which could not be, and the N+1 check of
every site."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.views import ApiViewMixin
from inventory.models import Rack

from ..models import Hypervisor
from ..placement import PACK, SPREAD
from ..services import whatif


class WhatIfQuerySerializer(serializers.Serializer):
    hypervisor = serializers.PrimaryKeyRelatedField(queryset=Hypervisor.objects.select_related("host__site"),
                                                    required=False, help_text="The hypervisor that dies")
    rack = serializers.PrimaryKeyRelatedField(queryset=Rack.objects.all(), required=False,
                                              help_text="Or: every hypervisor of this rack dies at once")
    policy = serializers.ChoiceField(choices=[PACK, SPREAD], default=PACK,
                                     help_text="Placement policy (pack: spares first, as the HA restart does)")

    def validate(self, attrs):
        if ("hypervisor" in attrs) == ("rack" in attrs):
            raise serializers.ValidationError({"hypervisor": ["Give either hypervisor or rack (one of them)."]})
        return attrs


class _Named(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _VMRow(serializers.Serializer):
    vm = serializers.CharField()
    vm_id = serializers.IntegerField()
    vcpus = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    group = serializers.CharField(allow_blank=True)
    source = serializers.CharField()


class _Move(_VMRow):
    target = serializers.CharField()
    target_id = serializers.IntegerField()


class _Unplaced(_VMRow):
    reason = serializers.CharField()


class _Candidate(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    spare = serializers.BooleanField()
    vcpus = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    free_vcpus = serializers.IntegerField()
    free_memory_mib = serializers.IntegerField()
    free_vcpus_after = serializers.IntegerField()
    free_memory_mib_after = serializers.IntegerField()
    gets = serializers.IntegerField(help_text="HA VMs it would take")


class WhatIfSerializer(serializers.Serializer):
    """What would happen if these hypervisors died now (nothing is touched)."""

    dead = _Named(many=True)
    survives = serializers.BooleanField(help_text="Every HA VM could be restarted elsewhere")
    moves = _Move(many=True)
    unplaced = _Unplaced(many=True)
    stay_down = serializers.IntegerField(help_text="VMs that were up but are not HA: they stay down")
    candidates = _Candidate(many=True)


class SiteCheckSerializer(serializers.Serializer):
    """Can the site lose its largest hypervisor (most HA memory to restart)?"""

    site = serializers.CharField(source="site.slug")
    site_name = serializers.CharField(source="site.name")
    hypervisors = serializers.IntegerField()
    survives = serializers.BooleanField()
    largest = serializers.SerializerMethodField()
    unplaced = serializers.SerializerMethodField()

    def get_largest(self, check) -> dict | None:
        return {"id": check.largest.pk, "name": check.largest.name} if check.largest else None

    def get_unplaced(self, check) -> list[dict]:
        return _Unplaced(check.result.unplaced, many=True).data if check.result else []


class WhatIfView(ApiViewMixin, APIView):
    """What if a hypervisor (?hypervisor=<id>) or a whole rack (?rack=<id>) died now: where each
    HA VM would be restarted, which could not be and why. Read only."""

    @extend_schema(parameters=[WhatIfQuerySerializer], responses=WhatIfSerializer)
    def get(self, request):
        query = WhatIfQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        if "hypervisor" in data:
            result = whatif.hypervisor_what_if(data["hypervisor"], data["policy"])
        else:
            result = whatif.rack_what_if(data["rack"], data["policy"])
        return Response(WhatIfSerializer(result.as_dict()).data)


class NPlusOneView(ApiViewMixin, APIView):
    """The N+1 check of every site with hypervisors: can it lose its largest one? Sites that
    cannot come first. Read only."""

    pagination_class = None

    @extend_schema(responses=SiteCheckSerializer(many=True))
    def get(self, request):
        return Response(SiteCheckSerializer(whatif.n_plus_one(), many=True).data)
