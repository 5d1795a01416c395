"""Run jobs were recorded as kind "migrations.run" while their task is "migrations_tool.run";
every job kind is now its task's name, so older rows are renamed to match."""

from django.db import migrations

OLD, NEW = "migrations.run", "migrations_tool.run"


def rename(apps, old, new):
    apps.get_model("core", "Job").objects.filter(kind=old).update(kind=new)


class Migration(migrations.Migration):
    dependencies = [("migrations_tool", "0002_continuous_replication"), ("core", "0003_job_parent")]

    operations = [
        migrations.RunPython(lambda apps, schema: rename(apps, OLD, NEW),
                             lambda apps, schema: rename(apps, NEW, OLD)),
    ]
