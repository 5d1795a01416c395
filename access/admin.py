from django.contrib import admin

from .models import HostKey, SSHCredential


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
    # Read only: trusting goes through the console or the API (one rule, one place).
    list_display = ["host", "key_type", "fingerprint", "trusted_at", "trusted_by", "trusted_address"]
    readonly_fields = ["host", "key_type", "key", "fingerprint", "first_seen", "last_seen", "replaces", "trusted_by",
                       "trusted_at", "trusted_address"]
