"""API rate limits: per address for anonymous requests, per user for authenticated ones.

The rates are read from API_THROTTLE_RATES (OPSCONSOLE_API_THROTTLE_ANON / _USER) at each
request rather than once at import as DRF's own classes do, so a changed setting applies.
Counts live in Django's cache: per web process with the default local-memory cache.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from core.client_address import client_address


class _RateFromSettings:
    def get_rate(self):
        return settings.API_THROTTLE_RATES[self.scope]

    def get_ident(self, request):
        # DRF's own reads X-Forwarded-For from anyone; a client could dodge its limit.
        return client_address(request) or "unknown"


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    pass


class UserThrottle(_RateFromSettings, UserRateThrottle):
    pass
