from django.urls import include, path

from . import views

app_name = "hypervisors"

urlpatterns = [
    path("", include("hypervisors.urls_whatif")),  # what if it died now? (read only)
    # hypervisors
    path("", views.HypervisorListView.as_view(), name="hypervisor_list"),
    path("sync/", views.SyncView.as_view(), name="sync_all"),
    path("<id:pk>/", views.HypervisorDetailView.as_view(), name="hypervisor_detail"),
    path("<id:pk>/sync/", views.SyncView.as_view(), name="hypervisor_sync"),
    path("<id:pk>/maintenance/", views.MaintenanceCardView.as_view(), name="hypervisor_maintenance"),
    path("<id:pk>/maintenance/plan/", views.EvacuationPlanView.as_view(), name="evacuation_plan"),
    path("<id:pk>/maintenance/leave/", views.LeaveMaintenanceView.as_view(), name="leave_maintenance"),
    # VMs
    path("vms/", views.VMListView.as_view(), name="vm_list"),
    path("vms/add/", views.VMCreateView.as_view(), name="vm_create"),
    path("vms/suggest-name/", views.VMSuggestNameView.as_view(), name="vm_suggest_name"),
    path("vms/<id:pk>/", views.VMDetailView.as_view(), name="vm_detail"),
    path("vms/<id:pk>/power/", views.VMPowerView.as_view(), name="vm_power"),
    path("vms/<id:pk>/migrate/", views.VMMigrateView.as_view(), name="vm_migrate"),
    path("vms/<id:pk>/resize/", views.VMResizeView.as_view(), name="vm_resize"),
    path("vms/<id:pk>/delete/", views.VMDeleteView.as_view(), name="vm_delete"),
    path("vms/<id:pk>/forget/", views.VMForgetView.as_view(), name="vm_forget"),
]
