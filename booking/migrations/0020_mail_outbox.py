"""The mail outbox (issue 11): a resident's mail is written in the booking's own transaction and sent
from there."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("booking", "0019_idempotency")]

    operations = [
        migrations.CreateModel(
            name="OutboxMail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("recipient", models.EmailField(blank=True, default="", max_length=254, verbose_name="宛先")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("booked", "予約確認"),
                            ("changed", "予約変更"),
                            ("cancelled", "予約取消"),
                            ("reminder", "前日のお知らせ"),
                        ],
                        max_length=12,
                        verbose_name="種類",
                    ),
                ),
                (
                    "language",
                    models.CharField(
                        choices=[("ja", "日本語"), ("en", "英語")],
                        default="ja",
                        max_length=2,
                        verbose_name="言語",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "送信待ち"),
                            ("sending", "送信中"),
                            ("sent", "送信済み"),
                            ("skipped", "送信不要"),
                            ("failed", "送信失敗"),
                        ],
                        default="pending",
                        max_length=8,
                        verbose_name="状態",
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="送信試行回数")),
                (
                    "next_attempt_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="次の送信予定"),
                ),
                (
                    "last_error",
                    models.CharField(blank=True, default="", max_length=200, verbose_name="最後のエラー"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="作成日時")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="送信日時")),
                (
                    "booking",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outbox_mails",
                        to="booking.booking",
                    ),
                ),
            ],
            options={
                "verbose_name": "送信待ちメール",
                "indexes": [
                    models.Index(
                        condition=models.Q(("status__in", ["pending", "sending"])),
                        fields=["next_attempt_at"],
                        name="outbox_due",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("booking__isnull", False),
                            models.Q(("recipient", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="outbox_has_recipient",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("sent_at__isnull", False), ("status", "sent")),
                            models.Q(("status", "sent"), _negated=True),
                            _connector="OR",
                        ),
                        name="outbox_sent_has_time",
                    ),
                ],
            },
        ),
    ]
