from django.contrib import admin

from .models import (
    AlertTarget,
    CheckSchedule,
    FenceAttempt,
    FenceDevice,
    HostHealth,
    HostKey,
    PortCheck,
    Recovery,
    SiteRecoveryPolicy,
    SSHCredential,
)


@admin.register(SSHCredential)
class SSHCredentialAdmin(admin.ModelAdmin):
    # The key fields are left out: the admin would render the decrypted key back.
    fields = ["name", "username", "port", "is_default", "roles", "hosts"]
    list_display = ["name", "username", "port", "is_default"]
    filter_horizontal = ["roles", "hosts"]

    def has_add_permission(self, request):
        return False  # a credential needs its key: add it in the console or the API


@admin.register(HostKey)
class HostKeyAdmin(admin.ModelAdmin):
    list_display = ["host", "key_type", "fingerprint", "trusted_at", "trusted_by"]
    readonly_fields = ["host", "key_type", "key", "fingerprint", "first_seen", "last_seen", "replaces", "trusted_by",
                       "trusted_at"]


admin.site.register(CheckSchedule, list_display=["check_type", "role", "host", "interval_seconds", "enabled"])
admin.site.register(PortCheck, list_display=["role", "port", "label"])
admin.site.register(AlertTarget, list_display=["name", "kind", "shown_address", "enabled"],
                    fields=["name", "kind", "enabled"])  # the URL and secret would be rendered back in clear
admin.site.register(HostHealth, list_display=["host", "state", "since", "consecutive_failures", "flapping"])


@admin.register(FenceDevice)
class FenceDeviceAdmin(admin.ModelAdmin):
    # The password is left out: the admin would render it back decrypted.
    fields = ["host", "agent", "address", "username", "lab_root", "timeout_seconds", "enabled"]
    list_display = ["host", "agent", "address", "enabled"]


admin.site.register(FenceAttempt, list_display=["host", "agent", "outcome", "power_state", "started_at"],
                    readonly_fields=[f.name for f in FenceAttempt._meta.fields])
admin.site.register(Recovery, list_display=["host", "state", "automatic", "created_at"])
admin.site.register(SiteRecoveryPolicy, list_display=["site", "auto_recover"])
