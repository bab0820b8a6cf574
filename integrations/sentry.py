"""Error reporting to Sentry: active only when SENTRY_DSN is set."""

from __future__ import annotations


def init_sentry(dsn: str, environment: str) -> bool:
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Residents' personal data must not leave the service (BK-06): no request bodies, no user details.
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
    )
    return True
