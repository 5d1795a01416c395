"""Shared set-up for benchmarks that need Django: their own var directory and database
(never the demo's), migrated fresh.

DATABASE_URL, when set, must name a database the benchmark may wipe; by default each
benchmark gets a SQLite file under var/bench/.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(name):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OPSCONSOLE_VAR_DIR", str(ROOT / "var" / "bench"))
    var_dir = Path(os.environ["OPSCONSOLE_VAR_DIR"])
    var_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        database = var_dir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsconsole.settings")
    import django
    from django.core.management import call_command

    django.setup()
    if "sqlite" not in os.environ["DATABASE_URL"]:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    return var_dir


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
