"""Django settings for Madoguchi. Everything environment-specific comes from the environment: see README."""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from integrations.sentry import init_sentry
from madoguchi.answered_again import report_kept
from madoguchi.config import env_bool, env_list, env_str, required_in_production, secret_key
from madoguchi.database import database_settings
from madoguchi.secret_paths import without_secrets

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = Path(__file__).resolve().parent

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = secret_key(DEBUG)

# The public (vendor console) host; tenants live on their own domains, locally `<name>.localhost`.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost").lower()

# Host validation is done per request by madoguchi.middleware.TenantHostMiddleware against BASE_DOMAIN and
# the tenants' Domain rows (which change at run time); unknown hosts get the 404 page before any view runs.
ALLOWED_HOSTS = ["*"]

# --- applications: the public schema (control plane) and the tenant schemas (one per municipality) ---
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "console",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "console.admin_config.VendorAdminConfig",  # the admin, as the vendor console's TOTP-gated, logged site
    "django_otp",  # operators' TOTP devices live in the public schema too (issue 13)
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "booking",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Municipality"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "madoguchi.urls_public"
ROOT_URLCONF = "madoguchi.urls_tenant"
TENANT_LIMIT_SET_CALLS = True
# migrate_schemas hands its executor only the schemas with migrations to apply (issue 12 §4)
GET_EXECUTOR_FUNCTION = "tenants.migration_executor.get_executor"
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(env_str("TENANT_MULTIPROCESSING_MAX_PROCESSES") or 2)

MIDDLEWARE = [
    "madoguchi.access_log.AccessLogMiddleware",
    # Before the host routing: the unknown host's 404 and the bulkhead's 503 get the headers too.
    "madoguchi.middleware.SecurityHeadersMiddleware",
    # a request whose database connection was lost (a failover: issue 11) is answered again, once, on a new
    # connection: everything below runs again, the host routing's tenant lookup too
    "madoguchi.lost_connection.LostConnectionRetryMiddleware",
    "madoguchi.middleware.TenantHostMiddleware",
    # after the host routing (it needs request.tenant): the vendor console only from VENDOR_ALLOWED_NETWORKS
    "console.access.VendorNetworkMiddleware",
    "madoguchi.citizen_pool.CitizenPoolMiddleware",  # the citizen pool serves no staff or vendor path
    # residents beyond what a municipality admits wait in a fair line (issue 12); fails open to the bulkhead
    "console.waiting_room.gate.WaitingRoomMiddleware",
    "madoguchi.bulkhead.BulkheadMiddleware",  # citizen requests cannot take the threads staff need
    "madoguchi.middleware.RejectNulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # the citizen API (bearer tokens, JSON) goes on through CITIZEN_API_MIDDLEWARE below, not the rest of this
    # list: it has no use for sessions, CSRF, sign-in, OTP or messages (issue 12)
    "madoguchi.api_lane.CitizenApiLaneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "madoguchi.middleware.JapaneseFirstLocaleMiddleware",
    "madoguchi.suspension.SuspendedTenantMiddleware",  # a suspended municipality's sites say so (issue 14 §3)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "madoguchi.session_limits.VendorSessionLimitMiddleware",  # vendor sessions: idle and absolute limits
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "madoguchi.middleware.MethodNotAllowedPageMiddleware",  # a page, not a blank 405, for a form's address
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# What the citizen API runs after madoguchi.api_lane, in this order, then its view: the language (its
# messages), a suspended municipality's 503, Django's common checks and CSRF. Not XFrameOptionsMiddleware:
# SecurityHeadersMiddleware (outermost) sets X-Frame-Options on every answer already, and no API view is
# exempt from it; a second pass was a cost per request for nothing (issue 12).
CITIZEN_API_MIDDLEWARE = [
    "madoguchi.middleware.JapaneseFirstLocaleMiddleware",
    "madoguchi.suspension.SuspendedTenantMiddleware",
    "django.middleware.common.CommonMiddleware",
    # the API's views are exempt; kept for the HTML error pages (404) whose language switch posts a token
    "django.middleware.csrf.CsrfViewMiddleware",
]

# Operators stay up when citizens flood in (madoguchi.bulkhead, docs/architecture.md). Per process, citizen
# requests (all but /staff/, /api/v1/staff/, the vendor console, /healthz, static files) run at most
# CITIZEN_MAX_CONCURRENT at once, CITIZEN_MAX_WAITING more wait up to CITIZEN_QUEUE_SECONDS, the rest get a
# 503 "busy, retry" at once. A waiting request holds a thread too, so by default running + waiting =
# GUNICORN_THREADS - 1 (4 threads, as gunicorn_conf.py: 2 running, 1 waiting): one thread is never held by a
# citizen. On web-citizen (MADOGUCHI_WEB_POOL=citizen), where no staff are routed, the lane may use every
# thread (no shedding: per-process lanes are small and would refuse residents at moderate load).
_WEB_THREADS = max(1, int(env_str("GUNICORN_THREADS") or 4))
# Which pool this process serves (the chart sets it): "citizen" answers 404 to staff and vendor paths
# (madoguchi.citizen_pool), "staff" or unset serves everything.
MADOGUCHI_WEB_POOL = env_str("MADOGUCHI_WEB_POOL").lower()
_CITIZEN_POOL = MADOGUCHI_WEB_POOL == "citizen"
CITIZEN_MAX_CONCURRENT = int(
    env_str("CITIZEN_MAX_CONCURRENT") or (_WEB_THREADS if _CITIZEN_POOL else max(1, _WEB_THREADS - 2))
)
CITIZEN_MAX_WAITING = int(env_str("CITIZEN_MAX_WAITING") or max(0, _WEB_THREADS - 1 - CITIZEN_MAX_CONCURRENT))
CITIZEN_QUEUE_SECONDS = float(env_str("CITIZEN_QUEUE_SECONDS") or 2)

# The booking app's rooms keep their own templates (booking/<room>/templates/), under the names they
# always had ("booking/staff/cards/list.html"); booking/templates/ holds the staff shell's. Found on disk,
# not imported: the control plane imports no tenant code.
_BOOKING_SPEC = importlib.util.find_spec("booking")
assert _BOOKING_SPEC is not None and _BOOKING_SPEC.submodule_search_locations, "the booking app is installed"
BOOKING_ROOM_TEMPLATES = sorted(
    folder
    for location in _BOOKING_SPEC.submodule_search_locations
    for folder in Path(location).glob("*/templates")
)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates", *BOOKING_ROOM_TEMPLATES],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # {% error_title_prefix %}: 「エラー: 」 in the <title> of a page showing errors (issue 15)
            # |local_date, |time_range, |aside, |ja, {% dash %}: dates, Japanese data by language (issue 15)
            "builtins": ["madoguchi.page_errors", "booking.lib.display"],
        },
    }
]

