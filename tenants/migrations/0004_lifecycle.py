# Reserved ahead so that concurrent work never numbers two migrations alike; holds only its own operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [('tenants', '0003_oplog_checkpoint')]

    operations: list = []  # a municipality's lifecycle (issue 14 §3)
