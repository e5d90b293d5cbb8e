#!/usr/bin/env bash
# Validate deploy/kubernetes/ against the Kubernetes API schemas (issue 15) with the pinned
# PyPI package kubernetes-validate, which bundles the schemas: no cluster, no network beyond PyPI.
# Also checks what schemas cannot: every resource quantity is set, the probes hit the real
# routes (the ConfigMap's config is parsed by Picket itself in tests/it/deploy.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
KV_VERSION=1.37.0
venv=${K8S_VALIDATE_VENV:-target/k8s-validate-venv}
if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KV_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "kubernetes-validate==$KV_VERSION"
fi
files=(deploy/kubernetes/{configmap,secret,deployment,service,hpa,pdb}.yaml)
"$venv/bin/kubernetes-validate" --strict --quiet -k 1.37.0 "${files[@]}"
"$venv/bin/python" - "${files[@]}" <<'PY'
import re, sys, yaml
docs = {d["kind"]: d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d}
need = {"ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
assert need <= docs.keys(), f"missing kinds: {need - docs.keys()}"
c = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
qty = re.compile(r"^\d+(\.\d+)?(m|Mi|Gi|Ki)?$")
for kind in ("requests", "limits"):
    for res in ("cpu", "memory"):
        v = str(c["resources"][kind][res])
        assert qty.match(v), f"resources.{kind}.{res} = {v!r} is not a quantity"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
# The ConfigMap's config itself is parsed by Picket in tests/it/deploy.rs.
print("deploy/kubernetes: schemas valid, resources set, probes checked")
PY
