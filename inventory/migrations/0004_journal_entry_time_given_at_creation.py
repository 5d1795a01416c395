# Journal entries are append-only: created_at is no longer auto_now_add (the demo backdated
# entries with an UPDATE, now refused) but a default the code writing an entry may set.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0003_migrated_to_cloud'),
    ]

    operations = [
        migrations.AlterField(
            model_name='journalentry',
            name='created_at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
        ),
    ]
