#!/usr/bin/env bash
# Benchmark `kubectl tingyun images push` against `skopeo copy` on a
# vendor-style archive pushed to loopback registries (Debian's
# docker-registry, plain HTTP), and print a Markdown section for
# BENCHMARKS.md.
#
#   scripts/bench-push.sh [--images N] [--layers N] [--layer-size SIZE] [--jobs N]
#
# The archive (scripts/gen-image-archive.py --kind vendor): N images x
# linux/amd64 + linux/arm64, each a `docker save` tar with uncompressed
# layers of SIZE (half random, half text), nested in one .tar.gz, plus one
# OCI layout tar. Measured:
#   ours      images push ARCHIVE.tar.gz to an empty registry (reads the
#             .tar.gz as downloaded; compresses layers; manifest lists)
#   re-run    the same push again (everything present)
#   skopeo    tar xzf ARCHIVE (needed: skopeo cannot read nested archives)
#             + one `skopeo copy docker-archive:X.tar docker://...` per image
#             and platform, to another empty registry; without the manifest
#             lists (skopeo cannot build them from separate tars)
# Needs docker-registry, skopeo, python3; builds the release binary.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

images=4
layers=2
layer_size=12M
jobs=4
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --layer-size) layer_size=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for t in docker-registry skopeo python3; do
  command -v "$t" >/dev/null || { echo "bench-push: $t is required (apt-get install docker-registry skopeo)" >&2; exit 1; }
done

cargo build --release --quiet
bin=$PWD/target/release/kubectl-tingyun
work=$(mktemp -d)
# start_registry runs in $(...), a subshell: it leaves its pid in a file.
cleanup() { for f in "$work"/*/pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

start_registry() { # NAME -> prints port
  local dir=$work/$1 port
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
EOF
  env -i PATH=/usr/bin:/bin docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
  echo "$port"
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

names=()
for i in $(seq 1 "$images"); do names+=(--image "tingyunagent/bench-$i:3.4.0.0"); done
python3 scripts/gen-image-archive.py --kind vendor --out "$work/images.tar.gz" "${names[@]}" \
  --layers "$layers" --layer-size "$layer_size" --shared-base >/dev/null
archive_mb=$(du -m "$work/images.tar.gz" | cut -f1)

ours_port=$(start_registry ours)
skopeo_port=$(start_registry skopeo)
export HOME=$work/home XDG_CACHE_HOME=$work/cache

t0=$(now)
"$bin" images push "$work/images.tar.gz" --to "127.0.0.1:$ours_port/apm" \
  --http-registry "127.0.0.1:$ours_port" --jobs "$jobs" -o json >"$work/ours.json" 2>/dev/null
t1=$(now)
"$bin" images push "$work/images.tar.gz" --to "127.0.0.1:$ours_port/apm" \
  --http-registry "127.0.0.1:$ours_port" --jobs "$jobs" >"$work/rerun.txt" 2>/dev/null
t2=$(now)
rm -rf "$XDG_CACHE_HOME"
"$bin" images push "$work/images.tar.gz" --to "127.0.0.1:$ours_port/apm" \
  --http-registry "127.0.0.1:$ours_port" --jobs "$jobs" >/dev/null 2>&1
t3=$(now)

s0=$(now)
mkdir -p "$work/x" && tar -xzf "$work/images.tar.gz" -C "$work/x"
s1=$(now)
copies=0
for f in "$work"/x/tingyun-k8s-images/*/*.tar; do
  case "$f" in */oci/*) continue ;; esac
  tag=$(python3 -c 'import json,sys,tarfile; t=tarfile.open(sys.argv[1]); print(json.load(t.extractfile("manifest.json"))[0]["RepoTags"][0])' "$f")
  skopeo copy -q --dest-tls-verify=false "docker-archive:$f" "docker://127.0.0.1:$skopeo_port/apm/${tag##*/}"
  copies=$((copies + 1))
done
oci=$(ls "$work"/x/tingyun-k8s-images/oci/*.tar)
mkdir -p "$work/ocidir" && tar -xf "$oci" -C "$work/ocidir"
skopeo copy -q --all --dest-tls-verify=false "oci:$work/ocidir:tingyunagent/bench-1:3.4.0.0" "docker://127.0.0.1:$skopeo_port/apm/bench-1-oci:3.4.0.0"
copies=$((copies + 1))
s2=$(now)

ours=$(secs "$t0" "$t1")
rerun=$(secs "$t1" "$t2")
nocache=$(secs "$t2" "$t3")
extract=$(secs "$s0" "$s1")
skopeo_copy=$(secs "$s1" "$s2")
skopeo_total=$(secs "$s0" "$s2")
ratio=$(python3 -c "print(f'{$ours / $skopeo_total:.2f}')")
ratio_copy=$(python3 -c "print(f'{$ours / $skopeo_copy:.2f}')")
uploaded=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(sum(i["bytesUploaded"] for i in v["images"])//1000000)' "$work/ours.json")

cat <<EOF
## images push vs skopeo (scripts/bench-push.sh)

Archive: $images images x 2 platforms, $layers layers of $layer_size each (uncompressed, half random),
nested docker save tars + one OCI layout in a ${archive_mb} MB .tar.gz; loopback docker-registry, plain HTTP;
\`--jobs $jobs\`; $(nproc) cores.

| what | wall time (s) |
| --- | --- |
| images push, empty registry (${uploaded} MB uploaded) | $ours |
| images push again (everything present) | $rerun |
| images push again without the push cache | $nocache |
| skopeo: tar xzf | $extract |
| skopeo: $copies x skopeo copy | $skopeo_copy |
| skopeo total | $skopeo_total |

Ratio ours / skopeo: **$ratio** (against the copies alone: $ratio_copy). Re-run: ${rerun} s.
EOF
