"""Outgoing mail, through Django's mail backends (SMTP in production, the outbox in tests)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage


def send_text_mail(to: str, subject: str, body: str) -> None:
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]).send()
