"""Fixtures of the replacement (failed host -> spare) tests."""

import pytest

from inventory.models import NamingScheme, Role

from .spares import make_host


@pytest.fixture
def mail_role(db):
    scheme = NamingScheme.objects.create(name="Hitchhiker's guide", names=["marvin", "zaphod", "trillian"])
    return Role.objects.create(name="Mail server", slug="mail", naming_scheme=scheme)


@pytest.fixture
def failed(site, rack, mail_role):
    """A mail server health detection already marked failed."""
    return make_host("marvin", site, cores=8, memory_gib=64, disks=(2000,), status="failed", role=mail_role, rack=rack)


@pytest.fixture
def spare(site):
    """A spare that fits it."""
    return make_host("spare-01", site, cores=16, memory_gib=128, disks=(4000,))
