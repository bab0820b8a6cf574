"""Gunicorn settings for the web pods (web-citizen and web-staff); the image runs
`gunicorn --config /app/gunicorn_conf.py madoguchi.wsgi:application`.

Every knob reads an environment variable so the Helm chart can size each pool on its own
(values.yaml: webCitizen.gunicorn / webStaff.gunicorn).
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# Inside a pod: every interface, so kubelet probes and the Service reach it; NetworkPolicy decides who may.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")  # noqa: S104

# gthread: a few processes with several threads each; requests mostly wait on PostgreSQL.
# GUNICORN_WORKER_CLASS (e.g. "sync", one request per process) is there for measuring (make bench-http).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("WEB_CONCURRENCY", 3)
threads = _int("GUNICORN_THREADS", 4)

# A request that takes longer than this is killed; CSV exports on the staff pool get a longer one.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (rolling update, node drain) in-flight requests get this long to finish; the chart's
# terminationGracePeriodSeconds is larger than preStop sleep + this.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the proxies' idle keep-alive to the pods (ingress-nginx: 60 s), so the proxy, not gunicorn,
# closes idle connections and never sends a request on a connection gunicorn is closing.
keepalive = _int("GUNICORN_KEEPALIVE", 75)

# Citizen pool: each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them. With one shared socket a gthread worker keeps accepting while its threads are
# busy, and a kept-alive connection stays with the worker that took it: in a flood one worker (one GIL,
# one core) was seen holding all 32 connections while the other two idled, a third of the pod's
# throughput (issue 12, docs/performance.md). The price: connections waiting in a worker's own queue when
# that worker exits (recycled after max_requests, below) are reset, not handed to its siblings; the proxy
# retries the GETs, and a booking POST is safe to send again (Idempotency-Key). Linux's
# net.ipv4.tcp_migrate_req=1 on the node hands them over instead (docs/operations.md). Staff pool: one
# shared socket (few requests; a long export must not cost a reset).
_CITIZEN_POOL = os.environ.get("MADOGUCHI_WEB_POOL", "").strip().lower() == "citizen"
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1" if _CITIZEN_POOL else "0").strip().lower() in (
    "1",
    "true",
    "yes",
)

# Recycle workers now and then so a slow leak cannot grow without bound; jitter avoids all at once. Not
# too often: a new worker pays Django's start-up and starts with cold per-process memory (host routing,
# availability answers). At 2,000 requests a worker serving a flash crowd (~300 requests/s) restarted every
# 7 s, which halved what the pool answered and made its p99 (issue 12, docs/performance.md). The chart sets
# it per pool (values.yaml: webCitizen/webStaff.gunicorn.maxRequests).
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 10_000)

# The gateways and the ingress controller are the only callers (NetworkPolicy), so their forwarded headers
# are trusted; the chart sets FORWARDED_ALLOW_IPS ("*" by default, narrow it to the pod CIDR if you like).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# No control socket (gunicorn 25.1+ opens one under $HOME for `gunicornc`): nobody runs commands inside the
# pods, the read-only root filesystem has no place for it, and it would be one more way to resize workers.
control_socket_disable = True

# Heartbeat files in /tmp, which the chart mounts as a memory-backed emptyDir (the root fs is read-only).
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/tmp")  # noqa: S108

# No access log of gunicorn's own: the application writes one JSON line per request with the tenant, the
# client's address as the trusted proxies give it and the gateway's request id (madoguchi.access_log, SO-14);
# a second line per request would double the log volume and cost every request its formatting (issue 12).
# GUNICORN_ACCESS_LOG=- turns it on (to standard output) when debugging gunicorn itself.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s xff="%({x-forwarded-for}i)s" rid="%({x-request-id}i)s" host="%({host}i)s" '
    '"%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
)
