"""Staff console sessions end after an idle time and an absolute time the administrator sets (SO-10;
finding 7 of issue 13).

The timestamps and their check are the platform's (`madoguchi.session_limits`, which the vendor console uses
too); this module gives them the tenant's limits (StaffSecurity), ends a session that is over on a staff
page (`staff_view` calls `end_if_over` before the gate's check, which then sends the person to sign in),
and is where the administrator changes the limits. The staff API uses bearer tokens, not sessions: they
keep their own fixed lifetime (accounts.TOKEN_LIFETIME).
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from booking.access import accounts
from booking.audit import oplog
from booking.models import StaffSecurity
from madoguchi import session_limits

IDLE_MINUTES = (5, 480)  # the range an administrator may set; the database checks it too
ABSOLUTE_HOURS = (1, 24)


def limits(rules: StaffSecurity | None = None) -> session_limits.SessionLimits:
    rules = rules or accounts.security()
    return session_limits.SessionLimits(
        idle=dt.timedelta(minutes=rules.session_idle_minutes),
        absolute=dt.timedelta(hours=rules.session_absolute_hours),
    )


def start(request: HttpRequest) -> None:
    """At sign-in: the absolute limit counts from now."""
    session_limits.start(request.session, limits())


def end_if_over(request: HttpRequest) -> session_limits.Ended | None:
    """Sign the person out if their session has been idle too long or open too long, saying why."""
    if not request.user.is_authenticated:
        return None
    rules = accounts.security()
    ended = session_limits.check(request.session, limits(rules))
    if ended is None:
        _note_time_limit(request, limits(rules))
        return None
    logout(request)
    if ended is session_limits.Ended.IDLE:
        text = _("%(minutes)d分間操作がなかったため、ログアウトしました。もう一度ログインしてください。") % {
            "minutes": rules.session_idle_minutes
        }
    else:
        text = _(
            "ログインから%(hours)d時間が経ったため、ログアウトしました。もう一度ログインしてください。"
        ) % {"hours": rules.session_absolute_hours}
    messages.info(request, text)
    return ended


def _note_time_limit(request: HttpRequest, session: session_limits.SessionLimits) -> None:
    """When this session signs out by itself, for the page to say (WCAG 2.2.1; base template, timeout.js)."""
    ends_at = session_limits.ends_at(request.session, session)
    if ends_at is not None:
        request.staff_time_limit = session_limits.TimeLimit(  # type: ignore[attr-defined]
            ends_at=ends_at,
            extend_url=reverse("staff:session_extend"),
            next=request.get_full_path(),
            reason=_("それまで操作がないと、自動でログアウトします。"),
        )


def extend(request: HttpRequest) -> None:
    """The person asked for more time: the idle limit counts again from now (not the absolute one)."""
    session_limits.extend(request.session, limits())
    _note_time_limit(request, limits())


def do_sign_out(actor: oplog.Actor, request: HttpRequest) -> None:
    """End the person's session, logged by their user ID like the sign-in (SO-14)."""
    with transaction.atomic():
        logout(request)
        oplog.record(actor, "logout", actor.username)


def do_update_session_limits(actor: oplog.Actor, idle_minutes: int, absolute_hours: int) -> StaffSecurity:
    """Set the staff sessions' idle and absolute limits; sessions already open are held to them at once."""
    if not (
        IDLE_MINUTES[0] <= idle_minutes <= IDLE_MINUTES[1]
        and ABSOLUTE_HOURS[0] <= absolute_hours <= ABSOLUTE_HOURS[1]
    ):
        raise accounts.StaffAccountError(
            _(
                "自動ログアウトまでの時間は、操作がない場合%(idle_min)d〜%(idle_max)d分、"
                "ログインから%(abs_min)d〜%(abs_max)d時間で入力してください。"
            )
            % {
                "idle_min": IDLE_MINUTES[0],
                "idle_max": IDLE_MINUTES[1],
                "abs_min": ABSOLUTE_HOURS[0],
                "abs_max": ABSOLUTE_HOURS[1],
            }
        )
    if idle_minutes > absolute_hours * 60:
        raise accounts.StaffAccountError(
            _(
                "操作がない場合の時間（%(idle)d分）は、ログインからの時間（%(absolute)d時間）以下にしてください。"
            )
            % {"idle": idle_minutes, "absolute": absolute_hours}
        )
    fields = ["session_idle_minutes", "session_absolute_hours"]
    with transaction.atomic():
        rules, _created = StaffSecurity.objects.select_for_update().get_or_create(singleton=True)
        rules.session_idle_minutes = idle_minutes
        rules.session_absolute_hours = absolute_hours
        rules.save(update_fields=fields)
        oplog.record(
            actor,
            "security.sessions",
            "staff sessions",
            {"session_idle_minutes": idle_minutes, "session_absolute_hours": absolute_hours},
        )
    return rules