WSGI_APPLICATION = "madoguchi.wsgi.application"
ASGI_APPLICATION = "madoguchi.asgi.application"

# --- data stores ---
DATABASE_URL = required_in_production("DATABASE_URL", env_str("DATABASE_URL"), DEBUG) or (
    "postgres://postgres@127.0.0.1:5432/madoguchi"
)
# One host or several (libpq's multi-host form), always a read-write primary, with timeouts that survive a
# failover (madoguchi.database).
DATABASES = {"default": database_settings(DATABASE_URL)}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = required_in_production("REDIS_URL", env_str("REDIS_URL"), DEBUG) or "redis://127.0.0.1:6379/0"
# Redis is optional for serving (issue 11, docs/incident-response.md): the cache fails soft (a miss, a
# dropped write), an unreachable server costs at most REDIS_TIMEOUT_SECONDS once and is then left alone for
# a few seconds (madoguchi.cache), and the sign-in throttles count in memory meanwhile.
REDIS_TIMEOUT_SECONDS = float(env_str("REDIS_TIMEOUT_SECONDS") or 0.5)
CACHES = {
    "default": {
        "BACKEND": "madoguchi.cache.FailSoftRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "madoguchi"),
        "OPTIONS": {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),  # redis-py would retry 3 times with backoff: fail now instead
        },
    }
}

