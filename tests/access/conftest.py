"""Access test fixtures: a real ed25519 key pair made by ssh-keygen (private key text,
public key line) and a host key row of it, pending trust."""

import subprocess

import pytest

from access.models import HostKey


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text(), (path.parent / "id_ed25519.pub").read_text()


@pytest.fixture
def pending_key(host, keypair):
    key_type, key_base64 = keypair[1].split()[:2]
    return HostKey.objects.create(host=host, key_type=key_type, key=key_base64, fingerprint="SHA256:abc")
