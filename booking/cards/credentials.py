"""Reservation numbers and passwords (BK-03, BK-04).

Both are random, machine-made and printed on the notice letter. The password is stored only as
HMAC-SHA256 under a server-side key (RESERVATION_PASSWORD_KEY): a stolen table does not give the
passwords, and checking one costs microseconds rather than the deliberate slowness of a password hash,
which protects human-chosen passwords (staff) and is not needed for 10 random characters.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

from booking.lib.japanese import drop_separators, typed_digits

RESERVATION_NUMBER_DIGITS = 12
PASSWORD_LENGTH = 10
# No 0/O, 1/I/L: letters that are easy to misread on paper or mistype from it.
PASSWORD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet, not a password


def new_reservation_number() -> str:
    return f"{secrets.randbelow(10**RESERVATION_NUMBER_DIGITS):0{RESERVATION_NUMBER_DIGITS}d}"


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def normalise_reservation_number(raw: str) -> str:
    """Full-width digits, spaces and dashes as people type them → the 12 digits, or '' if not that."""
    return typed_digits(raw or "", RESERVATION_NUMBER_DIGITS) or ""


def normalise_password(raw: str) -> str:
    """As typed from the letter: full-width letters, lower case, and the spaces and dashes people put
    between groups of characters do not matter. Stored passwords are ASCII, so their digests keep."""
    return drop_separators(raw or "").upper()


def password_digest(password: str) -> str:
    key = settings.RESERVATION_PASSWORD_KEY.encode()
    return hmac.new(key, normalise_password(password).encode(), hashlib.sha256).hexdigest()


def password_matches(password: str, digest: str) -> bool:
    """False for an empty digest: a card imported without a password (its notice not yet printed) has none,
    and no password, not even an empty one, may open it. The HMAC is computed either way (same timing)."""
    matches = hmac.compare_digest(password_digest(password), digest)
    return matches and bool(digest)


def session_proof(digest: str) -> str:
    """What a resident's web session keeps of the password it was opened with: a keyed hash of the card's
    password digest, as django.contrib.auth keeps one of a user's password hash.

    A new password (a reissue, a printed or reprinted letter, whichever code writes it) changes the
    digest, so every session opened with the old one stops matching and ends, everywhere at once. Derived
    rather than a version column that every writer must remember to bump.
    """
    return salted_hmac("booking.cards.session_proof", digest, algorithm="sha256").hexdigest()


def format_reservation_number(number: str) -> str:
    """1234-5678-9012: easier to read out on the phone."""
    return "-".join(number[i : i + 4] for i in range(0, len(number), 4))
