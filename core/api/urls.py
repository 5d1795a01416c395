from django.urls import path

from .routers import BulkRouter
from .views import ChangeLogViewSet, CurrentUserView, JobViewSet

router = BulkRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("changelog", ChangeLogViewSet, basename="changelog")

urlpatterns = [
    path("users/me/", CurrentUserView.as_view(), name="current-user"),
    *router.urls,
]
