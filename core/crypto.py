"""Encryption at rest for secrets the product stores (SSH keys, BMC and cloud credentials).

One Fernet-based model field: values are encrypted with the first key of
settings.FIELD_ENCRYPTION_KEYS and decrypted with any of them, so keys can be
rotated by prepending a new one and re-saving. The API never serialises these fields.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys):
    try:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def fernet():
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS "
            "(was the key changed without keeping the old one?)"
        ) from exc


class EncryptedTextField(models.TextField):
    """A text field stored encrypted. Empty values stay empty (nothing to hide)."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
