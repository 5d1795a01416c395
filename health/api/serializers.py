"""Health API representations. Hosts are referred to by id (with a read-only hostname
beside it), roles by slug. Secrets (the IPMI password) are write-only: no response ever
contains them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import CleanModelSerializer, SlugRelatedField
from inventory.models import Host, Role, Site

from ..models import (
    Alert,
    AlertDelivery,
    AlertTarget,
    Check,
    CheckResult,
    CheckSchedule,
    CheckStatus,
    DeliveryAttempt,
    FenceAttempt,
    FenceDevice,
    HostHealth,
    PortCheck,
    Recovery,
    SiteRecoveryPolicy,
)

SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"


class CheckResultSerializer(serializers.ModelSerializer):
    """One run of one check on one host."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    check = serializers.CharField(source="check_type", read_only=True)

    class Meta:
        model = CheckResult
        fields = ["id", "host", "hostname", "check", "ok", "alive", "value", "message", "duration_ms", "checked_at"]
        read_only_fields = fields


class CheckStatusSerializer(serializers.ModelSerializer):
    """The latest result of a check on a host, and since when it has been so."""

    check = serializers.CharField(source="check_type", read_only=True)

    class Meta:
        model = CheckStatus
        fields = ["check", "ok", "alive", "value", "message", "duration_ms", "checked_at", "since",
                  "consecutive_failures"]
        read_only_fields = fields


class HostHealthSerializer(serializers.ModelSerializer):
    """A host's current health and the latest status of each of its checks."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    status = serializers.CharField(source="host.status", read_only=True, help_text="Inventory lifecycle status")
    checks = CheckStatusSerializer(source="host.check_statuses", many=True, read_only=True)

    class Meta:
        model = HostHealth
        fields = ["host", "hostname", "status", "state", "since", "consecutive_failures", "consecutive_successes",
                  "last_check_at", "failing_checks", "flapping", "flapping_since", "checks"]
        read_only_fields = fields


class SeriesQuerySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=["6h", "24h", "7d", "30d"], default="24h")


class SeriesSerializer(serializers.Serializer):
    """Chart points [[ISO time, value], ...] of the metrics check: raw where kept, hourly averages before."""

    load1 = serializers.ListField(child=serializers.ListField())
    load5 = serializers.ListField(child=serializers.ListField())
    load15 = serializers.ListField(child=serializers.ListField())
    mem_used_pct = serializers.ListField(child=serializers.ListField())
    disks = serializers.DictField(child=serializers.ListField(child=serializers.ListField()))


class CheckScheduleSerializer(CleanModelSerializer):
    """How often a check runs, for every host (no role, no host), a role's hosts or one host."""

    check = serializers.ChoiceField(source="check_type", choices=Check.choices)
    role = SlugRelatedField(slug_field="slug", queryset=Role.objects.all(), allow_null=True, required=False)
    host = serializers.PrimaryKeyRelatedField(queryset=Host.objects.all(), allow_null=True, required=False)
    scope = serializers.CharField(read_only=True)

    class Meta:
        model = CheckSchedule
        fields = ["id", "check", "role", "host", "interval_seconds", "enabled", "scope"]
        # DRF would make role and host required for its unique-together check; the model's
        # clean() says which schedule already exists, in words.
        validators = []


class PortCheckSerializer(CleanModelSerializer):
    """A TCP port every host of the role must accept connections on."""

    role = SlugRelatedField(slug_field="slug", queryset=Role.objects.all())

    class Meta:
        model = PortCheck
        fields = ["id", "role", "port", "label"]


SHOWN_ADDRESS_HELP = "The email addresses, or the webhook URL as scheme://host/… only"


