from django.urls import path

from core.generic import model_urls

from . import views
from .models import HostKey

app_name = "access"

# Mounted at /health/host-keys/, where the pages have always been.
urlpatterns = [
    path("", views.HostKeyListView.as_view(), name="host_keys"),
    path("add/", views.KnownHostKeyView.as_view(), name="host_key_add"),
    path("<id:pk>/trust/", views.TrustHostKeyView.as_view(), name="host_key_trust"),
    *model_urls(HostKey, "", only=("delete",), list_url=views.HOST_KEYS_URL),
]
