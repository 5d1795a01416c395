from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

from . import views
from .forms import NamingSchemeForm, RackForm, RoleForm, SiteForm, TagForm
from .models import NamingScheme, Rack, Role, Site, Tag

app_name = "inventory"

ROLE_LIST = reverse_lazy("inventory:role_list")
SITE_LIST = reverse_lazy("inventory:site_list")


def admin_crud(prefix, name, model, form_class, list_url, create=True, delete=True):
    """add / edit / delete pages of an admin-managed object."""
    delete_url_name = f"inventory:{name}_delete"
    # Objects with their own page go there after a save; the others back to their list.
    success = {} if hasattr(model, "get_absolute_url") else {"success_url": list_url}
    patterns = [
        path(
            f"{prefix}/<id:pk>/edit/",
            views.AdminUpdateView.as_view(
                model=model, form_class=form_class, list_url=list_url, delete_url_name=delete_url_name, **success
            ),
            name=f"{name}_edit",
        )
    ]
    if create:
        patterns.append(
            path(
                f"{prefix}/add/",
                views.AdminCreateView.as_view(model=model, form_class=form_class, list_url=list_url, **success),
                name=f"{name}_add",
            )
        )
    if delete:
        patterns.append(
            path(
                f"{prefix}/<id:pk>/delete/",
                views.AdminDeleteView.as_view(model=model, success_url=list_url),
                name=f"{name}_delete",
            )
        )
    return patterns


urlpatterns = [
    path("import/", include("inventory.urls_import")),
    path("", include("inventory.urls_recovery")),
    path("", RedirectView.as_view(pattern_name="inventory:host_list"), name="index"),
    # hosts
    path("hosts/", views.HostListView.as_view(), name="host_list"),
    path("hosts/add/", views.HostFormView.as_view(), name="host_add"),
    path("hosts/name-hint/", views.HostNameHintView.as_view(), name="host_name_hint"),
    path("hosts/suggest-name/", views.HostSuggestNameView.as_view(), name="host_suggest_name"),
    path("hosts/<id:pk>/", views.HostDetailView.as_view(), name="host_detail"),
    path("hosts/<id:pk>/edit/", views.HostFormView.as_view(), name="host_edit"),
    path("hosts/<id:pk>/delete/", views.HostDeleteView.as_view(), name="host_delete"),
    path("hosts/<id:pk>/status/", views.HostStatusView.as_view(), name="host_status"),
    path("hosts/<id:pk>/journal/", views.JournalAddView.as_view(), name="host_journal"),
    # sites and racks
    path("sites/", views.SiteListView.as_view(), name="site_list"),
    path("sites/<id:pk>/", views.SiteDetailView.as_view(), name="site_detail"),
    *admin_crud("sites", "site", Site, SiteForm, SITE_LIST),
    path("racks/add/", views.RackCreateView.as_view(), name="rack_add"),
    path("racks/<id:pk>/", views.RackDetailView.as_view(), name="rack_detail"),
    path("racks/<id:pk>/delete/", views.RackDeleteView.as_view(), name="rack_delete"),
    *admin_crud("racks", "rack", Rack, RackForm, SITE_LIST, create=False, delete=False),
    # roles, naming schemes and tags are all listed on the roles page
    path("roles/", views.RoleListView.as_view(), name="role_list"),
    *admin_crud("roles", "role", Role, RoleForm, ROLE_LIST),
    *admin_crud("naming-schemes", "scheme", NamingScheme, NamingSchemeForm, ROLE_LIST),
    *admin_crud("tags", "tag", Tag, TagForm, ROLE_LIST),
]
