# The lab fixtures (`lab`, `lab_hypervisors`) live in tests/fixtures/lab.py, loaded for the
# whole suite by tests/conftest.py: one lab per test process, whichever app's tests use it.
from tests.fixtures.lab import LAB_NAMES, on_host, start_guest, where_is  # noqa: F401  helpers, not fixtures
