"""The line itself, in Redis: one atomic Lua script per request decides admit or wait (issue 12, item 3).

Per municipality (keys carry the schema, in one Redis Cluster hash slot):

- `queue`: sorted set, ticket → arrival number (INCR of `seq`). Admission always takes the lowest numbers,
  so the order is the order of arrival, not of who asks most often: a later arrival who refreshes every
  second still waits behind an earlier one who refreshes every 30 s.
- `seen`: ticket → when it last asked. A ticket silent for `abandon_s` leaves the line so an abandoned tab
  does not hold up the people behind it; if it comes back, its signed cookie still carries its arrival
  number and it goes back to exactly that place.
- `active`: pass → expiry. A pass lives `idle_s` after its holder's last request. A ticket whose turn has
  come holds a reservation (`g:<ticket>`, `claim_s`) until its holder comes back for the pass, so the room
  it was given cannot be taken by a newcomer.
- `granted`: ticket → reservation expiry; `admits`: who was let in when (the per-minute limit and the
  estimated wait).
- `used`: ticket → until when it is remembered (TICKET_MAX_AGE after its turn was claimed). A claimed
  ticket is spent: its cookie, kept or copied to other clients, would otherwise go back to its old arrival
  number, the head of the line, and be let in again and again ahead of everyone who waits.

Everything happens in one script, so two web processes never admit the same place twice, and nothing is
decided by the app server's clock but the `now` it passes in (tests pass their own).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

REFRESH_SECONDS = 30  # the queue page refreshes itself this often; the API's Retry-After
ABANDON_SECONDS = 6 * REFRESH_SECONDS  # silent this long: out of the line until it comes back
CLAIM_SECONDS = 3 * REFRESH_SECONDS  # a ticket whose turn came has this long to come back for its pass
TICKET_MAX_AGE = 12 * 60 * 60  # a ticket older than this is refused: take a new one
KEEP_KEYS_SECONDS = 24 * 60 * 60  # a municipality's keys vanish a day after its room was last used

TICKET_COOKIE = "mg_wr_ticket"
PASS_COOKIE = "mg_wr_pass"  # noqa: S105 - a cookie's name

_SCRIPT = """
local now = tonumber(ARGV[1])
local cap, per_min = tonumber(ARGV[2]), tonumber(ARGV[3])
local idle, claim, abandon = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local pass, ticket, tseq, new_id, mode = ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10], ARGV[11]
local keep, ticket_life = tonumber(ARGV[12]), tonumber(ARGV[13])
local queue, seen, active, granted, admits, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local used = KEYS[7]

-- what has lapsed: idle passes, unclaimed turns, old admissions, abandoned tickets
redis.call('ZREMRANGEBYSCORE', active, '-inf', now)
redis.call('ZREMRANGEBYSCORE', granted, '-inf', now)
redis.call('ZREMRANGEBYSCORE', admits, '-inf', now - 300)
redis.call('ZREMRANGEBYSCORE', used, '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', seen, '-inf', now - abandon, 'LIMIT', 0, 500)
if #gone > 0 then
  redis.call('ZREM', queue, unpack(gone))
  redis.call('ZREM', seen, unpack(gone))
end

local function room()
  local by_active = cap - redis.call('ZCARD', active)
  local by_rate = per_min - redis.call('ZCOUNT', admits, now - 60, '+inf')
  return math.min(by_active, by_rate)
end

-- after the last write of a path: a key emptied and made again (ZREM, ZADD) has lost its expiry
local function touch()
  for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, keep) end
end

-- 1. a live pass goes on (the common case: one ZSCORE, one ZADD)
if mode == 'enter' and pass ~= '' and redis.call('ZSCORE', active, pass) then
  redis.call('ZADD', active, now + idle, pass)
  redis.call('EXPIRE', active, keep)  -- a room busy with passes alone must not lose them all at once
  return {'pass', pass}
end

-- a spent ticket (its turn was claimed) is no ticket: its holder is a newcomer
if ticket ~= '' and redis.call('ZSCORE', used, ticket) then ticket = '' end

