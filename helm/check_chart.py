"""Offline checks of the madoguchi chart: lint, render, schema-validate, and the invariants we rely on.

Needs no cluster and no `helm` binary: Helm's own Go SDK through helm-python-sdk, and the Kubernetes OpenAPI
schemas shipped in kubernetes-validate. In a throwaway virtualenv:

    python3 -m venv /tmp/chartcheck
    /tmp/chartcheck/bin/pip install helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 PyYAML
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

# Value sets to render: the defaults, and the switches that change which objects exist.
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "no-autoscaling": {"webCitizen": {"autoscaling": {"enabled": False}}},
    "no-networkpolicy-egress": {"networkPolicy": {"egress": {"enabled": False}}},
    "no-networkpolicy": {"networkPolicy": {"enabled": False}},
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
REQUIRED: dict[str, Any] = {"config": {"trustedProxyNetworks": ["10.244.0.0/16"]}}

# Value sets the chart must refuse to render, and the words its message must contain.
REFUSED_FOR_PROXIES = "config.trustedProxyNetworks is empty"
REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    # Issue 13, finding 9: with no trusted proxies every client shares the ingress controller's address.
    "no-trusted-proxies": ({}, REFUSED_FOR_PROXIES),
    "empty-trusted-proxies": ({"config": {"trustedProxyNetworks": []}}, REFUSED_FOR_PROXIES),
}


def with_required(values: dict[str, Any]) -> dict[str, Any]:
    merged = {**REQUIRED, **values}
    merged["config"] = {**REQUIRED["config"], **values.get("config", {})}
    return merged


def refusal_problems() -> list[str]:
    """Each value set of REFUSALS must fail to render, with its message."""
    problems = []
    for name, (values, words) in REFUSALS.items():
        try:
            render(values)
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

    expected = {f"madoguchi-{c}" for c in ("web-citizen", "web-staff", "worker", "beat")}
    if set(deployments) != expected:
        problems.append(f"deployments are {sorted(deployments)}, expected {sorted(expected)}")

    beat = deployments.get("madoguchi-beat")
    if beat and (beat["spec"].get("replicas") != 1 or beat["spec"]["strategy"]["type"] != "Recreate"):
        problems.append("beat must have exactly 1 replica and the Recreate strategy")

    for name, doc in [*deployments.items(), *jobs.items()]:
        spec = pod_spec(doc)
        if not spec["securityContext"].get("runAsNonRoot"):
            problems.append(f"{name}: pod is not runAsNonRoot")
        for container in spec["containers"]:
            csc = container.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem") or csc.get("allowPrivilegeEscalation") is not False:
                problems.append(
                    f"{name}/{container['name']}: root fs not read-only or privilege escalation on"
                )
            if not any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", [])):  # noqa: S108
                problems.append(f"{name}/{container['name']}: no writable /tmp")
            if "memory" not in container.get("resources", {}).get("limits", {}):
                problems.append(f"{name}/{container['name']}: no memory limit")
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
        if set(hooks.split(",")) != {"pre-install", "pre-upgrade"}:
            problems.append(f"migrate Job hook is {hooks!r}")
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
    if "madoguchi-beat" in pdbs:
        problems.append("a PodDisruptionBudget for beat would block node drains")
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
