from __future__ import annotations

import io
import os
from typing import Any

import qrcode
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console import vendor_log
from console.services import do_enrol_operator_totp


class Command(BaseCommand):
    help = (
        "Register a vendor-console operator's TOTP authenticator (every operator needs one to sign in) "
        "and print its otpauth:// address and QR code. --replace gives a new one (a lost phone)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the operator's user name (public schema), e.g. operator")
        parser.add_argument("--replace", action="store_true", help="replace the operator's existing device")
        parser.add_argument("--uri-only", action="store_true", help="print only the otpauth:// address")

    def handle(self, *args: Any, **options: Any) -> None:
        # who ran it, as far as the server knows: the log says it came from a shell, not the web
        actor = vendor_log.Actor(f"manage.py ({os.environ.get('USER', 'unknown')})")
        try:
            device = do_enrol_operator_totp(options["username"], replace=options["replace"], actor=actor)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        uri = device.config_url
        if options["uri_only"]:
            self.stdout.write(uri)
            return
        code = qrcode.QRCode(border=1)
        code.add_data(uri)
        picture = io.StringIO()
        code.print_ascii(out=picture, invert=True)
        self.stdout.write(picture.getvalue())
        self.stdout.write(uri)
        self.stdout.write(
            self.style.SUCCESS(
                f"Scan the code (or add the address) in an authenticator app; {options['username']} then "
                "signs in with the password and the app's 6-digit code."
            )
        )
