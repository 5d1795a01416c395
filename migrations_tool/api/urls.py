from django.urls import path

from core.api.routers import BulkRouter

from . import views

router = BulkRouter()
router.register("plans", views.PlanViewSet, basename="migration-plan")
router.register("workloads", views.PlannedWorkloadViewSet, basename="migration-workload")
router.register("waves", views.WaveViewSet, basename="migration-wave")
router.register("dependencies", views.DependencyViewSet, basename="migration-dependency")
router.register("runs", views.RunViewSet, basename="migration-run")

urlpatterns = [
    path("assess/", views.AssessView.as_view(), name="migration-assess"),
    *router.urls,
]
