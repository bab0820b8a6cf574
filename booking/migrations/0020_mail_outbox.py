"""The mail outbox (issue 11): a resident's mail is written in the booking's own transaction and sent from there."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("booking", "0019_idempotency")]

    operations: list[migrations.operations.base.Operation] = []
