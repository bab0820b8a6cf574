"""Idempotent booking writes (issue 11): the answers kept for a repeated Idempotency-Key or form token."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("booking", "0018_texts_in_english")]

    operations: list[migrations.operations.base.Operation] = []
