from django.urls import path

from . import imports

urlpatterns = [
    path("hosts/import/", imports.HostImportView.as_view(), name="host-import"),
    path("hosts/export/", imports.HostExportView.as_view(), name="host-export"),
]
