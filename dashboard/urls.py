from django.urls import path

from . import views

# No namespace: "dashboard" is where a login lands (LOGIN_REDIRECT_URL) and every page links home.
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/jobs/", views.DashboardJobsView.as_view(), name="dashboard_jobs"),
]
