from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from health.views import MetricsView as HealthMetricsView

api_patterns = [
    path("", include("core.api.urls")),
    path("inventory/", include("inventory.api.urls")),
    path("hypervisors/", include("hypervisors.api.urls")),
    path("cloud/", include("cloud.api.urls")),
    path("health/", include("access.api.urls")),
    path("health/", include("health.api.urls")),
    path("migrations/", include("migrations_tool.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("inventory/", include("inventory.urls")),
    path("hypervisors/", include("hypervisors.urls")),
    path("cloud/", include("cloud.urls")),
    path("health/host-keys/", include("access.urls")),
    path("health/", include("health.urls")),
    path("migrations/", include("migrations_tool.urls")),
    path("metrics", HealthMetricsView.as_view(), name="metrics"),
    path("", include("dashboard.urls")),
    path("", include("core.urls")),
]

# JSON 404 under /api/ (an unmatched API URL is still an API answer), the HTML page elsewhere.
handler404 = "core.api.views.page_not_found"
