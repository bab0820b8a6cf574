"""django-otp's pause after wrong codes, told as a pause rather than as a wrong code.

django-otp holds each device shut for 1 s, 2 s, 4 s… after consecutive wrong codes (its throttle, until a
right one), and during the pause refuses any code unchecked. Our sign-ins also count wrong codes and lock the
account, but that count starts again after each lock period: the doubling pause is what bounds guessing
over weeks, so it stays on. What must not happen is a right code refused in the pause being answered
"wrong code" and counted toward the lock (a new user's walk): the sign-ins ask here first and answer "wait".
"""

from __future__ import annotations

import math

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice


def seconds(device: TOTPDevice) -> int:
    """How long until the device checks a code again (0: now)."""
    allowed, info = device.verify_is_allowed()
    if allowed:
        return 0
    until = info.get("locked_until")
    return max(1, math.ceil((until - timezone.now()).total_seconds())) if until else 1
