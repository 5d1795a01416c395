from django.urls import path

from access.forms import SSHCredentialForm
from access.models import SSHCredential
from core.generic import model_urls

from . import views
from .forms import AlertTargetForm, CheckScheduleForm, PortCheckForm
from .models import AlertTarget, CheckSchedule, PortCheck

# Schedules, ports, credentials and alert targets are listed on the settings page.
SETTINGS = {"list_url": views.SETTINGS_URL}

app_name = "health"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("failing/", views.FailingNowView.as_view(), name="failing_now"),
    path("check/", views.CheckNowView.as_view(), name="check_all"),
    path("hosts/<id:pk>/", views.HostHealthView.as_view(), name="host"),
    path("hosts/<id:pk>/panel/", views.HostHealthPanelView.as_view(), name="host_panel"),
    path("hosts/<id:pk>/check/", views.CheckNowView.as_view(), name="host_check"),
    path("hosts/<id:pk>/fence-device/", views.FenceDeviceEditView.as_view(), name="fencedevice_edit"),
    path("hosts/<id:pk>/recover/", views.StartRecoveryView.as_view(), name="recover"),
    path("recoveries/", views.RecoveryListView.as_view(), name="recoveries"),
    path("recoveries/<id:pk>/", views.RecoveryDetailView.as_view(), name="recovery_detail"),
    path("recoveries/<id:pk>/progress/", views.RecoveryProgressView.as_view(), name="recovery_progress"),
    path("recoveries/<id:pk>/dismiss/", views.DismissRecoveryView.as_view(), name="recovery_dismiss"),
    path("settings/recovery/<id:site_pk>/", views.RecoveryPolicyView.as_view(), name="recovery_policy"),
    path("alerts/", views.AlertListView.as_view(), name="alerts"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    *model_urls(CheckSchedule, "settings/schedules", CheckScheduleForm, **SETTINGS),
    *model_urls(PortCheck, "settings/ports", PortCheckForm, **SETTINGS),
    *model_urls(SSHCredential, "settings/credentials", SSHCredentialForm, **SETTINGS),
    *model_urls(AlertTarget, "settings/alert-targets", AlertTargetForm, **SETTINGS),
]