# --- Celery (app in madoguchi.celery); tasks are thin callers of services ---
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "Asia/Tokyo"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The workers and beat log through settings.LOGGING as the web processes do (its console handler writes every
# line without an invitation token: madoguchi.secret_paths); by default Celery replaces the root logger's
# handlers with its own at start-up. Celery's own lines keep their words, not its format (no process name, no
# colour), and a worker's --logfile no longer applies to them: nothing here uses one.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing (a web request's `delay()` after commit) fails fast when Redis is away: one try, short socket
# timeouts; queue_on_commit's callers decide what a lost message means (the booking stands).
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": 5,  # above the worker's 1-second BRPOP, which must not time out
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
CELERY_BEAT_SCHEDULE = {
    "record-heartbeat": {"task": "console.tasks.record_heartbeat", "schedule": 60.0},
    # BK-08: last month's availability report to each municipality's report addresses, on the 1st
    "availability-report": {
        "task": "console.tasks.send_availability_reports",
        # every morning, not only on the 1st: a month whose mail did not go (beat down on the 1st) goes the
        # next day; a month already mailed is never sent again
        "schedule": crontab(hour=8, minute=30),
    },
    "release-expired-holds": {
        "task": "tenants.for_each_tenant",
        "schedule": 60.0,
        "args": ["booking.release_expired_holds"],
    },
    # issue 11: mails waiting in each tenant's outbox (a kick after each booking sends most of them sooner)
    "relay-mail-outbox": {
        "task": "tenants.for_each_tenant",
        "schedule": 60.0,
        "args": ["booking.relay_mail_outbox"],
    },
    "purge-operation-log": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(hour=3, minute=30),
        "args": ["booking.purge_operation_log"],
    },
    # SO-06: a signed checkpoint of each operation log outside its schema, so it cannot be cut short unseen
    "checkpoint-operation-log": {
        "task": "tenants.for_each_tenant",
        "schedule": 300.0,
        "args": ["booking.checkpoint_operation_log"],
    },
    "delete-expired-exports": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(hour=4, minute=0),
        "args": ["booking.delete_expired_exports"],
    },
    # issue 11: the answers kept for repeated booking writes (Idempotency-Key, form tokens) live a day
    "purge-idempotent-requests": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(hour=4, minute=10),
        "args": ["booking.purge_idempotent_requests"],
    },
    # AD-03: notice letters' files hold passwords; deleted within the hour after they expire
    "delete-expired-notice-files": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(minute=20),
        "args": ["booking.delete_expired_notice_files"],
    },
    # AD-03: a card-data upload whose worker died is closed and its file (personal data) deleted
    "fail-lost-card-imports": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(minute=25),
        "args": ["booking.fail_lost_card_imports"],
    },
    "day-before-reminders": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(hour=10, minute=0),
        "args": ["booking.send_day_before_reminders"],
    },
    # CC-05: the daily report after each operating day (the task skips other days), the monthly one on the 1st
    "daily-report": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(hour=18, minute=0),
        "args": ["booking.send_daily_report"],
    },
    "monthly-report": {
        "task": "tenants.for_each_tenant",
        "schedule": crontab(hour=8, minute=0, day_of_month=1),
        "args": ["booking.send_monthly_report"],
    },
}

# --- internationalisation: Japanese first, English switchable ---
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [PROJECT_DIR / "locale"]  # package data: installed with the code
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- static files ---
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or REPO_ROOT / ".local" / "static")
STATICFILES_DIRS = [PROJECT_DIR / "static"]
# Locally and in tests whitenoise serves from the apps' static folders; production uses collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- security (IPA 安全なウェブサイトの作り方, SO-08) ---
# SO-10: 8+ characters mixing upper case, lower case, digits and symbols; stored with Argon2.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "booking.access.passwords.CharacterMixValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
OTP_TOTP_ISSUER = "Madoguchi"
# Database sessions whose save is made again when a failover cut its connection (issue 11)
SESSION_ENGINE = "madoguchi.session_store"
SESSION_COOKIE_HTTPONLY = True
# No session outlives 12 hours without a request (Django's default is 14 days). Signed-in sessions end much
# sooner (madoguchi.session_limits): residents' after 30 idle minutes, staff's after the idle and absolute
# limits their administrator sets (at most 8 hours idle), vendor operators' after these:
SESSION_COOKIE_AGE = 12 * 60 * 60
VENDOR_SESSION_IDLE_MINUTES = int(env_str("VENDOR_SESSION_IDLE_MINUTES") or 30)
VENDOR_SESSION_ABSOLUTE_HOURS = int(env_str("VENDOR_SESSION_ABSOLUTE_HOURS") or 10)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    # TLS ends at the gateways (SO-13); they forward the scheme.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # tenants' parent domains are the municipalities', not ours
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "madoguchi.api_errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {"TITLE": "Madoguchi API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False}

