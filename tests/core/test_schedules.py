from django_celery_beat.models import PeriodicTask

from core.schedules import DEFAULT_SCHEDULES, ensure_default_schedules
from opsconsole.celery import app


def test_default_schedules_name_registered_tasks(db):
    ensure_default_schedules()
    app.loader.import_default_modules()
    tasks = dict(PeriodicTask.objects.values_list("name", "task"))
    for name, task, seconds in DEFAULT_SCHEDULES:
        assert tasks[name] == task
        assert task in app.tasks, f"{task} is scheduled but no worker would know it"
        assert PeriodicTask.objects.get(name=name).interval.every == seconds


def test_operator_edits_survive_a_later_migrate(db):
    ensure_default_schedules()
    PeriodicTask.objects.filter(name="Sync all hypervisors").update(enabled=False)
    ensure_default_schedules()
    assert PeriodicTask.objects.get(name="Sync all hypervisors").enabled is False
