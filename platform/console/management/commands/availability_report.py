from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from console import availability
from console.availability_services import report_csv_bytes
from tenants.models import Municipality


class Command(BaseCommand):
    help = (
        "The monthly availability report of one municipality (BK-08): each term of "
        "(provided - (stopped - (planned + city-caused))) / provided in minutes, and the stops. "
        "--csv writes the per-day CSV (Excel-safe, UTF-8 with BOM)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema", help="the municipality's schema, e.g. kyoto")
        parser.add_argument("--month", help="YYYY-MM (Asia/Tokyo); default: last month")
        parser.add_argument("--csv", type=Path, help="also write the per-day CSV here")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Municipality.objects.filter(schema_name=options["schema"]).first()
        if tenant is None or tenant.schema_name == "public":
            raise CommandError(f"no municipality with schema {options['schema']!r}")
        try:
            year, month = (
                availability.parse_month(options["month"])
                if options["month"]
                else availability.previous_month()
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        report = availability.month_report(tenant.pk, year, month)
        t = report.totals
        figure = t.availability
        lines = [
            f"availability report {tenant.schema_name} {report.label} (Asia/Tokyo)"
            + (
                ""
                if report.complete
                else f" — month not over, up to {timezone.localtime(timezone.now()):%Y-%m-%d %H:%M}"
            ),
            f"  provided      {t.provided:>6} min"
            + (
                f"  (measured from {timezone.localtime(report.measured_from):%Y-%m-%d %H:%M})"
                if report.measured_from
                else "  (no sample yet)"
            ),
            f"  stopped       {t.stopped:>6} min  (of which {t.no_sample} without a sample)",
            f"  planned       {t.planned:>6} min",
            f"  city-caused   {t.city:>6} min",
            f"  counted       {t.counted:>6} min  = stopped - (planned + city-caused)",
            f"  availability  {figure if figure is not None else '—'} %  (target {availability.TARGET} %: "
            + ("met" if t.met else "—" if t.met is None else "NOT met")
            + ")",
            f"  samples       {report.samples} ({report.failed_samples} failed)",
        ]
        for record in report.records:
            lines.append(
                f"  {record.cause:<12} {timezone.localtime(record.starts_at):%Y-%m-%d %H:%M} – "
                f"{timezone.localtime(record.ends_at):%Y-%m-%d %H:%M}  {record.minutes} min, "
                f"{record.stopped} stopped  {record.reference}"
            )
        self.stdout.write("\n".join(lines))
        if options["csv"]:
            options["csv"].write_bytes(report_csv_bytes(report))
            self.stdout.write(f"CSV written to {options['csv']}")
