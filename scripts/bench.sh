#!/usr/bin/env bash
# Benchmark `kubectl tingyun patch` against `kubectl kustomize` with an
# `images:` transformer on generated manifests, and write BENCHMARKS.md.
#
#   scripts/bench.sh [--sizes "100 1000 10000"] [--kustomize-max N]
#                    [--runs N] [--out FILE] [--no-install]
#                    [--profile dist|release]
#
#   --sizes          document counts to generate (scripts/gen-manifests.py)
#   --kustomize-max  skip kustomize for sizes above N (default 1000:
#                    kustomize 5.5 needs 8-9 minutes for 10,000 documents)
#   --runs           timed runs per command (default 10; kustomize runs
#                    once above 1,000 documents)
#   --out            where to write the report (default BENCHMARKS.md)
#   --no-install     do not apt-get install hyperfine / time when missing
#   --profile        cargo profile of the binary measured (default dist: what
#                    scripts/package-release.sh ships and krew installs, fat
#                    LTO, ~5 minutes to build here; release builds faster)
#   --shape-keys     key counts for the single-document shapes (one huge
#                    block mapping, one flow mapping on one line, the same
#                    inside a pod template; default "32768 327680")
#
# Timing uses hyperfine when it is installed (or installable), otherwise a
# loop around `date +%s%N`. Peak memory is the maximum resident set size
# reported by GNU time (`/usr/bin/time -f %M`), median of seven runs. The
# load average (`uptime`) before and after is recorded: on a shared machine
# compare the side-by-side ratio, not absolute times. Everything in an
# existing BENCHMARKS.md from the line "<!-- kept by scripts/bench.sh -->"
# on is kept (hand-written sections).
set -euo pipefail
exec </dev/null # nothing here reads standard input; keep tools off a terminal's

sizes="100 1000 10000"
kustomize_max=1000
runs=10
out=""
install=1
shape_keys="32768 327680"
profile=dist
registry="harbor.example.com:5000/apm"

while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --kustomize-max) kustomize_max=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    --shape-keys) shape_keys=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${out:-$root/BENCHMARKS.md}

need_apt=()
command -v hyperfine >/dev/null 2>&1 || need_apt+=(hyperfine)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ ${#need_apt[@]} -gt 0 ] && [ "$install" = 1 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "bench: installing ${need_apt[*]}" >&2
  apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1; } ||
    echo "bench: could not install ${need_apt[*]}; falling back" >&2
fi
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is needed for peak memory: apt-get install time" >&2; exit 1; }
have_hyperfine=0
command -v hyperfine >/dev/null 2>&1 && have_hyperfine=1
have_kubectl=0
command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1 && have_kubectl=1

