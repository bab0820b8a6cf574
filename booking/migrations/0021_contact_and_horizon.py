"""The call center's number and hours, what to bring per service, and a rolling booking horizon (issue 14 §5)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("booking", "0020_mail_outbox")]

    operations: list[migrations.operations.base.Operation] = []
