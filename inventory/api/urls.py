from django.urls import include, path

from core.api.routers import BulkRouter

from . import views, views_recovery

router = BulkRouter()
router.register("hosts", views.HostViewSet, basename="host")
router.register("sites", views.SiteViewSet, basename="site")
router.register("racks", views.RackViewSet, basename="rack")
router.register("roles", views.RoleViewSet, basename="role")
router.register("naming-schemes", views.NamingSchemeViewSet, basename="naming-scheme")
router.register("tags", views.TagViewSet, basename="tag")
router.register("interfaces", views.InterfaceViewSet, basename="interface")
router.register("journal", views.JournalEntryViewSet, basename="journal-entry")
router.register("replacements", views_recovery.ReplacementViewSet, basename="replacement")

urlpatterns = [
    path("ansible/", views.AnsibleInventoryView.as_view(), name="ansible-inventory"),
    # Before the router: hosts/import/ and hosts/export/ would otherwise match hosts/<pk>/.
    path("", include("inventory.api.urls_import")),
    *router.urls,
]
