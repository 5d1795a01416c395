# A workload's disk is chosen from its real disks (hypervisors.services.disk_sources): a
# VM's disk target, a host's block device, or an image under a declared root. The old
# free path is kept as the value (an image path, checked against the declared roots).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('migrations_tool', '0003_run_job_kind'),
    ]

    operations = [
        migrations.RenameField(model_name='plannedworkload', old_name='disk_path', new_name='disk'),
        migrations.AlterField(
            model_name='plannedworkload',
            name='disk',
            field=models.CharField(blank=True, help_text="The disk to replicate: one of the VM's disks (default: its first), one of the host's block devices, or an image under a declared root", max_length=500),
        ),
    ]
