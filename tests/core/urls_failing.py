"""The project's URLs plus one view that fails: what a user sees when a bug strikes."""

from django.urls import path

from opsconsole.urls import handler404, urlpatterns  # noqa: F401  the same handlers


def failing_view(request):
    raise RuntimeError("a bug")


urlpatterns = [*urlpatterns, path("failing/", failing_view)]
