"""Validates the data plane's Kubernetes objects offline.

Every manifest under k8s/crds, k8s/data-plane and k8s/base, and every object the listener and operator
would send (JSON files in $OBJECTS, written by the Rust test), is checked against the official
Kubernetes schemas (kubernetes-validate, strict: unknown fields fail) for $K8S_VERSION. LGPs
are also checked against the CRD's own openAPIV3Schema. Objects of other projects' CRDs
(KEDA's ScaledObject, the Gateway API's HTTPRoute) have no schema in kubernetes-validate and
are checked against the fields their published CRDs require. Prints a JSON summary; exits
non-zero on the first invalid object.
"""

import json
import os
import pathlib
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


# What the CRDs of KEDA and the Gateway API require of the objects we write.
FOREIGN = {
    ("keda.sh/v1alpha1", "ScaledObject"): lambda o: o["spec"]["scaleTargetRef"]["name"] and isinstance(o["spec"]["triggers"], list)
    and all("type" in t and "metadata" in t for t in o["spec"]["triggers"]),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): lambda o: isinstance(o["spec"]["parentRefs"], list)
    and all("backendRefs" in r for r in o["spec"]["rules"]),
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
        if not ok:
            fail(where, f"{kind[1]} is missing required fields")
        summary["foreign"] += 1
        return
    try:
        kubernetes_validate.validate(obj, VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        fail(where, f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {e.message} at {list(e.path)}")
    summary["kubernetes"] += 1


def main():
    lgp_schema = strip_extensions(crd_schema())
    summary = {"kubernetes": 0, "lgp": 0, "foreign": 0, "files": 0}
    for folder in ("k8s/crds", "k8s/data-plane", "k8s/base"):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            if path.name == "kustomization.yaml":
                continue
            summary["files"] += 1
            for n, doc in enumerate(yaml.safe_load_all(path.read_text())):
                if doc:
                    check(doc, f"{path.relative_to(ROOT)}#{n}", lgp_schema, summary)
    objects = os.environ.get("OBJECTS")
    if objects:
        for path in sorted(pathlib.Path(objects).glob("*.json")):
            summary["files"] += 1
            for n, doc in enumerate(json.loads(path.read_text())):
                check(doc, f"{path.name}#{n}", lgp_schema, summary)
    print(json.dumps(summary))


main()
