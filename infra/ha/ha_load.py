"""The rehearsal's load (issue 11): residents and staff through the real HTTP stack, every attempt recorded.

- *API residents*: sign in (`/api/v1/citizen/sessions/`), then book (`/api/v1/citizen/booking/`) with an
  `Idempotency-Key`; a request whose answer is lost (connection reset, timeout) is sent again with the same
  key, as a mobile app would, and must get the original answer.
- *Web residents*: the booking forms as a browser sends them (sign-in, a time, contact details with a mail
  address of their own, the confirmation page's one-time token); a lost answer to the final POST is sent
  again with the same token.
- *Readers*: the citizen top page and the availability API, and a staff viewer's bookings list (staff API).

Each HTTP exchange is an `Attempt` (times, kind, status, outcome, booking); `Load.attempts` is the record
the scenarios judge, also written to attempts.jsonl. The bookings a resident was told about are the
`acknowledged` ones. Every loop is bounded by `stop()` and by the cards there are.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ha_topology import HOST, WEB_PORT

ORIGIN = f"https://{HOST}"
TIMEOUT = 40.0  # above the server's own wait for a new primary (25 s): a slow answer is not a lost one
LOST_RETRIES = 6
PAUSE = 0.05  # between one resident's requests and the next resident's


@dataclass
class Attempt:
    kind: str  # api-login, api-book, web-login, web-hold, web-details, web-confirm, read, staff
    started: float
    ended: float
    status: int  # 0: no answer (lost)
    outcome: str  # ok, booked, refused, error, lost
    card: str = ""
    booking: int | None = None
    detail: str = ""


class Client:
    """One connection to the web tier, kept alive like a browser's; cookies kept by name."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        all_headers = {"Host": HOST, "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=TIMEOUT)
        try:
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Load:
    def __init__(self, fixtures: dict[str, Any], record: Path, api: int = 2, web: int = 1) -> None:
        self.requests: deque[dict[str, Any]] = deque(fixtures["requests"])
        self.fixtures = fixtures
        self.record = record
        self.attempts: list[Attempt] = []
        self.acknowledged: dict[str, int | None] = {}  # card -> booking id (None: the web flow shows none)
        self.emails: dict[str, str] = {}  # card -> mail address given in the web flow
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._api_resident, daemon=True) for _ in range(api)]
        self._threads += [threading.Thread(target=self._web_resident, daemon=True) for _ in range(web)]
        self._threads += [threading.Thread(target=self._reader, daemon=True)]
        self.ran_out = False

    # --- control ---------------------------------------------------------------------------------------

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=TIMEOUT * 2)
        with self.record.open("w") as out:
            for attempt in self.attempts:
                out.write(json.dumps(asdict(attempt)) + "\n")

    def _next(self) -> dict[str, Any] | None:
        with self._lock:
            if not self.requests:
                self.ran_out = True
                return None
            return self.requests.popleft()

    def _note(self, attempt: Attempt) -> Attempt:
        with self._lock:
            self.attempts.append(attempt)
        return attempt

    def _exchange(
        self,
        client: Client,
        kind: str,
        card: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        refused: tuple[int, ...] = (),
        retry_lost: bool = True,
    ) -> tuple[Attempt, dict[str, str], bytes]:
        """One exchange; a lost answer is recorded and, when `retry_lost`, the same request is sent again."""
        for number in range(LOST_RETRIES + 1):
            started = time.time()
            try:
                status, got_headers, data = client.request(method, path, body, headers)
            except (OSError, http.client.HTTPException) as error:
                self._note(Attempt(kind, started, time.time(), 0, "lost", card, detail=repr(error)[:200]))
                if not retry_lost or number == LOST_RETRIES or self._stop.is_set():
                    return Attempt(kind, started, time.time(), 0, "error", card, detail="no answer"), {}, b""
                time.sleep(0.5 * (number + 1))
                continue
            outcome = "ok" if status in ok else "refused" if status in refused else "error"
            detail = "" if outcome == "ok" else data[:300].decode(errors="replace")
            return (
                self._note(Attempt(kind, started, time.time(), status, outcome, card, detail=detail)),
                got_headers,
                data,
            )
        raise AssertionError("unreachable")

    # --- residents -------------------------------------------------------------------------------------

    def _api_resident(self) -> None:
        client = Client()
        json_headers = {"Content-Type": "application/json", "Accept": "application/json"}
        while not self._stop.is_set() and (ask := self._next()):
            card = ask["reservation_number"]
            body = json.dumps({"reservation_number": card, "password": ask["password"]}).encode()
            login, _h, data = self._exchange(
                client, "api-login", card, "POST", "/api/v1/citizen/sessions/", body, json_headers, ok=(201,)
            )
            if login.outcome != "ok":
                continue
            token = json.loads(data)["token"]
            body = json.dumps(
                {"location": ask["location"], "service": "card_issuance", "start": ask["start"]}
            ).encode()
            headers = {
                **json_headers,
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": f"ha-{secrets.token_hex(12)}",
            }
            book, _h, data = self._exchange(
                client,
                "api-book",
                card,
                "POST",
                "/api/v1/citizen/booking/",
                body,
                headers,
                ok=(201,),
                refused=(409,),
            )
            if book.outcome == "ok":
                book.booking = int(json.loads(data)["id"])
                book.outcome = "booked"
                with self._lock:
                    self.acknowledged[card] = book.booking
            elif book.outcome == "refused" and b"slot_full" not in data:
                book.outcome = "error"  # e.g. already_booked for this very request: a false refusal
            time.sleep(PAUSE)

    def _csrf(self, client: Client) -> dict[str, str]:
        return {
            "X-CSRFToken": client.cookies.get("csrftoken", ""),
            "Referer": f"{ORIGIN}/",
            "Origin": ORIGIN,
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def _web_resident(self) -> None:
        while not self._stop.is_set() and (ask := self._next()):
            self._web_booking(ask)
            time.sleep(PAUSE)

    def _web_booking(self, ask: dict[str, Any]) -> None:
        client = Client()
        card = ask["reservation_number"]
        step, _h, _d = self._exchange(client, "web-login", card, "GET", "/login/")
        if step.outcome != "ok":
            return
        form = urlencode({"reservation_number": card, "password": ask["password"]}).encode()
        step, _h, _d = self._exchange(
            client, "web-login", card, "POST", "/login/", form, self._csrf(client), ok=(302,)
        )
        if step.outcome != "ok":
            return
        path = f"/book/card_issuance/{ask['location']}/{ask['day']}/"
        form = urlencode({"start": ask["start"]}).encode()
        step, _h, data = self._exchange(
            client, "web-hold", card, "POST", path, form, self._csrf(client), ok=(302,), refused=(409,)
        )
        if step.outcome != "ok":
            return
        email = f"ha-{card}@example.jp"
        form = urlencode({"phone": "0751234567", "email": email}).encode()
        step, _h, _d = self._exchange(
            client, "web-details", card, "POST", "/details/", form, self._csrf(client), ok=(302,)
        )
        if step.outcome != "ok":
            return
        step, _h, page = self._exchange(client, "web-confirm", card, "GET", "/confirm/")
        token = re.search(rb'name="form_token" value="([^"]+)"', page)
        hold = re.search(rb'name="hold" value="([^"]*)"', page)
        if step.outcome != "ok" or not token or not hold:
            step.outcome, step.detail = "error", step.detail or "no form token on the confirmation page"
            return
        form = urlencode({"form_token": token.group(1).decode(), "hold": hold.group(1).decode()}).encode()
        # a lost answer: the same form (same one-time token) again, as a browser's reload would
        step, headers, _d = self._exchange(
            client, "web-confirm", card, "POST", "/confirm/", form, self._csrf(client), ok=(302,)
        )
        if step.outcome == "ok" and headers.get("location", "").rstrip("/").endswith("/done"):
            step.outcome = "booked"
            with self._lock:
                self.acknowledged[card] = None
                self.emails[card] = email
        elif step.outcome == "ok":
            step.outcome, step.detail = "error", f"confirmation went to {headers.get('location')}"

    # --- readers ---------------------------------------------------------------------------------------

    def _reader(self) -> None:
        client, staff = Client(), Client()
        user, password = self.fixtures["staff"]
        body = json.dumps({"username": user, "password": password}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        login, _h, data = self._exchange(
            staff, "staff", "", "POST", "/api/v1/staff/sessions/", body, headers, ok=(201,)
        )
        token = json.loads(data)["token"] if login.outcome == "ok" else ""
        place, today = self.fixtures["place"], self.fixtures["today"]
        paths = [
            ("read", client, "/", {}),
            (
                "read",
                client,
                f"/api/v1/availability/?location={place}&service=card_issuance&from={today}",
                {},
            ),
            ("staff", staff, f"/api/v1/staff/bookings/?date={today}", {"Authorization": f"Bearer {token}"}),
        ]
        turn = 0
        while not self._stop.is_set():
            kind, who, path, extra = paths[turn % len(paths)]
            self._exchange(
                who, kind, "", "GET", path, headers={"Accept": "application/json", **extra}, retry_lost=False
            )
            turn += 1
            time.sleep(0.2)
