"""Staff sessions end after an idle and an absolute time the administrator sets (finding 7 of issue 13)."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("booking", "0016_staff_lockout_period")]

    operations = [
        migrations.AddField(
            model_name="staffsecurity",
            name="session_idle_minutes",
            field=models.PositiveSmallIntegerField(
                default=30, verbose_name="操作がないまま自動でログアウトするまでの時間（分）"
            ),
        ),
        migrations.AddField(
            model_name="staffsecurity",
            name="session_absolute_hours",
            field=models.PositiveSmallIntegerField(
                default=10, verbose_name="ログインから自動でログアウトするまでの時間（時間）"
            ),
        ),
        migrations.AddConstraint(
            model_name="staffsecurity",
            constraint=models.CheckConstraint(
                condition=Q(session_idle_minutes__gte=5, session_idle_minutes__lte=480),
                name="staff_session_idle_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="staffsecurity",
            constraint=models.CheckConstraint(
                condition=Q(session_absolute_hours__gte=1, session_absolute_hours__lte=24),
                name="staff_session_absolute_range",
            ),
        ),
    ]
