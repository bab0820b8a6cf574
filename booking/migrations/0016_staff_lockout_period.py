"""A staff lockout ends by itself after a period the administrator sets (finding 4 of issue 13)."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("booking", "0015_singleton_rows")]

    operations = [
        migrations.AddField(
            model_name="staffsecurity",
            name="lockout_minutes",
            field=models.PositiveSmallIntegerField(
                default=15, verbose_name="ロックが自動で解除されるまでの時間（分）"
            ),
        ),
        migrations.AddConstraint(
            model_name="staffsecurity",
            constraint=models.CheckConstraint(
                condition=Q(lockout_minutes__gte=1, lockout_minutes__lte=1440), name="staff_lockout_period"
            ),
        ),
    ]
