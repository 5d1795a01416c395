"""Django admin for the cloud settings an admin may want to fix by hand. Cloud accounts
are left to the console and the API, which never show their secret."""

from django.contrib import admin

from .models import InstanceType, OnPremCostModel, SizingPolicy, UtilisationRecord


@admin.register(OnPremCostModel)
class OnPremCostModelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "role", "hardware_amortisation", "power", "rack", "licences"]
    list_filter = ["kind"]


@admin.register(SizingPolicy)
class SizingPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "cpu_headroom", "memory_headroom", "allow_previous_generation", "allow_burstable"]


@admin.register(UtilisationRecord)
class UtilisationRecordAdmin(admin.ModelAdmin):
    list_display = ["__str__", "p95_cpu_percent", "p95_memory_percent", "max_cpu_percent", "days", "source",
                    "measured_at"]
    list_filter = ["source"]
    raw_id_fields = ["host", "vm"]


@admin.register(InstanceType)
class InstanceTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "family", "generation", "vcpus", "memory_mib", "burstable", "bare_metal"]
    list_filter = ["region", "generation", "burstable", "bare_metal"]
    search_fields = ["name"]
