from django.contrib.auth.middleware import LoginRequiredMiddleware


class ConsoleLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Login everywhere in the console. The API authenticates per request (token or
    session) and answers 401/403 itself, so it is left to DRF rather than redirected."""

    open_prefixes = ("/api/", "/static/")

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(self.open_prefixes):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
