"""The project's URLs plus one API view open to anonymous users, with the default
throttles: every real API view needs a login, so anonymous requests never reach the
throttles there (DRF refuses them with 401 first)."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from opsconsole.urls import handler404, urlpatterns  # noqa: F401  the same handlers


class OpenView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [*urlpatterns, path("api/open/", OpenView.as_view())]
