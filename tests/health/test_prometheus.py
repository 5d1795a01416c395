"""/metrics: Prometheus text format, and who may scrape it."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from health.models import CheckStatus, HostHealth

OUTSIDE = "203.0.113.9"  # TEST-NET-3: never on any allow-list here
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


@pytest.fixture
def checked(host):
    now = timezone.now()
    HostHealth.objects.create(host=host, state="healthy", since=now, last_check_at=now, consecutive_successes=3)
    CheckStatus.objects.create(
        host=host, check_type="metrics", ok=True, alive=True, checked_at=now, since=now, duration_ms=120,
        value={"load1": 0.5, "load5": 0.25, "load15": 0.1, "mem_used_pct": 41.5, "uptime_s": 3600,
               "disks": {"/": 61, '/srv/we"ird': 7}, "failed_units": None},
    )
    CheckStatus.objects.create(host=host, check_type="ssh", ok=False, alive=True, checked_at=now, since=now,
                               message="HOST KEY CHANGED")
    return host


def scrape(remote_addr="127.0.0.1", **headers):
    return Client(REMOTE_ADDR=remote_addr).get("/metrics", **headers)


def test_the_exposition_format(checked):
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    lines = text.strip().splitlines()
    seen_families = []
    for line in lines:
        if line.startswith("# TYPE"):
            name = line.split()[2]
            assert name not in seen_families, f"{name} declared twice"
            seen_families.append(name)
            assert line.endswith(" gauge")
        elif not line.startswith("# HELP"):
            assert SAMPLE.match(line), line
    assert 'opsconsole_host_up{host="luna",site="ams1",role="app"} 1' in lines
    assert 'opsconsole_host_health_state{host="luna",site="ams1",role="app",state="healthy"} 1' in lines
    assert 'opsconsole_host_health_state{host="luna",site="ams1",role="app",state="failed"} 0' in lines
    assert 'opsconsole_host_load{host="luna",period="1m"} 0.5' in lines
    assert 'opsconsole_host_memory_used_percent{host="luna"} 41.5' in lines
    assert 'opsconsole_host_disk_used_percent{host="luna",mount="/"} 61' in lines
    assert 'opsconsole_host_disk_used_percent{host="luna",mount="/srv/we\\"ird"} 7' in lines
    assert 'opsconsole_check_ok{host="luna",check="ssh"} 0' in lines
    assert any(line.startswith('opsconsole_host_last_check_timestamp_seconds{host="luna"') for line in lines)
    assert not any("failed_systemd_units" in line for line in lines)  # no systemd: nothing to report


def test_anonymous_scrape_from_outside_the_allow_list_is_refused(checked):
    response = scrape(OUTSIDE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"opsconsole_host_up" not in response.content


def test_the_token_opens_it_from_anywhere_and_a_wrong_one_does_not(checked, settings):
    settings.HEALTH_METRICS_TOKEN = "s3cret-scrape-token"
    assert scrape(OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    assert scrape(OUTSIDE, HTTP_AUTHORIZATION="Bearer guess").status_code == 403
    assert scrape(OUTSIDE, HTTP_AUTHORIZATION="Token s3cret-scrape-token").status_code == 403


def test_the_allow_list_takes_networks(checked, settings):
    settings.HEALTH_METRICS_ALLOWED_IPS = "192.0.2.0/24"
    assert scrape("192.0.2.77").status_code == 200
    assert scrape("127.0.0.1").status_code == 401


def test_an_empty_token_setting_never_matches(checked, settings):
    settings.HEALTH_METRICS_TOKEN = ""
    settings.HEALTH_METRICS_ALLOWED_IPS = ""
    assert scrape("127.0.0.1", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_cost_a_fixed_number_of_queries(checked, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert scrape().status_code == 200


def test_a_host_never_checked_is_not_reported_down(checked, site):
    from inventory.models import Host

    fresh = Host.objects.create(hostname="ganymede", site=site, status="active")
    HostHealth.objects.create(host=fresh, state="unknown", since=timezone.now())
    lines = scrape().content.decode().splitlines()
    assert not any(line.startswith('opsconsole_host_up{host="ganymede"') for line in lines)
    assert any(line.startswith('opsconsole_host_health_state{host="ganymede"') and 'state="unknown"} 1' in line
               for line in lines)



FORWARDED = [{"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, {"HTTP_X_REAL_IP": "203.0.113.9"},
             {"HTTP_FORWARDED": "for=203.0.113.9;proto=https"}, {"HTTP_X_FORWARDED_PROTO": "https"},
             {"HTTP_X_FORWARDED_HOST": "ops.example.com"}, {"HTTP_VIA": "1.1 proxy"}]


@pytest.mark.parametrize("headers", FORWARDED)
def test_a_forwarded_request_from_loopback_needs_the_token(checked, settings, headers):
    """Behind the local TLS proxy every client is loopback: the allow-list must not open it."""
    settings.HEALTH_METRICS_TOKEN = "s3cret-scrape-token"
    response = scrape("127.0.0.1", **headers)
    assert response.status_code == 401
    assert b"opsconsole_host_up" not in response.content
    assert scrape("127.0.0.1", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **headers).status_code == 200


def test_production_settings_require_the_token_even_from_loopback(checked, settings):
    settings.PRODUCTION = True
    assert scrape("127.0.0.1").status_code == 401
    settings.HEALTH_METRICS_TOKEN = "s3cret-scrape-token"
    assert scrape("127.0.0.1").status_code == 401
    assert scrape("127.0.0.1", HTTP_AUTHORIZATION="Bearer guess").status_code == 403
    assert scrape(OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
