#!/usr/bin/env bash
# What the HA rehearsal needs from Debian 12, installed as root when missing (issue 11): PostgreSQL 15,
# etcd, Patroni (Debian's, with its etcd v2 client), HAProxy, pgBackRest, Redis and Sentinel.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" DEBIAN_FRONTEND=noninteractive
missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v patroni >/dev/null || missing+=(patroni)
# Patroni's client for etcd's v2 API (ha_topology.py says why not etcd3)
/usr/bin/python3 -c 'import etcd' 2>/dev/null || missing+=(python3-etcd)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v pgbackrest >/dev/null || missing+=(pgbackrest)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v setpriv >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "the HA rehearsal needs ${missing[*]} (Debian packages): run it as root, which installs them" >&2
        exit 1
    fi
    echo "installing ${missing[*]}"
    # The packages' own services stay off (policy-rc.d): the rehearsal starts its own on loopback ports.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    [ "$made_policy" = 1 ] && rm -f "$policy"
fi
exit 0
