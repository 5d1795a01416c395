# The browser fixtures (`browser`, `page`) live in tests/fixtures/browser.py, loaded for the
# whole suite by tests/conftest.py: a second Playwright in one process would fail to start.
from tests.fixtures.browser import log_in  # noqa: F401  a helper, not a fixture
