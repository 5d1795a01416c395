"""Content-Security-Policy: on every response, scripts only from our own static files, and
no page of the console carrying an inline script or on* handler the policy would block."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from core.middleware import API_DOCS_POLICY, CONSOLE_POLICY

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates",
                 *sorted(Path(settings.BASE_DIR).glob("*/templates"))]


def directives(policy):
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


class InlineCode(HTMLParser):
    """Collects what a strict script-src blocks: inline scripts (data blocks such as
    json_script's are not scripts), on* handler attributes and javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") not in ("application/json",):
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...> at line {self.getpos()[0]}")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...> at line {self.getpos()[0]}")


def inline_code(html):
    parser = InlineCode()
    parser.feed(html)
    return parser.found


# In a template an on* attribute may sit inside {% if %}, where no HTML parser sees it.
HANDLER_IN_TEMPLATE = re.compile(r"(?:\s|%\})on[a-z]{3,}\s*=\s*[\"']")


def template_inline_code(text):
    return inline_code(text) + [f"on* handler: {m.group().strip()}" for m in HANDLER_IN_TEMPLATE.finditer(text)]


def test_the_console_policy_allows_only_our_own_scripts_and_styles():
    policy = directives(CONSOLE_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


def test_the_api_docs_policy_loosens_only_styles_and_workers():
    docs, console = directives(API_DOCS_POLICY), directives(CONSOLE_POLICY)
    assert docs["script-src"] == ["'self'"]
    assert {name for name in docs if docs[name] != console.get(name)} == {"style-src", "worker-src"}


def test_no_template_has_inline_script_or_handlers():
    offenders = {}
    for directory in TEMPLATE_DIRS:
        for template in directory.rglob("*.html"):
            found = template_inline_code(template.read_text())
            if found:
                offenders[str(template.relative_to(settings.BASE_DIR))] = found
    assert offenders == {}


def test_the_parser_finds_what_the_policy_blocks():
    """The template check above can fail: it sees each kind of inline code."""
    html = ('<script>alert(1)</script><select onchange="go()"></select><a href="javascript:go()">x</a>'
            '<script src="/static/ok.js"></script><script type="application/json">{}</script>')
    assert len(inline_code(html)) == 3
    assert template_inline_code('<button {% if x %}onclick="go()"{% endif %}>') != []


@pytest.fixture
def admin_client(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    return client


CONSOLE_PAGES = ["/", "/inventory/hosts/", "/inventory/hosts/add/", "/inventory/hosts/{host}/",
                 "/health/hosts/{host}/", "/health/hosts/{host}/panel/", "/changelog/", "/jobs/", "/admin/",
                 "/inventory/hosts/999999/"]


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_console_pages_carry_the_policy_and_no_inline_code(admin_client, host, url):
    response = admin_client.get(url.format(host=host.pk))
    assert response.status_code in (200, 404), response.status_code
    assert response["Content-Security-Policy"] == CONSOLE_POLICY
    assert inline_code(response.content.decode()) == []


def test_the_login_page_api_metrics_and_static_files_carry_it(db):
    client = Client()
    for url in ["/login/", "/api/inventory/hosts/", "/metrics", "/static/console.css"]:
        response = client.get(url)
        assert response["Content-Security-Policy"] == CONSOLE_POLICY, url


def test_swagger_ui_loads_its_start_up_script_as_a_file(admin_client):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == API_DOCS_POLICY
    html = page.content.decode()
    assert inline_code(html) == []
    script = admin_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_redoc_carries_the_docs_policy_and_no_outside_fonts(admin_client):
    page = admin_client.get("/api/redoc/")
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == API_DOCS_POLICY
    html = page.content.decode()
    assert inline_code(html) == []
    assert "fonts.googleapis.com" not in html
    assert "redoc.standalone.js" in html