-- 2. a ticket that lost its place (abandoned, or Redis restarted) goes back to its own arrival number;
--    later arrivals are numbered after it
if ticket ~= '' and not redis.call('ZSCORE', granted, ticket) and not redis.call('ZSCORE', queue, ticket) then
  redis.call('ZADD', queue, tseq, ticket)
  if tonumber(redis.call('GET', seq) or '0') < tseq then redis.call('SET', seq, tseq) end
end
if ticket ~= '' and redis.call('ZSCORE', queue, ticket) then redis.call('ZADD', seen, now, ticket) end

-- 3. the head of the line gets the room there is, whoever is asking now; at most 1000 per call, so a
--    limit raised by thousands never holds Redis (every municipality's line and cache) in one long script
local n = math.min(room(), 1000)
if n > 0 then
  for _, t in ipairs(redis.call('ZRANGE', queue, 0, n - 1)) do
    redis.call('ZREM', queue, t)
    redis.call('ZREM', seen, t)
    redis.call('ZADD', granted, now + claim, t)
    redis.call('ZADD', active, now + claim, 'g:' .. t)
    redis.call('ZADD', admits, now, t)
  end
end

if mode == 'stats' then
  touch()  -- also a key the admissions above have just made
  return {'stats', redis.call('ZCARD', queue), redis.call('ZCARD', active),
          redis.call('ZCOUNT', admits, now - 60, '+inf'), redis.call('ZCARD', admits)}
end

-- 4. a ticket: its turn has come (the reservation becomes its pass), or its place in the line
if ticket ~= '' then
  if redis.call('ZSCORE', granted, ticket) then
    redis.call('ZREM', granted, ticket)
    redis.call('ZREM', active, 'g:' .. ticket)
    redis.call('ZADD', active, now + idle, ticket)
    redis.call('ZADD', used, now + ticket_life, ticket)
    touch()
    return {'pass', ticket}
  end
  touch()
  return {'queued', ticket, tostring(tseq), redis.call('ZRANK', queue, ticket) + 1,
          redis.call('ZCARD', queue), redis.call('ZCARD', admits)}
end

-- 5. a newcomer: straight in while nobody waits and there is room; otherwise the end of the line
if redis.call('ZCARD', queue) == 0 and room() > 0 then
  redis.call('ZADD', active, now + idle, new_id)
  redis.call('ZADD', admits, now, new_id)
  touch()
  return {'pass', new_id}
end
local number = redis.call('INCR', seq)
redis.call('ZADD', queue, number, new_id)
redis.call('ZADD', seen, now, new_id)
touch()
return {'queued', new_id, tostring(number), redis.call('ZRANK', queue, new_id) + 1,
        redis.call('ZCARD', queue), redis.call('ZCARD', admits)}
"""


@dataclass(frozen=True)
class Limits:
    """What a municipality's room admits now (console.waiting_room.rules decides which limits apply)."""

    active: int
    per_minute: int
    idle_minutes: int
    event: str = ""  # the running event's name, when an event set these limits


@dataclass(frozen=True)
class Ticket:
    id: str
    seq: int


@dataclass(frozen=True)
class Decision:
    """`admitted` with the pass id, or the ticket with its place in the line."""

    admitted: bool
    pass_id: str = ""
    ticket: Ticket | None = None
    position: int = 0
    queue_length: int = 0
    wait_seconds: int = 0


@dataclass(frozen=True)
class Stats:
    queue_length: int
    active: int  # passes and reservations of turns not yet claimed
    admitted_last_minute: int
    wait_seconds: int  # the estimate for the last in line

    @property
    def wait_minutes(self) -> int:
        return math.ceil(self.wait_seconds / 60)


def _keys(schema: str) -> list[str]:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    tag = f"{prefix}:wr:{{{schema}}}"  # {…}: every key of one municipality in one cluster slot
    return [f"{tag}:{name}" for name in ("queue", "seen", "active", "granted", "admits", "seq", "used")]


def estimate_wait(position: int, admitted_5min: int, limits: Limits) -> int:
    """Seconds until `position` is admitted, at the pace residents have been let in over the last 5 minutes.

    Never slower than the room turning over once per idle time (everyone inside leaves or goes idle within
    `idle_minutes` of their last request, the first minutes of a room having no pace yet), and never faster
    than the per-minute limit allows.
    """
    if position <= 0:
        return 0
    turnover = limits.active / max(limits.idle_minutes, 1)
    pace = min(max(admitted_5min / 5, turnover), limits.per_minute)
    return math.ceil(position / max(pace, 0.01) * 60)


class Line:
    """One municipality's line; `client` is a redis-py client (the cache's raw client)."""

    def __init__(self, client: Any, schema: str) -> None:
        self.client = client
        self.schema = schema
        self.keys = _keys(schema)

    def _run(
        self,
        mode: str,
        now: float,
        limits: Limits,
        pass_id: str = "",
        ticket: Ticket | None = None,
        new_id: str = "",
    ) -> list[Any]:
        script = self.client.register_script(_SCRIPT)  # EVALSHA, loading the script once per server
        args = [
            repr(now),
            limits.active,
            limits.per_minute,
            limits.idle_minutes * 60,
            CLAIM_SECONDS,
            ABANDON_SECONDS,
            pass_id,
            ticket.id if ticket else "",
            ticket.seq if ticket else 0,
            new_id,
            mode,
            KEEP_KEYS_SECONDS,
            TICKET_MAX_AGE,
        ]
        return [_text(value) for value in script(keys=self.keys, args=args)]

    def enter(self, now: float, limits: Limits, pass_id: str = "", ticket: Ticket | None = None) -> Decision:
        """Admit or place one request: its live pass goes on; else its ticket's turn or place; else new."""
        reply = self._run("enter", now, limits, pass_id, ticket, new_id=secrets.token_urlsafe(12))
        if reply[0] == "pass":
            return Decision(admitted=True, pass_id=reply[1])
        position, length, admitted_5min = int(reply[3]), int(reply[4]), int(reply[5])
        return Decision(
            admitted=False,
            ticket=Ticket(reply[1], int(reply[2])),
            position=position,
            queue_length=length,
            wait_seconds=estimate_wait(position, admitted_5min, limits),
        )

    def stats(self, now: float, limits: Limits) -> Stats:
        """The line as our operators watch it (admits the head of the line too, as any request does)."""
        reply = self._run("stats", now, limits)
        length, active, last_minute, admitted_5min = (int(value) for value in reply[1:5])
        return Stats(length, active, last_minute, estimate_wait(length, admitted_5min, limits))


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


# --- the cookies: signed, and bound to the municipality that issued them ---

_TICKET_SALT = "madoguchi.waiting-room.ticket"
_PASS_SALT = "madoguchi.waiting-room.pass"  # noqa: S105 - a signing salt, public by design


def sign_ticket(schema: str, ticket: Ticket) -> str:
    return signing.TimestampSigner(salt=_TICKET_SALT).sign(f"{schema}:{ticket.id}:{ticket.seq}")


def read_ticket(schema: str, value: str) -> Ticket | None:
    """The ticket in a cookie, if it is ours, this municipality's and younger than TICKET_MAX_AGE."""
    try:
        text = signing.TimestampSigner(salt=_TICKET_SALT).unsign(value, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        return None
    owner, _, rest = text.partition(":")
    ticket_id, _, seq = rest.partition(":")
    if owner != schema or not ticket_id or not seq.isdigit():
        return None
    return Ticket(ticket_id, int(seq))


def sign_pass(schema: str, pass_id: str) -> str:
    return signing.Signer(salt=_PASS_SALT).sign(f"{schema}:{pass_id}")


def read_pass(schema: str, value: str) -> str:
    """The pass id in a cookie ("" if it is not ours or another municipality's); Redis says if it lives."""
    try:
        text = signing.Signer(salt=_PASS_SALT).unsign(value)
    except signing.BadSignature:
        return ""
    owner, _, pass_id = text.partition(":")
    return pass_id if owner == schema else ""
