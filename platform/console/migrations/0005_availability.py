# Reserved ahead so that concurrent work never numbers two migrations alike; holds only its own operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [('console', '0004_stop_approval_and_notice'), ('tenants', '0004_lifecycle')]

    operations: list = []  # probe samples and outage records (issue 14 §1)