# --- mail ---
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
# For django.core.mail.backends.filebased.EmailBackend (the HA rehearsal counts the mails it writes there).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or None
# A hung mail server must not hold a worker: the outbox keeps the mail and the relay tries again later.
EMAIL_TIMEOUT = int(env_str("EMAIL_TIMEOUT_SECONDS") or 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"no-reply@{BASE_DOMAIN}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # no invitation token in any line, traceback included (madoguchi.secret_paths)
        "plain": {
            "()": "madoguchi.secret_paths.WithoutSecretsFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json_line": {"()": "madoguchi.access_log.JsonLineFormatter"},
    },
    "filters": {
        "without_status_lines": {"()": "madoguchi.access_log.WithoutStatusLines"},
        # a failover's first run that is answered again is no error (madoguchi.lost_connection)
        "answered_again": {"()": "madoguchi.answered_again.WithoutFirstRunsAnsweredAgain"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            # answered_again here, not on django.request: a lost session save is logged on
            # django.security.SessionInterrupted
            "filters": ["answered_again"],
        },
        "access": {"class": "madoguchi.access_log.LineHandler", "formatter": "json_line"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # an answer's status is in its access line; django.request keeps what has a traceback
        "django.request": {"filters": ["without_status_lines"]},
        "madoguchi.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        # runserver's own request lines would repeat the access log
        "django.server": {"level": "WARNING"},
        # a task's own logger (celery.utils.log.get_task_logger): Celery gives it a handler of its own, with
        # no propagation, unless it has one already (CELERY_WORKER_HIJACK_ROOT_LOGGER above)
        "celery.task": {"handlers": ["console"], "propagate": False},
    },
}

# The key of the reservation passwords' HMAC (BK-03). Apart from SECRET_KEY so that rotating that key
# does not invalidate every notice letter already in the post.
RESERVATION_PASSWORD_KEY = (
    required_in_production("RESERVATION_PASSWORD_KEY", env_str("RESERVATION_PASSWORD_KEY"), DEBUG)
    or "local-development-reservation-password-key"
)
# The key of the operation log's HMAC chain (SO-06); the database never holds it.
OPLOG_KEY = required_in_production("OPLOG_KEY", env_str("OPLOG_KEY"), DEBUG) or "local-development-oplog-key"
# Proxies (gateways, ingress) whose X-Forwarded-For is believed, as CIDR networks.
TRUSTED_PROXY_NETWORKS = env_list("TRUSTED_PROXY_NETWORKS")
# Networks (CIDRs) the vendor console (the public host) may be used from; the client address is found as
# above. With DEBUG on, loopback by default; in production it must be set: unset, the console refuses all.
VENDOR_ALLOWED_NETWORKS = env_list("VENDOR_ALLOWED_NETWORKS") or (["127.0.0.0/8", "::1/128"] if DEBUG else [])
# Where staff functions may be used from when a tenant lists no allowed networks of its own (SO-10, AD-01):
# the platform's LGWAN and call-center networks, as CIDRs. A tenant's own list, once it has one, replaces
# these. Empty in production: staff functions are closed everywhere until it is set (deny by default; the
# start-up log and the refusal page say so). With DEBUG on it defaults to loopback, so that `make run` works
# from the same machine.
STAFF_DEFAULT_NETWORKS = env_list("STAFF_DEFAULT_NETWORKS") or (["127.0.0.0/8", "::1/128"] if DEBUG else [])
for _network in STAFF_DEFAULT_NETWORKS:  # a typo stops the start, not every staff request later
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"STAFF_DEFAULT_NETWORKS: not a network (CIDR): {_network!r}") from _exc

SENTRY_DSN = env_str("SENTRY_DSN")
init_sentry(
    SENTRY_DSN,
    environment=env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production"),
    scrub=without_secrets,
    keep=report_kept,
)
