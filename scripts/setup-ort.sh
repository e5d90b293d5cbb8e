#!/usr/bin/env bash
# Fetch ONNX Runtime's shared library from the `onnxruntime` PyPI wheel into third_party/
# (git-ignored) and verify its checksum. Idempotent; no other download is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
ORT_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
dest=third_party/onnxruntime
lib="$dest/libonnxruntime.so.$ORT_VERSION"

if [ -f "$lib" ] && echo "$ORT_SHA256  $lib" | sha256sum -c --quiet 2>/dev/null; then
  echo "onnxruntime $ORT_VERSION already in $dest"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --python-version 3.11 --implementation cp "onnxruntime==$ORT_VERSION" -d "$tmp"
mkdir -p "$dest"
python3 - "$tmp" "$dest" "$ORT_VERSION" <<'PY'
import glob, sys, zipfile, shutil, os
tmp, dest, version = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "onnxruntime-*.whl"))[0]
member = f"onnxruntime/capi/libonnxruntime.so.{version}"
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(os.path.join(dest, f"libonnxruntime.so.{version}"), "wb") as out:
    shutil.copyfileobj(src, out)
PY
echo "$ORT_SHA256  $lib" | sha256sum -c --quiet || { echo "checksum mismatch for $lib" >&2; rm -f "$lib"; exit 1; }
ln -sf "libonnxruntime.so.$ORT_VERSION" "$dest/libonnxruntime.so"
echo "onnxruntime $ORT_VERSION installed in $dest"
