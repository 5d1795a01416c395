"""Webhook URLs are secrets (they often carry a token) and deliveries are signed.

A URL is stored encrypted and shown only as scheme://host/… . Each delivery carries

    X-Opsconsole-Timestamp: <Unix time in seconds>
    X-Opsconsole-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

with the target's signing secret, so a receiver can check that the console sent it and
refuse a replay (an old timestamp). See "Alerts" in README.md.
"""

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

TIMESTAMP_HEADER = "X-Opsconsole-Timestamp"
SIGNATURE_HEADER = "X-Opsconsole-Signature"
SIGNATURE_PREFIX = "sha256="


def new_signing_secret():
    return secrets.token_urlsafe(32)


def signature(secret, timestamp, body: bytes):
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def signed_headers(secret, timestamp, body: bytes):
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def mask_url(url):
    """scheme://host[:port]/… : where it goes, without the path or query that hold a token."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "(a webhook URL)"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}/…"


def mask_address(value):
    """An alert target's address as it may be shown or logged: email addresses as they
    are, a webhook URL masked. (The change log's mask for this field.)"""
    value = value or ""
    if value.lower().startswith(("http://", "https://")):
        return mask_url(value)
    return value


def scrub(text, url):
    """`text` (an error message) without the URL or its path and query, which
    requests puts in its messages ("Max retries exceeded with url: /hook/TOKEN")."""
    if not text or not url:
        return text
    text = text.replace(url, mask_url(url))
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    request_target = parts.path + (f"?{parts.query}" if parts.query else "")
    if request_target not in ("", "/"):
        text = text.replace(request_target, "/…")
    return text