echo "bench: building the $profile binary" >&2
cargo build --profile "$profile" --quiet
bin="${CARGO_TARGET_DIR:-$root/target}/$profile/kubectl-tingyun"
[ -x "$bin" ] || { echo "bench: $bin was not built" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tingyun-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# mean_ms RUNS CMD...: mean and min wall time in milliseconds, "MEAN MIN".
mean_ms() {
  local n=$1; shift
  if [ "$have_hyperfine" = 1 ]; then
    local q
    q=$(printf '%q ' "$@")
    hyperfine -N --warmup 1 --runs "$n" --export-json "$work/hf.json" "$q" >/dev/null 2>&1 ||
      { echo "bench: command failed: $*" >&2; return 1; }
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.2f %.2f" % (r["mean"]*1e3, r["min"]*1e3))' "$work/hf.json"
  else
    "$@" >/dev/null 2>&1 # warm-up
    local i t0 t1 total=0 min=""
    for ((i = 0; i < n; i++)); do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
      total=$((total + t1 - t0))
      if [ -z "$min" ] || [ $((t1 - t0)) -lt "$min" ]; then min=$((t1 - t0)); fi
    done
    python3 -c 'import sys; print("%.2f %.2f" % (int(sys.argv[1])/int(sys.argv[2])/1e6, int(sys.argv[3])/1e6))' "$total" "$n" "$min"
  fi
}

# peak_kb CMD...: median over seven runs of the peak resident set size (KiB)
# (three were not enough: the RSS of one run swings by ~0.4 MiB here, which
# is 6x the 100-document file).
peak_kb() {
  local i v=()
  for i in 1 2 3 4 5 6 7; do
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1
    v+=("$(tail -n 1 "$work/rss")")
  done
  printf '%s\n' "${v[@]}" | sort -n | sed -n 4p
}

# the process's own peak memory (binary, libraries, allocator, threads):
# patch on a file of one small object
printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n' >"$work/one.yaml"
base_rss=$(peak_kb "$bin" patch "$work/one.yaml" --registry "$registry" --pull-secret -o "$work/one-out.yaml")

load_before=$(uptime | sed 's/.*load average: *//')
rows=()
for n in $sizes; do
  dir="$work/$n"
  python3 scripts/gen-manifests.py "$n" "$dir"
  file="$dir/manifest.yaml"
  bytes=$(stat -c %s "$file")
  reg_cmd=("$bin" patch "$file" --registry "$registry" -o "$dir/out.yaml")
  all_cmd=("$bin" patch "$file" --pull-secret --inject-pull-secret --registry "$registry" -o "$dir/out-all.yaml")

  echo "bench: $n documents ($bytes bytes)" >&2
  "${reg_cmd[@]}" 2>"$dir/stderr" || { echo "bench: patch failed on $n documents:" >&2; tail -n 5 "$dir/stderr" >&2; exit 1; }
  ours_images=$(grep -c "$registry/" "$dir/out.yaml" || true)
  read -r ours_mean ours_min < <(mean_ms "$runs" "${reg_cmd[@]}")
  read -r all_mean _ < <(mean_ms "$runs" "${all_cmd[@]}")
  ours_rss=$(peak_kb "${reg_cmd[@]}")

  k_mean="" k_rss="" k_images=""
  if [ "$have_kubectl" = 1 ] && { [ -z "$kustomize_max" ] || [ "$n" -le "$kustomize_max" ]; }; then
    if [ "$n" -le 1000 ]; then
      kubectl kustomize "$dir" >"$work/kustomized-$n.yaml"
      read -r k_mean _ < <(mean_ms "$runs" kubectl kustomize "$dir")
      k_rss=$(peak_kb kubectl kustomize "$dir")
    else
      # kustomize grows much faster than linearly (minutes at 10,000
      # documents): one run gives both its time and its peak memory.
      /usr/bin/time -f '%e %M' -o "$work/once" kubectl kustomize "$dir" >"$work/kustomized-$n.yaml"
      read -r secs k_rss < <(tail -n 1 "$work/once")
      k_mean=$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) * 1e3))' "$secs")
    fi
    k_images=$(grep -c "$registry/" "$work/kustomized-$n.yaml" || true)
  fi
  rows+=("$n $bytes $ours_mean $ours_min $all_mean $ours_rss $ours_images ${k_mean:--} ${k_rss:--} ${k_images:--}")
done

# One document of K keys in three shapes: a block mapping (ConfigMap data),
# a flow mapping on one line (ConfigMap data), and a flow mapping of pod
# template annotations in a Deployment (a document the edits change).
shape_rows=()
for k in $shape_keys; do
  for shape in block flow template; do
    f="$work/shape-$shape-$k.yaml"
    python3 - "$shape" "$k" "$f" <<'PY'
import sys
shape, k, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as out:
    if shape == "block":
        out.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n")
        out.writelines(f"  key{i}: value{i}\n" for i in range(k))
    else:
        flow = "{" + ", ".join(f"key{i}: value{i}" for i in range(k)) + "}"
        if shape == "flow":
            out.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata: {flow}\n")
        else:
            out.write("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n"
                      f"  template:\n    metadata:\n      annotations: {flow}\n    spec:\n"
                      "      containers:\n      - name: c\n        image: nginx:1.25\n")
    # an edited document next to it
    out.write("---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n")
PY
    cmd=("$bin" patch "$f" --pull-secret --inject-pull-secret --registry "$registry" -o "$work/shape-out.yaml")
    "${cmd[@]}" 2>"$work/stderr" || { echo "bench: patch failed on the $shape shape ($k keys):" >&2; tail -n 5 "$work/stderr" >&2; exit 1; }
    echo "bench: $shape shape, $k keys" >&2
    read -r s_mean _ < <(mean_ms 3 "${cmd[@]}")
    s_rss=$(peak_kb "${cmd[@]}")
    shape_rows+=("$shape $k $(stat -c %s "$f") $s_mean $s_rss")
  done
