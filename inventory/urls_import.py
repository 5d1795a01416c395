# Included under /inventory/import/ in the "inventory" namespace.
from django.urls import path

from . import views_import

urlpatterns = [
    path("", views_import.HostImportView.as_view(), name="host_import"),
    path("template/", views_import.HostImportTemplateView.as_view(), name="host_import_template"),
    path("export/", views_import.HostExportView.as_view(), name="host_export"),
]
