# Reserved ahead so that concurrent work never numbers two migrations alike; holds only its own operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [('console', '0005_availability')]

    operations: list = []  # the waiting room's settings and events (issue 12)
