from django.contrib import admin

from .models import (
    AlertTarget,
    CheckSchedule,
    FenceAttempt,
    FenceDevice,
    HostHealth,
    PortCheck,
    Recovery,
    SiteRecoveryPolicy,
)

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
