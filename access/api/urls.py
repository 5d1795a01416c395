from core.api.routers import BulkRouter

from . import views

# Mounted at /api/health/, where these have always been (basenames kept too).
router = BulkRouter()
router.register("host-keys", views.HostKeyViewSet, basename="health-host-key")
router.register("credentials", views.SSHCredentialViewSet, basename="health-credential")

urlpatterns = router.urls
