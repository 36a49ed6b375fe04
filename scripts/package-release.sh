#!/usr/bin/env bash
# Build the release archives, fill plugin.yaml's uri/sha256, write .krew.yaml.
#
#   scripts/package-release.sh [TARGET...]
#
# Default TARGETs: the six krew platforms. Builds use the `dist` profile
# (fat LTO, one codegen unit, stripped). Linux glibc targets are built with
# cargo-zigbuild for glibc 2.17 (CentOS 7, RHEL 8, Kylin V10):
#   pip install ziglang && cargo install cargo-zigbuild
# and the highest GLIBC_ symbol version of the binary (objdump -T) must be
# <= 2.17. A target whose Rust standard library is not installed
# (rustup target add TARGET) is skipped with a note; the summary lists what
# was built and what was not. Each archive holds kubectl-tingyun[.exe],
# kubectl_complete-tingyun (kubectl's plugin completion; not for Windows)
# and LICENSE, as plugin.yaml's `files` expect.
# Then: upload dist/* to the GitHub release vVERSION (docs/release.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=v$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
grep -q "^  version: $version\$" plugin.yaml ||
  { echo "package-release: plugin.yaml spec.version is not $version (Cargo.toml); update it first" >&2; exit 1; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(
  x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
  x86_64-apple-darwin aarch64-apple-darwin
  x86_64-pc-windows-gnu aarch64-pc-windows-gnullvm)
sysroot=$(rustc --print sysroot)
target_dir=${CARGO_TARGET_DIR:-$root/target}
mkdir -p dist
built=() skipped=()

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
  if [ ! -d "$sysroot/lib/rustlib/$target/lib" ]; then
    echo "package-release: skipping $target: its standard library is not installed (rustup target add $target)" >&2
    skipped+=("$target (no std)")
    continue
  fi
  exe=""; [ "$os" = windows ] && exe=.exe
  case "$target" in
    *-linux-gnu)
      command -v cargo-zigbuild >/dev/null ||
        { echo "package-release: cargo-zigbuild is needed for $target (glibc 2.17): pip install ziglang && cargo install cargo-zigbuild" >&2; exit 1; }
      cargo zigbuild --profile dist --locked --target "$target.2.17" ;;
    *-linux-musl) cargo zigbuild --profile dist --locked --target "$target" ;;
    *)
      if command -v cargo-zigbuild >/dev/null; then
        cargo zigbuild --profile dist --locked --target "$target"
      else
        cargo build --profile dist --locked --target "$target"
      fi ;;
  esac
  bin="$target_dir/$target/dist/kubectl-tingyun$exe"
  if [ "$os" = linux ] && [[ "$target" == *-gnu ]]; then
    glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -n 1)
    echo "package-release: $target needs $glibc at most" >&2
    if [ "$(printf '%s\n' "$glibc" GLIBC_2.17 | sort -V | tail -n 1)" != GLIBC_2.17 ]; then
      echo "package-release: $target needs $glibc (> GLIBC_2.17); not packaged" >&2; exit 1
    fi
  fi
  stage=$(mktemp -d)
  cp "$bin" "$stage/kubectl-tingyun$exe"
  cp LICENSE "$stage/LICENSE"
  files=("kubectl-tingyun$exe" LICENSE)
  if [ "$os" != windows ]; then
    cp contrib/kubectl_complete-tingyun "$stage/kubectl_complete-tingyun"
    chmod 755 "$stage/kubectl_complete-tingyun"
    files+=(kubectl_complete-tingyun)
  fi
  name="kubectl-tingyun_${version}_${os}_${arch}"
  if [ "$os" = windows ]; then
    archive="dist/$name.zip"
    python3 -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.argv[3:]:
        z.write(os.path.join(sys.argv[2], f), f)' "$archive" "$stage" "${files[@]}"
  else
    archive="dist/$name.tar.gz"
    tar -C "$stage" --owner=0 --group=0 -czf "$archive" "${files[@]}"
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
  built+=("$target -> $archive")
done

# .krew.yaml for krew-release-bot: plugin.yaml with the tag and the
# bot's addURIAndSha for each archive (the bot fills in the sha256).
python3 - <<'PY'
import re
src = open("plugin.yaml").read().split("\n")
out = ["# krew-release-bot template (generated by scripts/package-release.sh from plugin.yaml).",
       "# On a GitHub release the bot renders it and opens the krew-index pull request."]
skip_sha = False
for line in src:
    if line.startswith("#"):
        continue
    if line.startswith("  version: "):
        out.append("  version: {{ .TagName }}")
        continue
    m = re.match(r"^(\s*)uri: (\S+)/releases/download/[^/]+/kubectl-tingyun_[^_]+_(\S+)$", line)
    if m:
        indent, base, rest = m.groups()
        out.append(f'{indent}{{{{ addURIAndSha "{base}/releases/download/{{{{ .TagName }}}}/kubectl-tingyun_{{{{ .TagName }}}}_{rest}" .TagName }}}}')
        skip_sha = True
        continue
    if skip_sha and line.strip().startswith("sha256:"):
        skip_sha = False
        continue
    out.append(line)
open(".krew.yaml", "w").write("\n".join(out))
PY

echo "package-release: built:" >&2
for b in "${built[@]}"; do echo "  $b" >&2; done
if [ ${#skipped[@]} -gt 0 ]; then
  echo "package-release: not built here:" >&2
  for s in "${skipped[@]}"; do echo "  $s" >&2; done
fi
echo "package-release: updated plugin.yaml and .krew.yaml; run cargo test --test it krew_manifest" >&2
