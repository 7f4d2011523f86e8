"""Validates every Kubernetes object of the project offline.

The CRDs (k8s/crds), the rendered data plane, base and every overlay (`kubectl kustomize`, the
kubectl $KUBECTL names), and every object the listener and operator would send (JSON files in
$OBJECTS, written by the Rust test), are checked against the official Kubernetes schemas
(kubernetes-validate, strict: unknown fields fail) for $K8S_VERSION. LGPs are also checked
against the CRD's own openAPIV3Schema. Objects of other projects' CRDs (KEDA, the Gateway API,
GKE's policies, Config Connector, External Secrets, ACK's WAF) have no schema in
kubernetes-validate and are checked against what their published CRDs require. Prints a JSON
summary; exits non-zero on the first invalid object.
"""

import json
import os
import pathlib
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = os.environ.get("K8S_VERSION", "1.33")


def fail(what, error):
    print(f"{what}: {error}", file=sys.stderr)
    sys.exit(1)


def crd_schema():
    crd = yaml.safe_load((ROOT / "k8s/crds/lgps.apps.langchain.ai.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def strip_extensions(schema):
    """The CRD schema as JSON Schema: Kubernetes' x- keys dropped."""
    if isinstance(schema, dict):
        return {k: strip_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [strip_extensions(v) for v in schema]
    return schema


# Cloud Armor's rate-limit intervals, and AWS WAF's rate-based evaluation windows.
ARMOR_INTERVALS = {10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600}
WAF_WINDOWS = {60, 120, 300, 600}


def armor_rules(o):
    rules = o["spec"]["rule"]
    priorities = [r["priority"] for r in rules]
    assert len(set(priorities)) == len(priorities), "duplicate rule priorities"
    for r in rules:
        assert r["action"] in ("allow", "throttle", "rate_based_ban") or r["action"].startswith("deny"), r["action"]
        assert "expr" in r["match"] or "versionedExpr" in r["match"], r
        if r["action"] == "throttle":
            limit = r["rateLimitOptions"]["rateLimitThreshold"]
            assert limit["count"] > 0 and limit["intervalSec"] in ARMOR_INTERVALS, r["description"]
            assert r["rateLimitOptions"]["exceedAction"] == "deny(429)", r["description"]
    assert max(priorities) == 2147483647, "no default rule"
    return True


def waf_rules(o):
    spec = o["spec"]
    assert spec["scope"] in ("REGIONAL", "CLOUDFRONT") and "defaultAction" in spec and "visibilityConfig" in spec
    priorities = [r["priority"] for r in spec["rules"]]
    assert len(set(priorities)) == len(priorities), "duplicate rule priorities"
    for r in spec["rules"]:
        rate = r["statement"]["rateBasedStatement"]
        assert rate["limit"] >= 10 and rate["evaluationWindowSec"] in WAF_WINDOWS, r["name"]
        assert rate["aggregateKeyType"] in ("IP", "CUSTOM_KEYS", "FORWARDED_IP", "CONSTANT"), r["name"]
        assert r["action"]["block"]["customResponse"]["responseCode"] == 429, r["name"]
    return True


def target_service(o):
    return o["spec"]["targetRef"]["kind"] == "Service" and o["spec"]["targetRef"]["name"]


# What the CRDs of other projects require of the objects we write.
FOREIGN = {
    ("keda.sh/v1alpha1", "ScaledObject"): lambda o: o["spec"]["scaleTargetRef"]["name"] and isinstance(o["spec"]["triggers"], list)
    and all("type" in t and "metadata" in t for t in o["spec"]["triggers"]),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): lambda o: isinstance(o["spec"]["parentRefs"], list)
    and all("backendRefs" in r for r in o["spec"]["rules"]),
    ("gateway.networking.k8s.io/v1", "Gateway"): lambda o: o["spec"]["gatewayClassName"]
    and all(listener["name"] and listener["port"] and listener["protocol"] for listener in o["spec"]["listeners"]),
    ("networking.gke.io/v1", "HealthCheckPolicy"): lambda o: target_service(o)
    and o["spec"]["default"]["config"]["type"] in ("HTTP", "HTTPS", "HTTP2"),
    ("networking.gke.io/v1", "GCPBackendPolicy"): lambda o: target_service(o) and isinstance(o["spec"]["default"], dict),
    ("networking.gke.io/v1", "GCPHTTPFilter"): lambda o: o["spec"]["cachePolicy"]["cacheMode"]
    in ("USE_ORIGIN_HEADERS", "CACHE_ALL_STATIC", "FORCE_CACHE_ALL"),
    ("compute.cnrm.cloud.google.com/v1beta1", "ComputeSecurityPolicy"): armor_rules,
    ("wafv2.services.k8s.aws/v1alpha1", "WebACL"): waf_rules,
    ("external-secrets.io/v1", "SecretStore"): lambda o: len(o["spec"]["provider"]) == 1,
    ("external-secrets.io/v1", "ExternalSecret"): lambda o: o["spec"]["secretStoreRef"]["name"]
    and o["spec"]["target"]["name"] and all(d["secretKey"] and d["remoteRef"]["key"] for d in o["spec"]["data"]),
}


def check(obj, where, lgp_schema, summary):
    kind = (obj.get("apiVersion"), obj.get("kind"))
    if kind == ("apps.langchain.ai/v1alpha1", "LGP"):
        try:
            jsonschema.validate(obj, lgp_schema)
        except jsonschema.ValidationError as e:
            fail(where, f"LGP against the CRD schema: {e.message} at {list(e.absolute_path)}")
        summary["lgp"] += 1
        return
    if kind in FOREIGN:
        try:
            ok = FOREIGN[kind](obj) and obj["metadata"]["name"]
        except (KeyError, TypeError) as e:
            fail(where, f"{kind[1]} lacks {e}")
        except AssertionError as e:
            fail(where, f"{kind[1]}: {e}")
        if not ok:
            fail(where, f"{kind[1]} is missing required fields")
        summary["foreign"] += 1
        return
    try:
        kubernetes_validate.validate(obj, VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        fail(where, f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {e.message} at {list(e.path)}")
    summary["kubernetes"] += 1


def rendered():
    """Every kustomization the project ships, rendered: (name, objects)."""
    folders = [ROOT / "k8s/data-plane", ROOT / "k8s/base"] + sorted((ROOT / "k8s/overlays").iterdir())
    for folder in folders:
        out = subprocess.run([os.environ.get("KUBECTL", "kubectl"), "kustomize", str(folder)], capture_output=True, text=True)
        if out.returncode != 0:
            fail(str(folder.relative_to(ROOT)), f"does not render: {out.stderr.strip()}")
        yield str(folder.relative_to(ROOT)), [d for d in yaml.safe_load_all(out.stdout) if d]


def main():
    lgp_schema = strip_extensions(crd_schema())
    summary = {"kubernetes": 0, "lgp": 0, "foreign": 0, "files": 0, "rendered": {}}
    for path in sorted((ROOT / "k8s/crds").glob("*.yaml")):
        summary["files"] += 1
        for n, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                check(doc, f"{path.relative_to(ROOT)}#{n}", lgp_schema, summary)
    if not os.environ.get("OBJECTS"):
        for name, docs in rendered():
            counts = {"kubernetes": 0, "lgp": 0, "foreign": 0}
            for n, doc in enumerate(docs):
                check(doc, f"{name}#{n} ({doc.get('kind')} {doc.get('metadata', {}).get('name')})", lgp_schema, counts)
            summary["rendered"][name] = counts
    objects = os.environ.get("OBJECTS")
    if objects:
        for path in sorted(pathlib.Path(objects).glob("*.json")):
            summary["files"] += 1
            for n, doc in enumerate(json.loads(path.read_text())):
                check(doc, f"{path.name}#{n}", lgp_schema, summary)
    print(json.dumps(summary))


main()
