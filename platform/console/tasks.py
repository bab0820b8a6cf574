from celery import shared_task

from console.availability_services import do_purge_samples, do_send_availability_reports
from console.services import do_record_heartbeat


@shared_task(name="console.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat() -> None:
    do_record_heartbeat()


@shared_task(
    name="console.tasks.send_availability_reports",
    autoretry_for=(Exception,),
    retry_backoff=60,
    max_retries=5,
)
def send_availability_reports() -> int:
    """BK-08: from the 1st, last month's availability report to every municipality's report addresses (a
    later morning sends a month the 1st missed; a retry sends only those not sent yet); then samples past
    their retention are purged (after: a purge beyond the statement timeout never holds mails back)."""
    sent = do_send_availability_reports()
    do_purge_samples()
    return sent
