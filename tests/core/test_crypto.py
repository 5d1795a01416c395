"""Host.bmc_password (core.crypto.EncryptedTextField) is encrypted at rest and survives key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from inventory.models import Host

SECRET = "calvin-Th3-default"


def raw_column(host):
    with connection.cursor() as cursor:
        cursor.execute("SELECT bmc_password FROM inventory_host WHERE id = %s", [host.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def key_a():
    return Fernet.generate_key().decode()


@pytest.fixture
def key_b():
    return Fernet.generate_key().decode()


def test_secret_is_stored_as_ciphertext_and_read_back_as_plaintext(host):
    host.bmc_password = SECRET
    host.save()
    stored = raw_column(host)
    assert SECRET not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert Host.objects.get(pk=host.pk).bmc_password == SECRET


def test_each_save_uses_a_fresh_token(host):
    host.bmc_password = SECRET
    host.save()
    first = raw_column(host)
    host.save()
    assert raw_column(host) != first


def test_empty_secret_stays_empty(host):
    assert raw_column(host) == ""
    assert Host.objects.get(pk=host.pk).bmc_password == ""


def test_key_rotation_new_key_first_old_key_still_decrypts(host, settings, key_a, key_b):
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    host.bmc_password = SECRET
    host.save()
    under_a = raw_column(host)
    assert Fernet(key_a).decrypt(under_a.encode()).decode() == SECRET

    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    rotated = Host.objects.get(pk=host.pk)
    assert rotated.bmc_password == SECRET  # the old key still reads
    rotated.save()  # re-saving re-encrypts with the new first key
    assert Fernet(key_b).decrypt(raw_column(host).encode()).decode() == SECRET

    settings.FIELD_ENCRYPTION_KEYS = [key_b]  # the old key retired
    assert Host.objects.get(pk=host.pk).bmc_password == SECRET


def test_wrong_key_is_a_clear_configuration_error(host, settings, key_a, key_b):
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    host.bmc_password = SECRET
    host.save()
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Host.objects.get(pk=host.pk)


def test_malformed_key_is_a_clear_configuration_error(host, settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    host.bmc_password = SECRET
    with pytest.raises(ImproperlyConfigured, match="invalid Fernet key"):
        host.save()
