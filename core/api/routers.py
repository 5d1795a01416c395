from rest_framework.routers import SimpleRouter

_list_route, *_other_routes = SimpleRouter.routes


class BulkRouter(SimpleRouter):
    """A router whose list URL also takes PATCH, for viewsets that define
    `bulk_partial_update` (update many objects in one request). No API root view:
    every app has its own router, and one root per app would only collide."""

    routes = [
        _list_route._replace(mapping={**_list_route.mapping, "patch": "bulk_partial_update"}),
        *_other_routes,
    ]
