"""SSHCredential and HostKey belong to the access app now (access 0001): health forgets
them from its state only; their tables and rows stay, under access."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("access", "0001_initial"),
        ("health", "0002_fencing_recovery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="HostKey"),
                migrations.DeleteModel(name="SSHCredential"),
            ],
        ),
    ]