class AlertTargetSerializer(CleanModelSerializer):
    """Where alerts go: email addresses or a webhook URL (JSON POST, signed with HMAC-SHA256:
    see README "Alerts"). A webhook URL is write-only: it is shown as scheme://host/… only."""

    address = serializers.CharField(
        write_only=True, max_length=500,
        help_text="Email address(es), comma-separated, or the webhook URL; write-only (see shown_address)",
    )
    shown_address = serializers.CharField(read_only=True, help_text=SHOWN_ADDRESS_HELP)
    signing_secret = serializers.CharField(
        write_only=True, required=False, min_length=16, max_length=200, trim_whitespace=False,
        style={"input_type": "password"},
        help_text="The webhook's HMAC-SHA256 signing secret; write-only. Leave it out and one is generated "
                  "and returned once, as new_signing_secret",
    )
    new_signing_secret = serializers.SerializerMethodField(
        help_text="The signing secret this request generated, shown this once (null otherwise)"
    )

    class Meta:
        model = AlertTarget
        fields = ["id", "name", "kind", "address", "shown_address", "signing_secret", "new_signing_secret",
                  "enabled", "created_at"]

    def get_new_signing_secret(self, target) -> str | None:
        return getattr(target, "generated_signing_secret", None)


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "at", "ok", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class AlertDeliverySerializer(serializers.ModelSerializer):
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)
    shown_address = serializers.CharField(read_only=True, help_text=SHOWN_ADDRESS_HELP)

    class Meta:
        model = AlertDelivery
        fields = ["id", "target", "target_name", "kind", "shown_address", "state", "attempts", "delivered_at",
                  "attempt_log"]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    """An alert (host failed, recovered, flapping, host key changed) and how its deliveries went."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    deliveries = AlertDeliverySerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "host", "hostname", "event", "summary", "payload", "created_at", "deliveries"]
        read_only_fields = fields


class SweepSerializer(serializers.Serializer):
    """Check now: these hosts (all checked hosts when left out) with these checks (all scheduled ones)."""

    hosts = serializers.PrimaryKeyRelatedField(queryset=Host.objects.all(), many=True, required=False)
    checks = serializers.ListField(child=serializers.ChoiceField(choices=Check.choices), required=False,
                                   allow_empty=False)


class SweepAcceptedSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    url = serializers.CharField()
    state = serializers.CharField()


# --- fencing and recovery -----------------------------------------------------------------


class FenceDeviceSerializer(CleanModelSerializer):
    """How a host is powered off for sure before its VMs start elsewhere. Which fields an
    agent uses:

    - `ipmi`: ipmitool (lanplus) to the BMC at `address` (required), as `username` with
      `password` (write-only: no response contains it; `has_password` says whether one is set).
    - `lab`: the lab's power switch. `address` is the lab host's name (empty: the host's
      hostname) and `lab_root` the lab's state directory (empty: this installation's lab);
      `username` and `password` are not used.
    - `manual`: nothing is switched: a person confirms the host is off (a recovery with
      `confirmed_off`); no other field is used.

    Every agent has `timeout_seconds` (to power off and read the power state back) and `enabled`."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500,
                                     style={"input_type": "password"},
                                     help_text="ipmi: the BMC password; leave out to keep the stored one. "
                                               "lab, manual: not used")
    has_password = serializers.SerializerMethodField(help_text="ipmi: whether a password is stored")

    class Meta:
        model = FenceDevice
        fields = ["id", "host", "hostname", "agent", "address", "username", "password", "has_password", "lab_root",
                  "timeout_seconds", "enabled", "updated_at"]
        extra_kwargs = {
            "host": {"help_text": "The inventory host this device fences (one device per host)"},
            "agent": {"help_text": "How the host is fenced: the fields each agent uses are in the description above"},
            "address": {"help_text": "ipmi: the BMC's address (required). lab: the lab host's name (empty: the "
                                     "hostname). manual: not used"},
            "username": {"help_text": "ipmi: the BMC user. lab, manual: not used"},
            "lab_root": {"help_text": "lab: the lab's state directory (empty: this installation's lab). ipmi, "
                                      "manual: not used"},
        }

    def get_has_password(self, device) -> bool:
        return bool(device.password)


class FenceAttemptSerializer(serializers.ModelSerializer):
    """One fence attempt: who asked, the agent, its transcript and the power state read back."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = FenceAttempt
        fields = ["id", "host", "hostname", "agent", "outcome", "power_state", "automatic", "requested_by", "reason",
                  "output", "evidence", "job", "started_at", "finished_at"]
        read_only_fields = fields


class RecoverySerializer(serializers.ModelSerializer):
    """A recovery of a failed host: proposed, running, or how it ended (restarted VMs and
    where, the ones that could not be placed and why)."""

    hostname = serializers.CharField(source="host.hostname", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Recovery
        fields = ["id", "host", "hostname", "state", "automatic", "requested_by", "summary", "evidence", "result",
                  "job", "fence_attempt", "created_at", "finished_at"]
        read_only_fields = fields


class StartRecoverySerializer(serializers.Serializer):
    """Fence and restart: fence the host with its agent, then restart its HA VMs elsewhere.
    With confirmed_off, you confirm (under your name) that the host is powered off: that is the fence."""

    host = serializers.PrimaryKeyRelatedField(queryset=Host.objects.all())
    confirmed_off = serializers.BooleanField(default=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


@extend_schema_field({"type": "string", "pattern": SLUG_PATTERN, "example": "ams1"})
class SiteSlugField(SlugRelatedField):
    """A site named by its slug (as /api/inventory/sites/ lists them): the schema says so."""


class RecoveryPolicySerializer(CleanModelSerializer):
    """Auto-recovery per site: on, a failed hypervisor is fenced and its HA VMs restarted at
    once; off (the default), it is alerted on and recovery is proposed."""

    site = SiteSlugField(slug_field="slug", queryset=Site.objects.all(),
                         help_text="The site's slug, e.g. ams1 (see /api/inventory/sites/); one policy per site")

    class Meta:
        model = SiteRecoveryPolicy
        fields = ["id", "site", "auto_recover", "updated_at"]
