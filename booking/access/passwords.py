"""Staff password rules beyond Django's (SO-10)."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class CharacterMixValidator:
    """Upper case, lower case, a digit and a symbol, all four."""

    def validate(self, password: str, user: Any = None) -> None:
        missing = []
        if not any(c.isascii() and c.isupper() for c in password):
            missing.append(_("英大文字"))
        if not any(c.isascii() and c.islower() for c in password):
            missing.append(_("英小文字"))
        if not any(c.isdigit() for c in password):
            missing.append(_("数字"))
        if not any(c.isascii() and not c.isalnum() and not c.isspace() for c in password):
            missing.append(_("記号"))
        if missing:
            message = _(
                "パスワードには英大文字・英小文字・数字・記号をすべて含めてください"
                "（足りないもの: %(missing)s）。"
            ) % {"missing": "・".join(missing)}
            if any(not c.isascii() for c in password):
                # "Ａ" and "！" from a Japanese input method are full-width: none of the four counts them
                message += _("全角の文字は英字・記号に数えません。半角で入力してください。")
            raise ValidationError(message, code="password_character_mix")

    def get_help_text(self) -> str:
        return _("英大文字・英小文字・数字・記号をすべて含めてください。")


def temporary_password() -> str:
    """A one-time password an administrator hands over: every character class, then random."""
    parts = [
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ"),
        secrets.choice("abcdefghijkmnopqrstuvwxyz"),
        secrets.choice("23456789"),
        secrets.choice("!#$%&*+-=?@"),
    ]
    return "".join(parts) + secrets.token_urlsafe(9)
