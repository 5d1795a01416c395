"""The host-key pages (under /health/host-keys/): viewers see them, only admins trust."""

from django.urls import reverse

from access.models import HostKey


def client_for(client, user):
    client.force_login(user)
    return client


def test_trusting_a_key_needs_an_admin_and_the_confirmation(client, viewer, operator, admin_user, pending_key):
    HostKey.objects.filter(pk=pending_key.pk).update(replaces="SHA256:old")
    url = reverse("access:host_key_trust", args=[pending_key.pk])
    assert reverse("access:host_keys") == "/health/host-keys/"
    for user in (viewer, operator):
        page = client_for(client, user).get(reverse("access:host_keys"))
        assert b"SHA256:abc" in page.content and b"HOST KEY CHANGED" in page.content
        assert b"Trust this key" not in page.content and b'id="known-key"' not in page.content
        assert client.post(url, {"fingerprint": "SHA256:abc", "confirm": "on"}).status_code == 403
    assert HostKey.objects.get(pk=pending_key.pk).trusted is False

    page = client_for(client, admin_user).get(reverse("access:host_keys"))
    assert b"Trust this key" in page.content and b'id="known-key"' in page.content
    client.post(url, {"fingerprint": "SHA256:abc"})  # box not ticked
    assert HostKey.objects.get(pk=pending_key.pk).trusted is False
    client.post(url, {"fingerprint": "SHA256:other", "confirm": "on"})  # the key changed since the page was shown
    assert HostKey.objects.get(pk=pending_key.pk).trusted is False
    client.post(url, {"fingerprint": "SHA256:abc", "confirm": "on"})
    trusted = HostKey.objects.get(pk=pending_key.pk)
    assert trusted.trusted and trusted.trusted_by == admin_user


def test_a_known_key_is_trusted_by_admins_only(client, operator, admin_user, host, keypair):
    url = reverse("access:host_key_add")
    assert client_for(client, operator).post(url, {"host": host.pk, "public_key": keypair[1]}).status_code == 403
    assert not HostKey.objects.exists()
    response = client_for(client, admin_user).post(url, {"host": host.pk, "public_key": "ssh-rsa garbage"})
    assert response.status_code == 400 and b"not a valid ssh-rsa public key" in response.content
    assert client.post(url, {"host": host.pk, "public_key": keypair[1]}).status_code == 302
    assert HostKey.objects.get().trusted_by == admin_user


def test_trusting_never_redirects_off_site(client, admin_user, host, pending_key):
    url = reverse("access:host_key_trust", args=[pending_key.pk])
    response = client_for(client, admin_user).post(url, {"fingerprint": "SHA256:abc", "confirm": "on",
                                                         "next": "https://evil.example/"})
    assert response.url == reverse("access:host_keys")
    own = reverse("health:host", args=[host.pk])
    response = client.post(url, {"fingerprint": "SHA256:abc", "confirm": "on", "next": own})
    assert response.url == own


def test_the_host_health_page_offers_trust_to_admins_only(client, operator, admin_user, host, pending_key):
    page = reverse("health:host", args=[host.pk])
    assert b"Trust this key" not in client_for(client, operator).get(page).content
    assert b"Trust this key" in client_for(client, admin_user).get(page).content


def test_admins_delete_keys(client, operator, admin_user, pending_key):
    url = reverse("access:hostkey_delete", args=[pending_key.pk])
    assert client_for(client, operator).post(url).status_code == 403
    assert client_for(client, admin_user).get(url).status_code == 200
    assert client.post(url).url == reverse("access:host_keys")
    assert not HostKey.objects.exists()
