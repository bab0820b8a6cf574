"""Idempotent booking writes (issue 11): the answers kept for a repeated Idempotency-Key or form token."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("booking", "0018_texts_in_english")]

    operations = [
        migrations.CreateModel(
            name="IdempotentRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("scope", models.CharField(max_length=64, verbose_name="範囲")),
                ("key", models.CharField(max_length=255, verbose_name="キー")),
                ("fingerprint", models.CharField(max_length=64, verbose_name="リクエストの指紋")),
                ("status_code", models.PositiveSmallIntegerField(verbose_name="ステータス")),
                ("body", models.JSONField(blank=True, null=True, verbose_name="応答")),
                ("redirect_to", models.CharField(blank=True, max_length=500, verbose_name="移動先")),
                (
                    "created_at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, verbose_name="作成日時"
                    ),
                ),
            ],
            options={
                "verbose_name": "冪等キー",
                "constraints": [
                    models.UniqueConstraint(fields=("scope", "key"), name="booking_idempotency_scope_key")
                ],
            },
        ),
    ]
