from django.urls import path

from . import views

app_name = "health"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("failing/", views.FailingNowView.as_view(), name="failing_now"),
    path("check/", views.CheckNowView.as_view(), name="check_all"),
    path("hosts/<id:pk>/", views.HostHealthView.as_view(), name="host"),
    path("hosts/<id:pk>/panel/", views.HostHealthPanelView.as_view(), name="host_panel"),
    path("hosts/<id:pk>/check/", views.CheckNowView.as_view(), name="host_check"),
    path("hosts/<id:pk>/fence-device/", views.FenceDeviceEditView.as_view(), name="fence_device"),
    path("hosts/<id:pk>/recover/", views.StartRecoveryView.as_view(), name="recover"),
    path("recoveries/", views.RecoveryListView.as_view(), name="recoveries"),
    path("recoveries/<id:pk>/", views.RecoveryDetailView.as_view(), name="recovery"),
    path("recoveries/<id:pk>/progress/", views.RecoveryProgressView.as_view(), name="recovery_progress"),
    path("recoveries/<id:pk>/dismiss/", views.DismissRecoveryView.as_view(), name="recovery_dismiss"),
    path("settings/recovery/<id:site_pk>/", views.RecoveryPolicyView.as_view(), name="recovery_policy"),
    path("host-keys/", views.HostKeyListView.as_view(), name="host_keys"),
    path("host-keys/add/", views.KnownHostKeyView.as_view(), name="host_key_add"),
    path("host-keys/<id:pk>/trust/", views.TrustHostKeyView.as_view(), name="host_key_trust"),
    path("host-keys/<id:pk>/delete/", views.HostKeyDeleteView.as_view(), name="host_key_delete"),
    path("alerts/", views.AlertListView.as_view(), name="alerts"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("settings/schedules/add/", views.ScheduleCreateView.as_view(), name="schedule_add"),
    path("settings/schedules/<id:pk>/", views.ScheduleUpdateView.as_view(), name="schedule_edit"),
    path("settings/schedules/<id:pk>/delete/", views.ScheduleDeleteView.as_view(), name="schedule_delete"),
    path("settings/ports/add/", views.PortCheckCreateView.as_view(), name="port_check_add"),
    path("settings/ports/<id:pk>/", views.PortCheckUpdateView.as_view(), name="port_check_edit"),
    path("settings/ports/<id:pk>/delete/", views.PortCheckDeleteView.as_view(), name="port_check_delete"),
    path("settings/credentials/add/", views.CredentialCreateView.as_view(), name="credential_add"),
    path("settings/credentials/<id:pk>/", views.CredentialUpdateView.as_view(), name="credential_edit"),
    path("settings/credentials/<id:pk>/delete/", views.CredentialDeleteView.as_view(), name="credential_delete"),
    path("settings/alert-targets/add/", views.AlertTargetCreateView.as_view(), name="alert_target_add"),
    path("settings/alert-targets/<id:pk>/", views.AlertTargetUpdateView.as_view(), name="alert_target_edit"),
    path("settings/alert-targets/<id:pk>/delete/", views.AlertTargetDeleteView.as_view(), name="alert_target_delete"),
]
