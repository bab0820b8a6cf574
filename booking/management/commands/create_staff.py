from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.audit import oplog
from booking.management.tenant_arg import check_tenant
from booking.models import StaffRole

NO_TERMINAL = (
    "パスワードを入力する端末がありません。環境変数 STAFF_PASSWORD にパスワードを入れて実行するか、"
    "端末から実行してください / no terminal to type the password in: set the STAFF_PASSWORD environment "
    "variable (STAFF_PASSWORD='…' python manage.py create_staff …) or run the command in a terminal"
)


class Command(BaseCommand):
    help = (
        "Create a staff user in a tenant, e.g. the first administrator. The password comes from the "
        "STAFF_PASSWORD environment variable or a prompt; the person must change it at the first sign-in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema")
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=StaffRole.values)
        parser.add_argument(
            "--allow",
            action="append",
            default=[],
            metavar="CIDR",
            help="also allow staff functions from this network (repeatable)",
        )
        parser.add_argument(
            "--no-forced-change",
            action="store_true",
            help="do not ask for a new password at the first sign-in",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema = options["schema"]
        check_tenant(schema)
        password = os.environ.get("STAFF_PASSWORD") or self._prompt()
        actor = oplog.Actor(None, f"manage.py create_staff ({getpass.getuser()})", "localhost")
        with schema_context(schema):
            try:
                for network in options["allow"]:
                    accounts.do_allow_network(actor, network, "create_staff")
                created = accounts.do_create_staff(
                    actor,
                    options["username"],
                    options["role"],
                    password,
                    must_change=not options["no_forced_change"],
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            except accounts.StaffAccountError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"作成しました / created: {created.user.get_username()} ({created.profile.role}) in {schema}"
            )
        )

    def _prompt(self) -> str:
        # Without a terminal (a script, CI, `docker exec` without -t) getpass would read the pipe or end in an
        # EOFError traceback: say what to do instead.
        if not sys.stdin or not sys.stdin.isatty():
            raise CommandError(NO_TERMINAL)
        try:
            first = getpass.getpass("Password: ")
            again = getpass.getpass("Password (again): ")
        except EOFError as exc:  # Ctrl-D at the prompt
            raise CommandError(NO_TERMINAL) from exc
        if first != again:
            raise CommandError("パスワードが一致しません / the passwords do not match")
        return first
