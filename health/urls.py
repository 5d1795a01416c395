from django.urls import path

from . import views

app_name = "health"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("failing/", views.FailingNowView.as_view(), name="failing_now"),
    path("check/", views.CheckNowView.as_view(), name="check_all"),
    path("hosts/<int:pk>/", views.HostHealthView.as_view(), name="host"),
    path("hosts/<int:pk>/panel/", views.HostHealthPanelView.as_view(), name="host_panel"),
    path("hosts/<int:pk>/check/", views.CheckNowView.as_view(), name="host_check"),
    path("hosts/<int:pk>/fence-device/", views.FenceDeviceEditView.as_view(), name="fence_device"),
    path("hosts/<int:pk>/recover/", views.StartRecoveryView.as_view(), name="recover"),
    path("recoveries/", views.RecoveryListView.as_view(), name="recoveries"),
    path("recoveries/<int:pk>/", views.RecoveryDetailView.as_view(), name="recovery"),
    path("recoveries/<int:pk>/progress/", views.RecoveryProgressView.as_view(), name="recovery_progress"),
    path("recoveries/<int:pk>/dismiss/", views.DismissRecoveryView.as_view(), name="recovery_dismiss"),
    path("settings/recovery/<int:site_pk>/", views.RecoveryPolicyView.as_view(), name="recovery_policy"),
    path("alerts/", views.AlertListView.as_view(), name="alerts"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("settings/schedules/add/", views.ScheduleCreateView.as_view(), name="schedule_add"),
    path("settings/schedules/<int:pk>/", views.ScheduleUpdateView.as_view(), name="schedule_edit"),
    path("settings/schedules/<int:pk>/delete/", views.ScheduleDeleteView.as_view(), name="schedule_delete"),
    path("settings/ports/add/", views.PortCheckCreateView.as_view(), name="port_check_add"),
    path("settings/ports/<int:pk>/", views.PortCheckUpdateView.as_view(), name="port_check_edit"),
    path("settings/ports/<int:pk>/delete/", views.PortCheckDeleteView.as_view(), name="port_check_delete"),
    path("settings/credentials/add/", views.CredentialCreateView.as_view(), name="credential_add"),
    path("settings/credentials/<int:pk>/", views.CredentialUpdateView.as_view(), name="credential_edit"),
    path("settings/credentials/<int:pk>/delete/", views.CredentialDeleteView.as_view(), name="credential_delete"),
    path("settings/alert-targets/add/", views.AlertTargetCreateView.as_view(), name="alert_target_add"),
    path("settings/alert-targets/<int:pk>/", views.AlertTargetUpdateView.as_view(), name="alert_target_edit"),
    path("settings/alert-targets/<int:pk>/delete/", views.AlertTargetDeleteView.as_view(), name="alert_target_delete"),
]
