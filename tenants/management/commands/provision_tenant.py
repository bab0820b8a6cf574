from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from booking.provisioning import PRESETS
from console import vendor_log
from tenants.lifecycle import do_provision
from tenants.services import ProvisioningError


class Command(BaseCommand):
    help = (
        "Create a tenant (municipality), its schema, its domain and its preset data, and invite its first "
        "administrator by a one-time link (--admin-username, --admin-email). "
        "Idempotent: running it again changes nothing and says so."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema", help="schema name, e.g. kyoto")
        parser.add_argument("--name", required=True, help="the municipality's name, e.g. 京都市")
        parser.add_argument("--domain", required=True, help="host name, e.g. yoyaku.city.kyoto.lg.jp")
        parser.add_argument("--name-en", default="", help="the name in English, e.g. Kyoto City")
        parser.add_argument("--preset", default="blank", choices=sorted(PRESETS))
        parser.add_argument("--admin-username", default="", help="the first administrator's user ID")
        parser.add_argument("--admin-email", default="", help="where their invitation is mailed")
        parser.add_argument(
            "--reinvite", action="store_true", help="send an unused invitation again (the old link stops)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["admin_username"]) != bool(options["admin_email"]):
            raise CommandError(
                "--admin-username と --admin-email は両方指定してください / give both or neither"
            )
        actor = vendor_log.Actor(f"manage.py ({getpass.getuser()})", None, "localhost")
        try:
            outcome = do_provision(
                actor,
                options["schema"],
                name=options["name"],
                domain=options["domain"],
                preset=options["preset"],
                name_en=options["name_en"],
                admin_username=options["admin_username"],
                admin_email=options["admin_email"],
                reinvite=options["reinvite"],
            )
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        result = outcome.result
        if result.changed:
            for change in result.changes:
                self.stdout.write(f"- {change}")
            self.stdout.write(self.style.SUCCESS(f"Tenant {result.tenant.schema_name} is ready."))
        else:
            self.stdout.write(
                f"Tenant {result.tenant.schema_name} already exists with this name, domain and preset; "
                "nothing changed."
            )
        if outcome.invitation is not None:
            until = timezone.localtime(outcome.invitation.expires_at)
            self.stdout.write(
                f"招待メールを {outcome.invitation.email} に送りました（有効期限 {until:%Y-%m-%d %H:%M}） / "
                f"invitation mailed to {outcome.invitation.email}, valid until {until:%Y-%m-%d %H:%M}"
            )
        elif outcome.admin_state == "invited":
            self.stdout.write(
                f"{options['admin_username']} has an unused invitation; --reinvite sends a new one."
            )
