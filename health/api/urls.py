from django.urls import path

from core.api.routers import BulkRouter

from . import views

router = BulkRouter()
router.register("results", views.CheckResultViewSet, basename="health-result")
router.register("hosts", views.HostHealthViewSet, basename="health-host")
router.register("schedules", views.CheckScheduleViewSet, basename="health-schedule")
router.register("port-checks", views.PortCheckViewSet, basename="health-port-check")
router.register("alert-targets", views.AlertTargetViewSet, basename="health-alert-target")
router.register("alerts", views.AlertViewSet, basename="health-alert")
router.register("fence-devices", views.FenceDeviceViewSet, basename="health-fence-device")
router.register("fence-attempts", views.FenceAttemptViewSet, basename="health-fence-attempt")
router.register("recoveries", views.RecoveryViewSet, basename="health-recovery")
router.register("recovery-policies", views.RecoveryPolicyViewSet, basename="health-recovery-policy")

urlpatterns = [
    path("sweeps/", views.SweepView.as_view(), name="health-sweep"),
    *router.urls,
]
