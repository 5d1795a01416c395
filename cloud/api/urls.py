from django.urls import path

from core.api.routers import BulkRouter

from . import views

router = BulkRouter()
router.register("accounts", views.CloudAccountViewSet, basename="cloud-account")
router.register("instance-types", views.InstanceTypeViewSet, basename="instance-type")
router.register("onprem-cost-models", views.OnPremCostModelViewSet, basename="onprem-cost-model")
router.register("utilisation", views.UtilisationViewSet, basename="utilisation")
router.register("replications", views.DiskReplicationViewSet, basename="disk-replication")

urlpatterns = [
    path("prices/", views.PriceTableView.as_view(), name="cloud-prices"),
    path("sizing-policy/", views.SizingPolicyView.as_view(), name="cloud-sizing-policy"),
    path("recommendations/", views.RecommendationsView.as_view(), name="cloud-recommendations"),
    *router.urls,
]
