from django.urls import include, path

urlpatterns = [
    path("", include("inventory.api.urls_import")),
]
