"""Thin Celery tasks for webhook deliveries. They never touch a video: a slow receiver costs only its own task.

A delivery's schedule lives in the database (`next_attempt_at`); a task's countdown is only a shortcut, and
`deliveries_due_task` re-sends anything whose message was lost or whose retry lies beyond a safe countdown.
"""

from __future__ import annotations

from celery import shared_task

SHORTCUT_MAX = 600  # longer waits are left to the sweep: brokers redeliver long-ETA messages unpredictably


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def delivery_send_task(delivery_id: int) -> None:
    from webhooks import services

    delay = services.delivery_attempt(delivery_id)
    if delay is not None and delay <= SHORTCUT_MAX:
        delivery_send_task.apply_async((delivery_id,), countdown=delay)


@shared_task(acks_late=True)
def deliveries_due_task() -> None:
    from webhooks import services

    for pk in services.deliveries_due():
        delivery_send_task.delay(pk)
    services.messages_prune()
