from auditlog.middleware import AuditlogMiddleware
from django.contrib.auth.middleware import LoginRequiredMiddleware

from core.client_address import client_address, client_port


class ConsoleLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Login everywhere in the console. The API authenticates per request (token or
    session) and answers 401/403 itself, so it is left to DRF rather than redirected."""

    open_prefixes = ("/api/", "/static/")

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(self.open_prefixes):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class ChangeLogMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, recording the address the server can vouch for.

    auditlog's own takes the first X-Forwarded-For entry from anyone: a client would choose
    the address in the change log, and a value that is not an address breaks every audited
    write on PostgreSQL (an inet column)."""

    @staticmethod
    def _get_remote_addr(request):
        return client_address(request)

    @staticmethod
    def _get_remote_port(request):
        return client_port(request)


def _policy(directives):
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


# Scripts and stylesheets only from the console's own static files: no inline <script>, no
# on* handlers, no eval.
_SAME_ORIGIN_ONLY = {
    "default_src": "'self'", "script_src": "'self'", "style_src": "'self'", "img_src": "'self' data:",
    "font_src": "'self'", "connect_src": "'self'", "object_src": "'none'", "base_uri": "'self'",
    "form_action": "'self'", "frame_ancestors": "'none'",
}
# Style attributes stay allowed (bars and gauges get their width from the server in them;
# they cannot run code); <style> elements do not.
CONSOLE_POLICY = _policy({**_SAME_ORIGIN_ONLY, "style_src_attr": "'unsafe-inline'"})
# Swagger UI and ReDoc (vendored, served offline) write <style> elements at run time and
# ReDoc searches in a blob: worker; their scripts still come only from our static files.
API_DOCS_POLICY = _policy({**_SAME_ORIGIN_ONLY, "style_src": "'self' 'unsafe-inline'", "worker_src": "'self' blob:"})
API_DOCS_URL_NAMES = {"api-docs", "api-redoc"}


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy header on every response (the console's, or the API docs'
    pages' slightly wider one). Ours rather than django-csp: one fixed policy per page kind,
    no nonces (the console has no inline script), a dozen lines instead of a dependency."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        docs = match is not None and match.url_name in API_DOCS_URL_NAMES
        response.headers.setdefault("Content-Security-Policy", API_DOCS_POLICY if docs else CONSOLE_POLICY)
        return response
