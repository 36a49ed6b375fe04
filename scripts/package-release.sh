#!/usr/bin/env bash
# Build release archives for krew and write their sha256 into plugin.yaml.
#
#   scripts/package-release.sh [TARGET...]
#
# TARGET is a Rust target triple (default: the host's). Each build becomes
# dist/kubectl-tingyun_vVERSION_OS_ARCH.tar.gz (.zip for Windows) holding
# kubectl-tingyun[.exe] and LICENSE, as plugin.yaml's `files` expect, and the
# sha256 of the platform whose uri names that archive is replaced in
# plugin.yaml. Cross targets need their toolchain and linker installed
# (rustup target add TARGET); upload dist/* to the GitHub release vVERSION.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=v$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
grep -q "^  version: $version\$" plugin.yaml ||
  { echo "package-release: plugin.yaml spec.version is not $version (Cargo.toml); update it first" >&2; exit 1; }

host=$(rustc -vV | sed -n 's/^host: //p')
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$host")
mkdir -p dist

for target in "${targets[@]}"; do
  case "$target" in
    x86_64-unknown-linux-*) os=linux arch=amd64 ;;
    aarch64-unknown-linux-*) os=linux arch=arm64 ;;
    x86_64-apple-darwin) os=darwin arch=amd64 ;;
    aarch64-apple-darwin) os=darwin arch=arm64 ;;
    x86_64-pc-windows-*) os=windows arch=amd64 ;;
    aarch64-pc-windows-*) os=windows arch=arm64 ;;
    *) echo "package-release: no krew platform for target $target" >&2; exit 2 ;;
  esac
  exe=""; [ "$os" = windows ] && exe=.exe
  cargo build --release --locked --target "$target"
  built="${CARGO_TARGET_DIR:-$root/target}/$target/release/kubectl-tingyun$exe"
  stage=$(mktemp -d)
  cp "$built" "$stage/kubectl-tingyun$exe"
  cp LICENSE "$stage/LICENSE"
  name="kubectl-tingyun_${version}_${os}_${arch}"
  if [ "$os" = windows ]; then
    archive="dist/$name.zip"
    python3 -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.argv[3:]:
        z.write(os.path.join(sys.argv[2], f), f)' "$archive" "$stage" "kubectl-tingyun$exe" LICENSE
  else
    archive="dist/$name.tar.gz"
    tar -C "$stage" -czf "$archive" "kubectl-tingyun$exe" LICENSE
  fi
  rm -rf "$stage"
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  # Replace the sha256 on the line after the uri that names this archive.
  python3 - "$(basename "$archive")" "$sum" <<'PY'
import sys
archive, digest = sys.argv[1], sys.argv[2]
lines = open("plugin.yaml").read().split("\n")
for i, line in enumerate(lines):
    if line.strip().startswith("uri:") and line.rstrip().endswith("/" + archive):
        j = next(k for k in range(i + 1, len(lines)) if lines[k].strip().startswith("sha256:"))
        indent = lines[j][: len(lines[j]) - len(lines[j].lstrip())]
        lines[j] = f'{indent}sha256: "{digest}"'
        break
else:
    sys.exit(f"package-release: no uri in plugin.yaml names {archive}")
open("plugin.yaml", "w").write("\n".join(lines))
PY
  echo "$archive $sum"
done
echo "package-release: updated plugin.yaml; run cargo test --test it krew_manifest" >&2
