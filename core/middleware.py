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
