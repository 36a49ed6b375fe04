#!/usr/bin/env bash
# Benchmark `kubectl tingyun images --check`: N distinct images (default 40)
# on a real docker-registry on loopback, each a 2-platform OCI index pushed
# by skopeo, wanted platforms linux/amd64,linux/arm64 (index + no config
# reads), compared with `skopeo inspect --raw` run once per image (what a
# user scripting the same check would do). Prints a Markdown table.
#
#   scripts/bench-images-check.sh [N] [RUNS]
set -euo pipefail
exec </dev/null
n=${1:-40}
runs=${2:-5}
cd "$(dirname "$0")/.."
for t in docker-registry skopeo; do
  command -v "$t" >/dev/null || { echo "bench: $t is required (apt-get install $t)" >&2; exit 1; }
done
cargo build --release --quiet
bin=$PWD/target/release/kubectl-tingyun
work=$(mktemp -d)
trap 'kill $reg_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<CFG
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
CFG
env -i PATH=/usr/bin:/bin docker-registry serve "$work/config.yml" >/dev/null 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
# One OCI layout with an index of two platforms, pushed under N names.
python3 - "$work/layout" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]; b = os.path.join(d, "blobs", "sha256"); os.makedirs(b)
def put(data):
    h = hashlib.sha256(data).hexdigest(); open(os.path.join(b, h), "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
ms = []
for arch in ("amd64", "arm64"):
    layer = put(arch.encode() * 100)
    cfg = put(json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
    m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
    ms.append(dict(m, mediaType="application/vnd.oci.image.manifest.v1+json", platform={"architecture": arch, "os": "linux"}))
idx = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms}).encode())
json.dump({"schemaVersion": 2, "manifests": [dict(idx, mediaType="application/vnd.oci.image.index.v1+json",
    annotations={"org.opencontainers.image.ref.name": "t"})]}, open(os.path.join(d, "index.json"), "w"))
open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
{
  echo "apiVersion: apps/v1"; echo "kind: Deployment"; echo "metadata: {name: bench, namespace: x}"
  echo "spec:"; echo "  template:"; echo "    spec:"; echo "      containers:"
  for i in $(seq "$n"); do
    skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$work/layout:t" "docker://127.0.0.1:$port/bench/img$i:1"
    echo "      - {name: c$i, image: 127.0.0.1:$port/bench/img$i:1}"
  done
} >"$work/m.yaml"
check=("$bin" images "$work/m.yaml" --check --http-registry "127.0.0.1:$port" --platform linux/amd64,linux/arm64 -o json)
"${check[@]}" >/dev/null || { echo "bench: the check failed" >&2; "${check[@]}" >&2; exit 1; }
skopeo_all="for i in \$(seq $n); do skopeo inspect --raw --tls-verify=false docker://127.0.0.1:$port/bench/img\$i:1 >/dev/null; done"
echo "| command ($n images) | mean | min | max |"
echo "| --- | --- | --- | --- |"
if command -v hyperfine >/dev/null; then
  hyperfine -N -w 1 -r "$runs" --export-markdown "$work/h.md" "${check[*]}" >/dev/null 2>&1
  hyperfine -w 1 -r "$runs" --export-markdown "$work/s.md" "$skopeo_all" >/dev/null 2>&1
  tail -n 1 "$work/h.md"; tail -n 1 "$work/s.md"
else
  t() { local best=999999 worst=0 sum=0; for _ in $(seq "$runs"); do local s=$(date +%s%N); eval "$1" >/dev/null; local e=$(( ($(date +%s%N)-s)/1000000 )); sum=$((sum+e)); ((e<best)) && best=$e; ((e>worst)) && worst=$e; done; echo "| $2 | $((sum/runs)) ms | $best ms | $worst ms |"; }
  t "${check[*]}" "kubectl tingyun images --check (concurrency 8)"
  t "$skopeo_all" "skopeo inspect --raw, one per image"
fi
