# Reserved ahead so that concurrent work never numbers two migrations alike; holds only its own operations.
# The waiting room's settings and events (issue 12, item 3).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("console", "0005_availability"), ("tenants", "0004_lifecycle")]

    operations = [
        migrations.CreateModel(
            name="QueueEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, verbose_name="名前")),
                ("starts_at", models.DateTimeField(verbose_name="開始")),
                ("ends_at", models.DateTimeField(verbose_name="終了")),
                ("active_limit", models.PositiveIntegerField(verbose_name="同時に利用できる住民の数")),
                ("per_minute", models.PositiveIntegerField(verbose_name="1分間に新たに案内する住民の数")),
                ("created_by", models.CharField(blank=True, max_length=150, verbose_name="登録した運用者")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="queue_events",
                        to="tenants.municipality",
                        verbose_name="自治体",
                    ),
                ),
            ],
            options={
                "verbose_name": "待合室の予定",
                "verbose_name_plural": "待合室の予定",
                "ordering": ["starts_at"],
                "indexes": [models.Index(fields=["tenant", "ends_at"], name="queue_event_tenant_ends")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                        name="queue_event_ends_after_start",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("active_limit__gte", 1), ("per_minute__gte", 1)),
                        name="queue_event_limits_positive",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="WaitingRoom",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("enabled", models.BooleanField(default=False, verbose_name="待合室を使う")),
                (
                    "active_limit",
                    models.PositiveIntegerField(default=500, verbose_name="同時に利用できる住民の数"),
                ),
                (
                    "per_minute",
                    models.PositiveIntegerField(default=200, verbose_name="1分間に新たに案内する住民の数"),
                ),
                (
                    "idle_minutes",
                    models.PositiveSmallIntegerField(
                        default=15, verbose_name="操作がないまま利用枠を保つ時間（分）"
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="更新日時")),
                ("updated_by", models.CharField(blank=True, max_length=150, verbose_name="更新した運用者")),
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="waiting_room",
                        to="tenants.municipality",
                        verbose_name="自治体",
                    ),
                ),
            ],
            options={
                "verbose_name": "待合室",
                "verbose_name_plural": "待合室",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("active_limit__gte", 1), ("idle_minutes__gte", 1), ("per_minute__gte", 1)
                        ),
                        name="waiting_room_limits_positive",
                    )
                ],
            },
        ),
    ]
