from django.urls import path

from . import views

app_name = "access"

# Mounted at /health/host-keys/, where the pages have always been.
urlpatterns = [
    path("", views.HostKeyListView.as_view(), name="host_keys"),
    path("add/", views.KnownHostKeyView.as_view(), name="host_key_add"),
    path("<int:pk>/trust/", views.TrustHostKeyView.as_view(), name="host_key_trust"),
    path("<int:pk>/delete/", views.HostKeyDeleteView.as_view(), name="host_key_delete"),
]
