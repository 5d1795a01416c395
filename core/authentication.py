"""Who may log in: API tokens that expire, and the page a locked-out login gets.

Password guessing is stopped by django-axes (settings: AXES_*): after a few failed logins
for one user from one address, that pair is locked out for a cool-off period. Its
lockout answer is rendered here so it is the console's own login page with a sentence.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_max_age():
    return timedelta(days=settings.API_TOKEN_MAX_AGE_DAYS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token older than API_TOKEN_MAX_AGE_DAYS.
    Renewing it (`manage.py drf_create_token -r USER`) makes a new key with a new date."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token.created < timezone.now() - token_max_age():
            raise AuthenticationFailed(
                f"This API token expired: tokens are valid for {settings.API_TOKEN_MAX_AGE_DAYS} days. "
                "Ask an admin for a new one (manage.py drf_create_token -r <username>)."
            )
        return user, token


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the login page, saying why."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"form": AuthenticationForm(request), "locked_out": True, "cooloff_minutes": minutes,
               "next": request.POST.get("next", request.GET.get("next", ""))}
    return render(request, "registration/login.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
