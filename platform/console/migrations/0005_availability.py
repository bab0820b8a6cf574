# Reserved ahead so that concurrent work never numbers two migrations alike; holds only its own operations.
# Probe samples, outage records, probe cards and the monthly report's mail (issue 14 §1, BK-08).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("console", "0004_stop_approval_and_notice"), ("tenants", "0004_lifecycle")]

    operations = [
        migrations.CreateModel(
            name="ProbeSample",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(verbose_name="日時")),
                ("ok", models.BooleanField(verbose_name="正常")),
                ("latency_ms", models.PositiveIntegerField(verbose_name="応答時間（ミリ秒）")),
                ("reason", models.CharField(blank=True, max_length=300, verbose_name="失敗の理由")),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="probe_samples",
                        to="tenants.municipality",
                    ),
                ),
            ],
            options={
                "verbose_name": "稼働監視の記録",
                "verbose_name_plural": "稼働監視の記録",
                "ordering": ["-at"],
                "indexes": [models.Index(fields=["tenant", "at"], name="probe_sample_tenant_at")],
            },
        ),
        migrations.CreateModel(
            name="Outage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "cause",
                    models.CharField(
                        choices=[("municipality", "自治体の原因"), ("ours", "当社の原因")],
                        max_length=12,
                        verbose_name="原因",
                    ),
                ),
                (
                    "reference",
                    models.CharField(blank=True, max_length=100, verbose_name="自治体の文書・受付番号"),
                ),
                ("starts_at", models.DateTimeField(verbose_name="停止開始")),
                ("ends_at", models.DateTimeField(verbose_name="停止終了")),
                ("note", models.CharField(blank=True, max_length=300, verbose_name="内容")),
                ("recorded_by", models.CharField(max_length=150, verbose_name="登録した運用者")),
                ("recorded_at", models.DateTimeField(verbose_name="登録日時")),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outages",
                        to="tenants.municipality",
                        verbose_name="自治体",
                    ),
                ),
            ],
            options={
                "verbose_name": "停止の記録",
                "verbose_name_plural": "停止の記録",
                "ordering": ["starts_at"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                        name="outage_ends_after_start",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("cause", "municipality"), _negated=True),
                            models.Q(("reference", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="outage_municipality_has_reference",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="ProbeAccount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reservation_number", models.CharField(max_length=12)),
                ("password", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="probe_account",
                        to="tenants.municipality",
                    ),
                ),
            ],
            options={"verbose_name": "監視用カード", "verbose_name_plural": "監視用カード"},
        ),
        migrations.CreateModel(
            name="AvailabilityReportMail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField(verbose_name="対象月（初日）")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="送信日時")),
                ("recipients", models.TextField(blank=True, verbose_name="送信先")),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="送信試行回数")),
                ("last_error", models.TextField(blank=True)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.municipality",
                    ),
                ),
            ],
            options={
                "ordering": ["-month"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "month"), name="availability_report_once_per_month"
                    )
                ],
            },
        ),
    ]
