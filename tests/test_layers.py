"""The import rules of docs/architecture.md that a reading of the source can check: core
depends on no app, services never import tasks or views, drivers import no layer above
them, and no app reaches into one it must not depend on."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["core", "access", "inventory", "hypervisors", "health", "cloud", "migrations_tool", "dashboard"]
# app -> the project apps it may import (besides itself)
ALLOWED = {
    "core": set(),
    "access": {"core", "inventory"},
    "inventory": {"core"},
    "cloud": {"core", "inventory", "hypervisors"},
    "hypervisors": {"core", "inventory", "access"},
    "health": {"core", "inventory", "access", "hypervisors"},
    "migrations_tool": {"core", "inventory", "access", "hypervisors", "health", "cloud"},
    "dashboard": {"core", "inventory", "access", "hypervisors", "health", "cloud", "migrations_tool"},
}


def imported_modules(path):
    """Every module `path` imports, relative imports resolved against its package."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def source_files(app, below=""):
    folder = ROOT / app / below
    return [p for p in folder.rglob("*.py") if "migrations" not in p.parts] if folder.exists() else []


def offending(files, refuse):
    return sorted({f"{path.relative_to(ROOT)} imports {module}" for path in files
                   for module in imported_modules(path) if refuse(module)})


@pytest.mark.parametrize("app", [app for app in APPS if (ROOT / app).exists()])
def test_an_app_imports_only_the_apps_below_it(app):
    others = set(APPS) - ALLOWED[app] - {app}
    assert offending(source_files(app), lambda module: module.split(".")[0] in others) == []


@pytest.mark.parametrize("app", [app for app in APPS if (ROOT / app).exists()])
def test_services_and_drivers_never_import_tasks_views_or_the_api(app):
    layers = [*source_files(app, "services"), *source_files(app, "drivers"),
              *[p for p in (ROOT / app).glob("services.py")]]
    above = (".tasks", ".views", ".api", ".forms")
    assert offending(layers, lambda module: any(f"{module}.".find(f"{layer}.") >= 0 for layer in above)
                     and module.split(".")[0] in APPS) == []


def test_the_rules_see_imports():
    """The reader finds absolute and relative imports (else the tests above would pass on nothing)."""
    modules = set(imported_modules(ROOT / "hypervisors" / "services" / "operations.py"))
    assert {"core.actions.action", "hypervisors.services.preflight", "hypervisors.models.VirtualMachine"} <= modules
