from __future__ import annotations

import functools
import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from console import probe
from console.availability_services import Sample, do_ensure_probe_account, do_record_samples
from tenants.queries import customer_tenants

logger = logging.getLogger(__name__)
MAX_PENDING = 7 * 24 * 60 * 20  # samples kept while the database is away (a week of 20 municipalities)


def targets() -> list[probe.Target]:
    """Every municipality with a host, with its probe card (made the first time it is probed)."""
    found = []
    for tenant in customer_tenants():
        domains = sorted(tenant.domains.all(), key=lambda d: (not d.is_primary, d.pk))
        if not domains:
            continue
        if tenant.suspended:  # its sites answer "suspended": recorded as such, its probe card left alone
            found.append(
                probe.Target(tenant.pk, tenant.schema_name, domains[0].domain, "", "", suspended=True)
            )
            continue
        try:
            account = do_ensure_probe_account(tenant)
        except Exception:  # one municipality's schema (say, one being made) must not cost the others a round
            logger.exception("prober: no probe card for %s; not probed this round", tenant.schema_name)
            continue
        found.append(
            probe.Target(
                tenant.pk, tenant.schema_name, domains[0].domain, account.reservation_number, account.password
            )
        )
    return found


class Command(BaseCommand):
    help = (
        "The external prober (BK-08): check every municipality's public site through the gateway (top page, "
        "availability, a sign-in with the probe card) and record one sample each. Runs every --interval "
        "seconds, or one round with --once (a CronJob)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="https://{domain}",
            help="the internet gateway; {domain} is each municipality's host, else the Host header names it",
        )
        parser.add_argument(
            "--once", action="store_true", help="one round, then exit (non-zero if unrecorded)"
        )
        parser.add_argument("--interval", type=int, default=60, help="seconds between rounds (10 to 60)")
        parser.add_argument(
            "--forwarded-proto",
            choices=["https"],
            default="",
            help="send X-Forwarded-Proto as the TLS gateway does, when --base-url is the web tier itself",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url: str = options["base_url"]
        problem = probe.base_url_problem(base_url)
        if problem:
            raise CommandError(problem)
        interval: int = options["interval"]
        if not 10 <= interval <= 60:
            # the report counts a minute without a sample (after one minute's grace) as stopped
            raise CommandError("--interval must be 10 to 60 seconds: the report needs a sample every minute")
        checker = functools.partial(probe.check, forwarded_proto=options["forwarded_proto"])
        if options["once"]:
            samples = probe.probe_all(targets(), base_url, checker=checker)
            do_record_samples(samples)
            self._report(samples)
            return
        pending: list[Sample] = []
        known: list[probe.Target] = []
        while True:
            # rounds start on the clock's multiples of the interval, so a slow round never shifts the next
            time.sleep(interval - time.time() % interval)
            try:
                close_old_connections()
                known = targets()
            except Exception:
                logger.exception("prober: municipalities not read; probing the last known %d", len(known))
            pending.extend(probe.probe_all(known, base_url, checker=checker))
            try:
                do_record_samples(pending)
            except Exception:
                # the database is away: the samples wait for the next round (a failed check is still a sample)
                logger.exception("prober: samples not recorded yet (%d waiting)", len(pending))
                pending = pending[-MAX_PENDING:]
                continue
            self._report(pending)
            pending = []

    def _report(self, samples: list[Sample]) -> None:
        failed = [s for s in samples if not s.ok]
        self.stdout.write(f"probed {len(samples)} municipalities, {len(failed)} failed")
        for sample in failed:
            self.stdout.write(f"  failed: tenant {sample.tenant_id}: {sample.reason}")
