from django.urls import include, path

from core.api.routers import BulkRouter

from . import views

router = BulkRouter()
router.register("hypervisors", views.HypervisorViewSet, basename="hypervisor")
router.register("vms", views.VirtualMachineViewSet, basename="vm")

urlpatterns = [
    path("", include("hypervisors.api.urls_whatif")),
    path("capacity/", views.CapacityView.as_view(), name="hypervisor-capacity"),
    *router.urls,
]
