from django.urls import include, path

app_name = "inventory"

urlpatterns = [
    path("import/", include("inventory.urls_import")),
]
