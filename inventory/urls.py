from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

from core.generic import model_urls

from . import views, views_repair
from .forms import NamingSchemeForm, RoleForm, SiteForm, TagForm
from .models import Host, NamingScheme, Rack, Role, Site, Tag

app_name = "inventory"

# Roles, naming schemes and tags are all listed on the roles page.
ROLE_LIST = reverse_lazy("inventory:role_list")

urlpatterns = [
    path("import/", include("inventory.urls_import")),
    path("", include("inventory.urls_recovery")),
    path("", RedirectView.as_view(pattern_name="inventory:host_list"), name="index"),
    # hosts
    path("hosts/name-hint/", views.HostNameHintView.as_view(), name="host_name_hint"),
    path("hosts/suggest-name/", views.HostSuggestNameView.as_view(), name="host_suggest_name"),
    *model_urls(Host, "hosts", views={"list": views.HostListView, "detail": views.HostDetailView,
                                      "add": views.HostEditView, "edit": views.HostEditView}),
    path("hosts/<id:pk>/status/", views.HostStatusView.as_view(), name="host_status"),
    path("hosts/<id:pk>/repaired/", views_repair.HostRepairedView.as_view(), name="host_repaired"),
    path("hosts/<id:pk>/journal/", views.JournalAddView.as_view(), name="host_journal"),
    # sites and racks
    *model_urls(Site, "sites", SiteForm, views={"list": views.SiteListView, "detail": views.SiteDetailView}),
    *model_urls(Rack, "racks", views={"add": views.RackEditView, "edit": views.RackEditView,
                                      "detail": views.RackDetailView, "delete": views.RackDeleteView}),
    *model_urls(Role, "roles", RoleForm, views={"list": views.RoleListView}),
    *model_urls(NamingScheme, "naming-schemes", NamingSchemeForm, list_url=ROLE_LIST),
    *model_urls(Tag, "tags", TagForm, list_url=ROLE_LIST),
]