done
load_after=$(uptime | sed 's/.*load average: *//')

if [ "$have_hyperfine" = 1 ]; then timer="hyperfine $(hyperfine --version | awk '{print $2}') (-N, 1 warm-up, $runs runs; kustomize a single run above 1,000 documents)"; else timer="a date +%s%N loop (1 warm-up, $runs runs)"; fi
kver=$( [ "$have_kubectl" = 1 ] && kubectl version --client 2>/dev/null | tr '\n' ' ' || echo "kubectl not installed")
python3 - "$out" "$registry" "$timer" "$kver" "$load_before" "$load_after" "$profile" "$base_rss" "${#rows[@]}" "${rows[@]}" "${shape_rows[@]}" <<'PY'
import os, platform, subprocess, sys, datetime

out, registry, timer, kver, load_before, load_after, profile, base_rss, nrows, *rest = sys.argv[1:]
base_rss = int(base_rss)
rows, shape_rows = rest[:int(nrows)], [r.split() for r in rest[int(nrows):]]
kept = ""
if os.path.exists(out):
    old = open(out).read()
    mark = "<!-- kept by scripts/bench.sh -->"
    if mark in old:
        kept = old[old.index(mark):]

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""

cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -n1") or platform.processor()
mem = sh("free -g | awk '/^Mem:/{print $2}'")
# (this report itself does not count as a change to what is measured)
commit = sh("git rev-parse --short HEAD") + (" (dirty)" if sh("git status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md'") else "")
rows = [r.split() for r in rows]

def num(s):
    return None if s == "-" else float(s)

lines = []
w = lines.append
w("# Benchmarks")
w("")
w("`kubectl tingyun patch` rewriting every container image to a private registry,")
w("side by side with `kubectl kustomize` doing the same with an `images:` transformer.")
w("This file is written by `scripts/bench.sh`; rerun it to refresh the figures:")
w("")
w("```sh")
w("scripts/bench.sh                        # sizes 100, 1000, 10000 (kustomize up to 1,000); writes BENCHMARKS.md")
w("scripts/bench.sh --kustomize-max 10000  # kustomize on 10,000 documents too (8-9 minutes)")
w("```")
w("")
w("## What is measured")
w("")
w("- Input: `scripts/gen-manifests.py N DIR` writes `manifest.yaml` with N documents")
w("  modelled on the Tingyun download (per 10 documents: 1 ServiceAccount with the")
w("  commented `#imagePullSecrets:` template, 1 ConfigMap with a `mutate.yaml: |`")
w("  template, 2 Deployments, 1 DaemonSet, 1 StatefulSet, 1 CronJob, 1 Service,")
w("  1 Secret, 1 plain ConfigMap; quoted images, trailing comments, ports, digests)")
w("  and a `kustomization.yaml` with `resources: [manifest.yaml]` and one `images:`")
w("  entry (`name` -> `newName`) per distinct image name.")
w(f"- Ours (registry): `kubectl-tingyun patch manifest.yaml --registry {registry} -o out.yaml`")
w(f"  (`cargo build --profile {profile}`{': the build krew installs' if profile == 'dist' else ''}). It also rewrites the image inside each `mutate.yaml` block,")
w("  which kustomize cannot see (it is a string), checks the result by re-parsing it,")
w("  and writes atomically.")
w(f"- Ours (all edits): the same plus `--pull-secret --inject-pull-secret`.")
w("- kustomize: `kubectl kustomize DIR` (output to stdout, discarded while timed; it")
w("  parses and re-serialises every object, dropping comments and formatting).")
w(f"- Timing: {timer}. Peak RSS: GNU time's maximum resident set size, median of 7 runs")
w("  (kustomize above 1,000 documents: the one timed run).")
w(f"- The process's own peak RSS (binary, libraries, allocator, threads): {base_rss/1024:.1f} MiB,")
w("  `patch` on a file of one ServiceAccount. \"Above own\" is the peak RSS minus that:")
w("  the memory the input costs.")
w("- The speed target compares kustomize with ours, all edits (registry and both")
w("  pull-secret edits).")
w("- \"Images\" counts lines of the output that carry the new registry: ours includes")
w("  the one image per `mutate.yaml` block, so ours = kustomize + N/10.")
w("")
w("## Machine")
w("")
w(f"- Date: {datetime.date.today().isoformat()}, commit {commit}")
w(f"- CPU: {cpu}, {os.cpu_count()} cores; memory {mem} GiB; {platform.system()} {platform.release()}")
w(f"- {sh('rustc --version')}; {kver.strip()}")
w(f"- Load average (1, 5, 15 min) before the run: {load_before}; after: {load_after}")
w("")
w("## Results")
w("")
w("| documents | file size | ours, registry (mean / min) | ours, all edits | kustomize | kustomize / ours (all edits) | ours peak RSS | RSS / file size | above own / file size | kustomize peak RSS | images ours / kustomize |")
w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n, b, om, omin, am, orss, oimg, km, krss, kimg in rows:
    b = int(b); om = float(om); am = float(am); orss = int(orss)
    ratio = f"{num(km)/am:.0f}x" if num(km) else "-"
    kt = f"{num(km):.1f} ms" if num(km) else "skipped"
    kr = f"{int(krss)/1024:.0f} MiB" if krss != "-" else "-"
    w(f"| {int(n):,} | {b/1024:.0f} KiB | {om:.2f} / {float(omin):.2f} ms | {am:.2f} ms | {kt} | {ratio} | {orss/1024:.1f} MiB | {orss*1024/b:.1f}x | {(orss-base_rss)*1024/b:.1f}x | {kr} | {oimg} / {kimg} |")
