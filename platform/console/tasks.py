from celery import shared_task

from console.services import do_record_heartbeat


@shared_task(name="console.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat() -> None:
    do_record_heartbeat()
