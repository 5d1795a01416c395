"""The embedded defaults really work: with no DATABASE_URL and no CELERY_BROKER_URL, a real
worker on kombu's SQLAlchemy-on-SQLite broker runs a Job stored in the SQLite database."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent

ENQUEUE_PURGE = """
from core.jobs import create_job, enqueue
from core.tasks import purge_history_job
job = create_job("core.purge_history", "Purge (embedded broker test)")
enqueue(job, purge_history_job)
print(job.pk)
"""


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_QUEUE"}}
    env.pop("OPSCONSOLE_ENV", None)
    env["OPSCONSOLE_VAR_DIR"] = str(tmp_path)
    return env


def manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def job_row(db_file, job_id):
    with sqlite3.connect(db_file, timeout=10) as db:
        return db.execute("SELECT state, progress, log, error FROM core_job WHERE id = ?", [job_id]).fetchone()


def start_worker(env, log_path):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsconsole", "worker", "-c", "1", "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=BASE_DIR, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )


@pytest.mark.worker
def test_worker_on_embedded_broker_runs_a_job(embedded_env, tmp_path):
    manage(embedded_env, "migrate", "--noinput", "-v0")
    # Sent before any worker runs: the message waits in the broker's SQLite file.
    job_id = int(manage(embedded_env, "shell", "-c", ENQUEUE_PURGE).strip().splitlines()[-1])
    assert (tmp_path / "celery-broker.sqlite3").exists()
    db_file = tmp_path / "opsconsole.sqlite3"
    assert job_row(db_file, job_id)[0] == "pending"

    log_path = tmp_path / "worker.log"
    worker = start_worker(embedded_env, log_path)
    try:
        deadline = time.monotonic() + 120
        state = "pending"
        while state in {"pending", "running"} and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
            state = job_row(db_file, job_id)[0]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    state, progress, log, error = job_row(db_file, job_id)
    assert state == "succeeded", f"job {state}: {error}\n--- worker log ---\n{log_path.read_text()[-3000:]}"
    assert progress == 100
    assert "Removed 0 change-log entries and 0 finished jobs" in log
    assert "sqla+sqlite" in log_path.read_text()  # the worker said which broker it used
