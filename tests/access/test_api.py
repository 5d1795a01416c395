"""The access API under /api/health/: host keys (viewers read, admins trust and delete)
and SSH credentials (admins; private keys write-only)."""

import subprocess

from access.models import HostKey, SSHCredential

API = "/api/health/"


def test_trusting_a_host_key_needs_an_admin_and_the_right_fingerprint(viewer_api, operator_api, admin_api,
                                                                       admin_user, host, pending_key):
    host.mgmt_address = "198.18.0.7"
    host.save()
    url = f"{API}host-keys/{pending_key.pk}/trust/"
    assert viewer_api.post(url, {"fingerprint": "SHA256:abc"}).status_code == 403
    assert operator_api.post(url, {"fingerprint": "SHA256:abc"}).status_code == 403
    assert admin_api.post(url, {}).status_code == 400
    wrong = admin_api.post(url, {"fingerprint": "SHA256:abd"})
    assert wrong.status_code == 400 and wrong.json()["fingerprint"] == [
        "The key's fingerprint is SHA256:abc, not SHA256:abd."]
    assert HostKey.objects.get(pk=pending_key.pk).trusted is False
    trusted = admin_api.post(url, {"fingerprint": "SHA256:abc"}).json()
    assert trusted["trusted"] is True and trusted["trusted_by"] == admin_user.username
    assert trusted["trusted_address"] == "198.18.0.7"
    assert viewer_api.get(f"{API}host-keys/", {"trusted": "true"}).json()["count"] == 1
    assert operator_api.delete(f"{API}host-keys/{pending_key.pk}/").status_code == 403
    assert admin_api.delete(f"{API}host-keys/{pending_key.pk}/").status_code == 204


def test_admins_trust_a_known_public_key(admin_api, operator_api, viewer_api, host, keypair):
    line = keypair[1]
    for refused in (viewer_api, operator_api):
        assert refused.post(f"{API}host-keys/", {"host": host.pk, "public_key": line}).status_code == 403
    assert not HostKey.objects.exists()  # a refused request leaves no row behind
    assert admin_api.post(f"{API}host-keys/", {"host": host.pk, "public_key": "ssh-ed25519 nonsense"}
                          ).status_code == 400
    created = admin_api.post(f"{API}host-keys/", {"host": host.pk, "public_key": line})
    assert created.status_code == 201, created.json()
    expected = subprocess.run(["ssh-keygen", "-lf", "-"], input=line, capture_output=True, text=True).stdout.split()[1]
    assert created.json()["fingerprint"] == expected and created.json()["trusted"] is True


def test_credentials_private_keys_are_write_only(admin_api, operator_api, viewer_api, keypair, app_role):
    secret, _ = keypair
    body = {"name": "fleet", "username": "ops", "private_key": secret, "roles": ["app"], "is_default": True}
    assert operator_api.post(f"{API}credentials/", body).status_code == 403
    created = admin_api.post(f"{API}credentials/", body)
    assert created.status_code == 201, created.json()
    for response in (created, viewer_api.get(f"{API}credentials/{created.json()['id']}/"),
                     viewer_api.get(f"{API}credentials/")):
        text = response.content.decode()
        assert "PRIVATE KEY" not in text and "private_key" not in text and "passphrase" not in text
    assert created.json()["key_type"] == "ssh-ed25519"
    assert SSHCredential.objects.get().private_key == secret.strip()
    # Editing without a key keeps the stored one.
    assert admin_api.patch(f"{API}credentials/{created.json()['id']}/", {"username": "root"}).status_code == 200
    assert SSHCredential.objects.get().private_key == secret.strip()


def test_credentials_refuse_bad_keys_and_double_assignments(admin_api, keypair, app_role):
    bad = admin_api.post(f"{API}credentials/", {"name": "bad", "private_key": "not a key"})
    assert bad.status_code == 400 and "private_key" in bad.json()
    assert admin_api.post(f"{API}credentials/", {"name": "no-key"}).status_code == 400
    first = {"name": "one", "private_key": keypair[0], "roles": ["app"], "is_default": True}
    assert admin_api.post(f"{API}credentials/", first).status_code == 201
    again = admin_api.post(f"{API}credentials/", {**first, "name": "two"})
    assert again.status_code == 400 and "is_default" in again.json()
    again = admin_api.post(f"{API}credentials/", {**first, "name": "two", "is_default": False})
    assert again.status_code == 400 and again.json()["roles"] == ["Role App server already uses credential one."]
