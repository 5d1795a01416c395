from rest_framework.routers import SimpleRouter

_list_route, *_other_routes = SimpleRouter.routes


class BulkRouter(SimpleRouter):
    """A router whose list URL also takes PATCH, for viewsets that define
    `bulk_partial_update` (update many objects in one request). No API root view:
    every app has its own router, and one root per app would only collide.

    Detail URLs name the object by id through the `id` path converter (core.converters),
    as the console's URLs do: an id beyond any id column is a 404 before the view runs."""

    routes = [
        _list_route._replace(mapping={**_list_route.mapping, "patch": "bulk_partial_update"}),
        *_other_routes,
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, use_regex_path=False, **kwargs)

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        lookup = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        return f"<{getattr(viewset, 'lookup_value_converter', 'id')}:{lookup_prefix}{lookup}>"