w("")
w("## Growth")
w("")
w("Time and memory per megabyte of input; linear growth keeps these flat. The")
w("marginal memory is the extra peak RSS per extra byte of input between two")
w("sizes, which removes the fixed cost of the process (binary, allocator, stack).")
w("")
w("| documents | ours ms / MB | step time factor (x10 docs) | marginal RSS / byte | kustomize ms / MB |")
w("|---:|---:|---:|---:|---:|")
prev = None
for n, b, om, omin, am, orss, oimg, km, krss, kimg in rows:
    b = int(b); om = float(om); orss = int(orss) * 1024
    mb = b / 1e6
    if prev:
        pb, pom, prss = prev
        step = f"{om/pom:.1f}x time for {b/pb:.1f}x bytes"
        marg = f"{(orss - prss)/(b - pb):.1f}"
    else:
        step, marg = "-", "-"
    kmb = f"{num(km)/mb:.0f}" if num(km) else "-"
    w(f"| {int(n):,} | {om/mb:.1f} | {step} | {marg} | {kmb} |")
    prev = (b, om, orss)
w("")
w("Targets (issue 2): at least 100x faster than kustomize on 1,000 documents,")
w("linear growth, peak memory under 10x the file size.")
w("")
if shape_rows:
    w("## One huge document")
    w("")
    w("One document of K keys (plus a ServiceAccount), all edits: a block mapping")
    w("(ConfigMap `data`), a flow mapping on one line (ConfigMap `data: {...}`), and")
    w("a flow mapping of pod template annotations in a Deployment (edited: its")
    w("image). Mean of 3 runs; peak RSS as above.")
    w("")
    w("| shape | keys | file size | time | time factor (x10 keys) | peak RSS | RSS / file size | above own / file size |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    prev = {}
    for shape, k, b, ms, rss in shape_rows:
        k, b, ms, rss = int(k), int(b), float(ms), int(rss)
        p = prev.get(shape)
        step = f"{ms/p[1]:.1f}x for {k/p[0]:.0f}x keys" if p else "-"
        prev[shape] = (k, ms)
        w(f"| {shape} | {k:,} | {b/1024:.0f} KiB | {ms:.1f} ms | {step} | {rss/1024:.1f} MiB | {rss*1024/b:.1f}x | {(rss-base_rss)*1024/b:.1f}x |")
    w("")
text = "\n".join(lines)
if kept:
    text += "\n" + kept
open(out, "w").write(text)
PY
echo "bench: wrote $out" >&2
