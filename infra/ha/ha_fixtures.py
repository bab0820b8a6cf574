"""The rehearsal's data (issue 11), made through the project's own services in the HA cluster's database:

    python infra/ha/ha_fixtures.py OUT.json CARDS

migrates the public schema, provisions `kyoto` (preset kyoto), issues CARDS cards through `do_import_cards`
with notice letters (so each password is known), makes free slots as the HTTP benchmark does
(bench/_booking_fixtures.py) and a staff viewer, and writes what the load driver needs as JSON: each card's
reservation number, password and the slot it will ask for (each slot asked for capacity + 1 times, so the
race for a slot's last place happens under every failover).
"""

# ruff: noqa: E402 - Django is set up before the project's modules are imported.

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import django

django.setup()

from _booking_fixtures import Fixtures
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.audit import oplog
from booking.lifecycle.intake import CardRow, do_import_cards
from booking.models import Place, Service
from booking.models.staff import StaffRole
from tenants.models import Municipality

SCHEMA, HOST, SERVICE_CODE = "kyoto", "kyoto.localhost", "card_issuance"
STAFF_USER, STAFF_PASSWORD = "ha-viewer", "Kyoto-HA-2026!ok"  # noqa: S105 - the rehearsal's throwaway cluster
ACTOR = oplog.Actor(None, "ha-rehearsal", "127.0.0.1")


def main(out: Path, cards: int) -> None:
    call_command("migrate_schemas", shared=True, verbosity=0)
    if not Municipality.objects.filter(schema_name=SCHEMA).exists():
        call_command(
            "provision_tenant", SCHEMA, name="京都市", domain=HOST, preset="kyoto", stdout=io.StringIO()
        )
    prefix = f"88888{secrets.randbelow(10_000):04d}"
    with schema_context(SCHEMA):
        rows = [
            CardRow(
                line=i + 1,
                application_id=f"{prefix}{i:014d}",
                name="冗長 太郎",
                name_kana="ジョウチョウ タロウ",
                birth_date=dt.date(1960, 4, 1),
                postal_code="604-8571",
                address="京都市中京区寺町通御池上る上本能寺前町488",
            )
            for i in range(cards)
        ]
        letters = do_import_cards(rows, actor="ha-rehearsal", note="HA rehearsal", letters=True).letters
        service = Service.objects.get(code=SERVICE_CODE)
        places = list(Place.objects.order_by("pk"))
        targets = Fixtures(service, seed=11).slots(places, max(1, cards // 3), days=60)
        asks = [target for target in targets for _ in range(target.capacity + 1)]
        if not get_user_model().objects.filter(username=STAFF_USER).exists():
            accounts.do_create_staff(ACTOR, STAFF_USER, StaffRole.VIEWER, STAFF_PASSWORD, must_change=False)
        requests = [
            {
                "reservation_number": letter.reservation_number,
                "password": letter.password,
                "location": target.place.pk,
                "start": target.starts_at.isoformat(),
                "day": timezone.localdate(target.starts_at).isoformat(),
            }
            for letter, target in zip(letters, asks, strict=False)
        ]
    today = timezone.localdate()
    out.write_text(
        json.dumps(
            {
                "requests": requests,
                "place": places[0].pk,
                "today": today.isoformat(),
                "staff": [STAFF_USER, STAFF_PASSWORD],
                "card_prefix": prefix,
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
