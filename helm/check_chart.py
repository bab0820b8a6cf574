"""Offline checks of the madoguchi chart: lint, render, schema-validate, and the invariants we rely on.

Needs no cluster and no `helm` binary: Helm's own Go SDK through helm-python-sdk, and the Kubernetes OpenAPI
schemas shipped in kubernetes-validate. In a throwaway virtualenv:

    python3 -m venv /tmp/chartcheck
    /tmp/chartcheck/bin/pip install helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 PyYAML==6.0.4
    /tmp/chartcheck/bin/python helm/check_chart.py

Exit status 0 when every check passes; the failures are listed otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

CHART = Path(__file__).resolve().parent / "madoguchi"
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schemas shipped.
KUBE_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]

# Custom resources (CloudNativePG and its Barman Cloud plugin), which kubernetes-validate has no schema for.
CUSTOM_KINDS = {"Cluster", "ObjectStore", "ScheduledBackup"}

# Value sets to render: the defaults, and the switches that change which objects exist.
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "no-prober": {"prober": {"enabled": False}},
    "prober-own-namespace-made": {
        "prober": {"createNamespace": True, "baseUrl": "https://gateway.example.jp"}
    },
    "no-autoscaling": {"webCitizen": {"autoscaling": {"enabled": False}}},
    "no-networkpolicy-egress": {"networkPolicy": {"egress": {"enabled": False}}},
    "no-networkpolicy": {"networkPolicy": {"enabled": False}},
    # Issue 11: managed services instead of the chart's PostgreSQL and Redis.
    "external-database": {"database": {"cnpg": {"enabled": False}}},
    "external-redis": {"redis": {"enabled": False}},
    "external-both": {"database": {"cnpg": {"enabled": False}}, "redis": {"enabled": False}},
    "two-zone-strict": {"database": {"cnpg": {"synchronous": {"number": 2}}}},
    "production-like": {
        "image": {"digest": "sha256:" + "0" * 64},
        "imagePullSecrets": [{"name": "registry-credentials"}],
        "serviceAccountName": "madoguchi",
        "webStaff": {
            "priorityClassName": "madoguchi-staff",
            "secretKeyOverrides": {"DATABASE_URL": "DB_STAFF"},
        },
        "config": {
            "extraEnv": {"CACHE_KEY_PREFIX": "prod"},
            "csrfTrustedOrigins": ["https://extra.example.jp"],
            "trustedProxyNetworks": ["10.244.0.0/16", "10.30.0.0/24"],
        },
        "networkPolicy": {
            "egress": {
                "rules": [
                    {
                        "name": "postgresql",
                        "ports": [{"port": 5432}],
                        "to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}],
                    }
                ]
            }
        },
    },
}


# Values every scenario needs because the chart refuses to render without them; a scenario's own win.
BACKUP_DESTINATION = "s3://madoguchi-backups/pg/"
REQUIRED: dict[str, Any] = {
    "config": {"trustedProxyNetworks": ["10.244.0.0/16"]},
    "database": {"cnpg": {"backup": {"destinationPath": BACKUP_DESTINATION}}},
}
NO_BACKUP = {"database": {"cnpg": {"backup": {"destinationPath": ""}}}}

# Value sets the chart must refuse to render (on top of REQUIRED), and the words its message must contain.
REFUSED_FOR_PROXIES = "config.trustedProxyNetworks is empty"
REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    # Issue 13, finding 9: with no trusted proxies every client shares the ingress controller's address.
    "no-trusted-proxies": ({"config": {"trustedProxyNetworks": None}}, REFUSED_FOR_PROXIES),
    "empty-trusted-proxies": ({"config": {"trustedProxyNetworks": []}}, REFUSED_FOR_PROXIES),
    # Issue 11: a database without a backup destination, a synchronous cluster too small to survive the
    # loss of a standby, and an external database or Redis without its URL.
    "no-backup-destination": (NO_BACKUP, "database.cnpg.backup.destinationPath is required"),
    "two-instances": ({"database": {"cnpg": {"instances": 2}}}, "must be at least 3"),
    # BK-08: the prober checks from outside the release, never from its namespace
    "prober-in-release-namespace": (
        {"prober": {"namespace": "madoguchi"}},
        "must not be the release's namespace",
    ),
    "external-database-without-url": (
        {"database": {"cnpg": {"enabled": False}}, "secret": {"keys": {"DATABASE_URL": ""}}},
        "secret.keys.DATABASE_URL is required",
    ),
    "external-redis-without-url": (
        {"redis": {"enabled": False}, "secret": {"keys": {"REDIS_URL": ""}}},
        "secret.keys.REDIS_URL is required",
    ),
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_required(values: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(REQUIRED, values)


def refusal_problems() -> list[str]:
    """Each value set of REFUSALS must fail to render, with its message."""
    problems = []
    for name, (values, words) in REFUSALS.items():
        try:
            render(with_required(values))
        except helm.HelmError as exc:
            if words not in str(exc):
                problems.append(f"{name}: refused, but the message lacks {words!r}: {exc}")
            continue
        problems.append(f"{name}: rendered, but the chart must refuse it ({words})")
    return problems


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name="madoguchi", namespace="madoguchi", is_install=True)
    docs = []
    for path, text in sorted(files.items()):
        if not path.endswith(".yaml"):
            continue  # NOTES.txt
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                doc["_source"] = path
                docs.append(doc)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def invariants(docs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    jobs = by_kind(docs, "Job")

    cnpg = values.get("database", {}).get("cnpg", {}).get("enabled", True)
    own_redis = values.get("redis", {}).get("enabled", True)
    app = {f"madoguchi-{c}" for c in ("web-citizen", "web-staff", "worker", "beat")}
    expected = app | ({"madoguchi-redis-proxy"} if own_redis else set())
    if set(deployments) != expected:
        problems.append(f"deployments are {sorted(deployments)}, expected {sorted(expected)}")

    beat = deployments.get("madoguchi-beat")
    if beat and (beat["spec"].get("replicas") != 1 or beat["spec"]["strategy"]["type"] != "Recreate"):
        problems.append("beat must have exactly 1 replica and the Recreate strategy")

    app_pods = [(n, d) for n, d in deployments.items() if n in app] + list(jobs.items())
    for name, doc in [*deployments.items(), *jobs.items(), *by_kind(docs, "StatefulSet").items()]:
        spec = pod_spec(doc)
        if not spec["securityContext"].get("runAsNonRoot"):
            problems.append(f"{name}: pod is not runAsNonRoot")
        for container in spec["containers"]:
            csc = container.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem") or csc.get("allowPrivilegeEscalation") is not False:
                problems.append(
                    f"{name}/{container['name']}: root fs not read-only or privilege escalation on"
                )
            if "memory" not in container.get("resources", {}).get("limits", {}):
                problems.append(f"{name}/{container['name']}: no memory limit")
    for name, doc in app_pods:
        for container in pod_spec(doc)["containers"]:
            if not any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", [])):  # noqa: S108
                problems.append(f"{name}/{container['name']}: no writable /tmp")
            env_names = {e["name"] for e in container.get("env", [])}
            for required in (
                "SECRET_KEY",
                "RESERVATION_PASSWORD_KEY",
                "OPLOG_KEY",
                "DATABASE_URL",
                "REDIS_URL",
            ):
                if required not in env_names:
                    problems.append(f"{name}/{container['name']}: {required} not from the Secret")

    for pool in ("web-citizen", "web-staff"):
        web = deployments.get(f"madoguchi-{pool}")
        if not web:
            continue
        container = pod_spec(web)["containers"][0]
        if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            problems.append(f"{pool}: readiness probe is not GET /healthz")
        if "livenessProbe" not in container:
            problems.append(f"{pool}: no liveness probe")
        zones = [
            c
            for c in pod_spec(web).get("topologySpreadConstraints", [])
            if c["topologyKey"] == "topology.kubernetes.io/zone"
        ]
        if not zones:
            problems.append(f"{pool}: not spread over zones")
        svc = services.get(f"madoguchi-{pool}")
        if not svc or svc["spec"]["selector"] != web["spec"]["selector"]["matchLabels"]:
            problems.append(f"{pool}: Service missing or selecting other pods than the Deployment")

    citizen_sel = deployments["madoguchi-web-citizen"]["spec"]["selector"]["matchLabels"]
    staff_sel = deployments["madoguchi-web-staff"]["spec"]["selector"]["matchLabels"]
    if citizen_sel == staff_sel:
        problems.append("web-citizen and web-staff select the same pods")

    job = jobs.get("madoguchi-migrate")
    if not job:
        problems.append("no migrate Job")
    else:
        hooks = job["metadata"]["annotations"].get("helm.sh/hook", "")
        # With the chart's own database the first migration must run after it exists (post-install).
        expected_hooks = {"post-install" if cnpg else "pre-install", "pre-upgrade"}
        if set(hooks.split(",")) != expected_hooks:
            problems.append(f"migrate Job hook is {hooks!r}, expected {sorted(expected_hooks)}")
        if any("configMapRef" in str(c.get("envFrom", "")) for c in pod_spec(job)["containers"]):
            problems.append(
                "migrate Job refers to the ConfigMap, which does not exist yet on a first install"
            )

    ingresses = by_kind(docs, "Ingress")
    routes = {"madoguchi-internet": "madoguchi-web-citizen", "madoguchi-lgwan": "madoguchi-web-staff"}
    for ing_name, svc_name in routes.items():
        ing = ingresses.get(ing_name)
        if not ing:
            problems.append(f"no Ingress {ing_name}")
            continue
        if not ing["spec"].get("tls"):
            problems.append(f"{ing_name}: no TLS")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if path["backend"]["service"]["name"] != svc_name:
                    problems.append(
                        f"{ing_name}: {rule['host']} goes to {path['backend']['service']['name']}"
                    )
    internet_hosts = {
        r["host"] for r in ingresses.get("madoguchi-internet", {"spec": {"rules": []}})["spec"]["rules"]
    }
    config_maps = by_kind(docs, "ConfigMap")
    base_domain = config_maps["madoguchi-config"]["data"]["BASE_DOMAIN"]
    if base_domain in internet_hosts:
        problems.append("the vendor console (BASE_DOMAIN) is routed from the internet ingress")

    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    autoscaled = values.get("webCitizen", {}).get("autoscaling", {}).get("enabled", True)
    if autoscaled:
        hpa = hpas.get("madoguchi-web-citizen")
        if not hpa or hpa["spec"]["scaleTargetRef"]["name"] not in deployments:
            problems.append("HPA missing or pointing at no Deployment")
        if "replicas" in deployments["madoguchi-web-citizen"]["spec"]:
            problems.append("web-citizen sets replicas although the HPA owns them")
    elif hpas:
        problems.append("HPA rendered although autoscaling is disabled")

    pdbs = by_kind(docs, "PodDisruptionBudget")
    for component in ("web-citizen", "web-staff", "worker"):
        if f"madoguchi-{component}" not in pdbs:
            problems.append(f"no PodDisruptionBudget for {component}")
    # Issue 11: beat has a budget, and it must allow evicting beat's only pod (or node drains block).
    beat_pdb = pdbs.get("madoguchi-beat")
    if not beat_pdb:
        problems.append("no PodDisruptionBudget for beat")
    elif "minAvailable" in beat_pdb["spec"] or beat_pdb["spec"].get("maxUnavailable") != 1:
        problems.append("beat's PodDisruptionBudget must be maxUnavailable: 1 (anything else blocks drains)")
    problems += prober_problems(docs, values)
    problems += database_problems(docs, app_pods, cnpg)
    problems += redis_problems(docs, app_pods, pdbs, own_redis)
    return problems


def prober_problems(docs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    """BK-08: the external prober is a CronJob in a namespace of its own, every minute, one round at a time,
    checking the sites through the internet gateway with `manage.py probe --once`."""
    if values.get("prober", {}).get("enabled", True) is False:
        return [] if not by_kind(docs, "CronJob") else ["prober disabled, yet a CronJob is rendered"]
    cronjob = by_kind(docs, "CronJob").get("madoguchi-prober")
    if cronjob is None:
        return ["no CronJob madoguchi-prober (the external prober, BK-08)"]
    problems = []
    namespace = cronjob["metadata"].get("namespace")
    if not namespace or namespace == "madoguchi":
        problems.append(f"the prober must run in a namespace of its own, not {namespace!r}")
    spec = cronjob["spec"]
    if spec.get("schedule") != "* * * * *" or spec.get("concurrencyPolicy") != "Forbid":
        problems.append("the prober must run every minute with concurrencyPolicy Forbid")
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    command = container.get("command", [])
    if command[:4] != ["python", "manage.py", "probe", "--once"] or not any(
        c.startswith("--base-url=") for c in command
    ):
        problems.append(f"the prober must run `manage.py probe --once --base-url=…`, not {command}")
    secrets = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
    if not secrets or "madoguchi-env" in secrets:
        problems.append(
            "the prober needs a Secret of its own namespace (a Secret is not read across namespaces)"
        )
    return problems


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def database_problems(
    docs: list[dict[str, Any]], app_pods: list[tuple[str, dict[str, Any]]], cnpg: bool
) -> list[str]:
    """The CNPG Cluster, its backups, and where the app's DATABASE_URL comes from (issue 11).

    kubernetes-validate has no schema for custom resources: the fields we rely on are asserted here.
    """
    problems: list[str] = []
    clusters = by_kind(docs, "Cluster")
    stores = by_kind(docs, "ObjectStore")
    scheduled = by_kind(docs, "ScheduledBackup")
    if not cnpg:
        if clusters or stores or scheduled:
            problems.append("database.cnpg.enabled is false, yet CNPG objects were rendered")
        for name, doc in app_pods:
            for container in pod_spec(doc)["containers"]:
                url = env_of(container).get("DATABASE_URL", {})
                ref = url.get("valueFrom", {}).get("secretKeyRef", {})
                if ref.get("name") != "madoguchi-env" or not ref.get("key"):
                    problems.append(f"{name}: DATABASE_URL does not come from the external Secret")
        return problems

    cluster = clusters.get("madoguchi-pg")
    if not cluster:
        return [*problems, "no CNPG Cluster madoguchi-pg"]
    spec = cluster["spec"]
    if cluster.get("apiVersion") != "postgresql.cnpg.io/v1":
        problems.append(f"Cluster apiVersion is {cluster.get('apiVersion')}")
    if spec.get("instances") != 3:
        problems.append(f"Cluster has {spec.get('instances')} instances, expected 3")
    sync = spec.get("postgresql", {}).get("synchronous", {})
    if sync.get("method") != "any" or sync.get("number", 0) < 1:
        problems.append(f"Cluster is not synchronous (ANY n >= 1): {sync}")
    if sync.get("dataDurability") != "required":
        problems.append("Cluster's synchronous dataDurability is not 'required'")
    if spec.get("enablePDB") is not True:
        problems.append("Cluster does not let CNPG make its PodDisruptionBudgets (enablePDB)")
    if spec.get("affinity", {}).get("podAntiAffinityType") != "required":
        problems.append("Cluster instances may share a node (podAntiAffinityType is not required)")
    zones = [
        c
        for c in spec.get("topologySpreadConstraints", [])
        if c["topologyKey"] == "topology.kubernetes.io/zone"
    ]
    if not zones or zones[0].get("whenUnsatisfiable") != "DoNotSchedule":
        problems.append("Cluster instances are not spread over zones as a rule")
    if not spec.get("storage", {}).get("size") or "memory" not in spec.get("resources", {}).get("limits", {}):
        problems.append("Cluster has no storage size or no memory limit")
    if cluster["metadata"]["annotations"].get("helm.sh/resource-policy") != "keep":
        problems.append("helm uninstall would delete the Cluster (and its volumes)")
    archivers = [
        p
        for p in spec.get("plugins", [])
        if p.get("name") == "barman-cloud.cloudnative-pg.io" and p.get("isWALArchiver")
    ]
    store_name = archivers[0]["parameters"]["barmanObjectName"] if archivers else None
    if not archivers:
        problems.append("Cluster has no Barman Cloud WAL archiver")
    if "backup" in spec:
        problems.append("Cluster uses the deprecated in-tree backup stanza")
    store = stores.get(store_name or "")
    if not store or store.get("apiVersion") != "barmancloud.cnpg.io/v1":
        problems.append(f"no barmancloud.cnpg.io/v1 ObjectStore {store_name!r} for the WAL archiver")
    else:
        conf = store["spec"]["configuration"]
        if conf.get("destinationPath") != BACKUP_DESTINATION:
            problems.append(f"ObjectStore destinationPath is {conf.get('destinationPath')!r}")
        creds = conf.get("s3Credentials", {})
        if not all(creds.get(k, {}).get("name") for k in ("accessKeyId", "secretAccessKey")):
            problems.append("ObjectStore credentials do not come from a Secret")
        if not store["spec"].get("retentionPolicy"):
            problems.append("ObjectStore has no retention policy")
    daily = scheduled.get("madoguchi-pg-daily")
    if not daily:
        problems.append("no ScheduledBackup madoguchi-pg-daily")
    else:
        dspec = daily["spec"]
        fields = str(dspec.get("schedule", "")).split()
        if len(fields) != 6 or fields[3:] != ["*", "*", "*"]:
            problems.append(f"ScheduledBackup is not daily (six-field cron): {dspec.get('schedule')!r}")
        if dspec.get("cluster", {}).get("name") != "madoguchi-pg" or dspec.get("method") != "plugin":
            problems.append("ScheduledBackup does not back up the Cluster through the plugin")
        if dspec.get("pluginConfiguration", {}).get("name") != "barman-cloud.cloudnative-pg.io":
            problems.append("ScheduledBackup does not use the Barman Cloud plugin")

    for name, doc in app_pods:
        for container in pod_spec(doc)["containers"]:
            env = env_of(container)
            names = list(env)
            url = env.get("DATABASE_URL", {})
            if "valueFrom" in url:
                continue  # a pool's own role from the Secret (secretKeyOverrides)
            value = url.get("value", "")
            ref = env.get("MADOGUCHI_PG_URI", {}).get("valueFrom", {}).get("secretKeyRef", {})
            if ref != {"name": "madoguchi-pg-app", "key": "uri"}:
                problems.append(f"{name}: the database URL does not come from the CNPG app Secret")
            elif names.index("MADOGUCHI_PG_URI") > names.index("DATABASE_URL"):
                problems.append(f"{name}: DATABASE_URL refers to a variable defined after it")
            if not value.startswith("$(MADOGUCHI_PG_URI)?") or "target_session_attrs=read-write" not in value:
                problems.append(
                    f"{name}: DATABASE_URL is not the -rw URI with target_session_attrs=read-write"
                )
            if "sslmode=verify-full" not in value:
                problems.append(f"{name}: DATABASE_URL does not verify the server certificate")
    return problems


def redis_problems(
    docs: list[dict[str, Any]],
    app_pods: list[tuple[str, dict[str, Any]]],
    pdbs: dict[str, dict[str, Any]],
    own_redis: bool,
) -> list[str]:
    """Redis with Sentinel behind a proxy that follows the primary (issue 11)."""
    problems: list[str] = []
    sets = by_kind(docs, "StatefulSet")
    if not own_redis:
        if sets:
            problems.append("redis.enabled is false, yet a Redis StatefulSet was rendered")
        return problems
    redis = sets.get("madoguchi-redis-node")
    if not redis:
        return ["no Redis StatefulSet madoguchi-redis-node"]
    if redis["spec"].get("replicas") != 3:
        problems.append("Redis must have 3 pods (a sentinel quorum of 2 survives one loss)")
    containers = {c["name"] for c in pod_spec(redis)["containers"]}
    if containers != {"redis", "sentinel"}:
        problems.append(f"Redis pods run {sorted(containers)}, expected redis and sentinel")
    if "madoguchi-redis" not in pdbs:
        problems.append("no PodDisruptionBudget for Redis")
    proxy_svc = by_kind(docs, "Service").get("madoguchi-redis")
    proxy = by_kind(docs, "Deployment").get("madoguchi-redis-proxy")
    if (
        not proxy_svc
        or not proxy
        or proxy_svc["spec"]["selector"] != proxy["spec"]["selector"]["matchLabels"]
    ):
        problems.append("the Service madoguchi-redis does not select the Redis proxy")
    for name, doc in app_pods:
        for container in pod_spec(doc)["containers"]:
            url = env_of(container).get("REDIS_URL", {})
            if "valueFrom" not in url and "@madoguchi-redis:6379/" not in url.get("value", ""):
                problems.append(f"{name}: REDIS_URL does not point at the Redis proxy")
    return problems


def main() -> int:
    failures: list[str] = []
    lint = helm.lint(str(CHART), with_required({}), strict=True)
    # Severity 1 is INFO (e.g. "icon is recommended"); anything above is a finding.
    for message in lint.get("messages", []):
        if message["severity"] > 1:
            failures.append(f"lint: {message['path']}: {message['error']}")
    failures += [f"lint: {e}" for e in lint.get("errors", [])]
    messages, errors = lint.get("messages", []), lint.get("errors", [])
    print(f"helm lint --strict: {len(messages)} message(s), {len(errors)} error(s)")

    for scenario, values in SCENARIOS.items():
        try:
            docs = render(with_required(values))
        except helm.HelmError as exc:
            failures.append(f"{scenario}: render failed: {exc}")
            continue
        checked = 0
        for doc in docs:
            source = doc.pop("_source")
            if doc["kind"] in CUSTOM_KINDS:
                continue  # no OpenAPI schema shipped: checked field by field in database_problems
            for version in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    failures.append(
                        f"{scenario}: {source} {doc['kind']} (Kubernetes {version}): {exc.message}"
                    )
                checked += 1
        found = invariants(docs, values)
        failures += [f"{scenario}: {p}" for p in found]
        print(f"{scenario}: {len(docs)} objects, {checked} schema validations, {len(found)} problem(s)")

    refused = refusal_problems()
    failures += [f"refusal: {p}" for p in refused]
    print(f"refusals: {len(REFUSALS)} value set(s) the chart must refuse, {len(refused)} problem(s)")

    for failure in failures:
        print("FAIL", failure)
    print(
        f"chart check: all {len(SCENARIOS)} scenarios pass"
        if not failures
        else f"chart check: {len(failures)} failure(s)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
