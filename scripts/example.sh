#!/usr/bin/env bash
# The README's first command: set up a fresh Debian machine (as root), then
# build and run Containerfile.examples/hello with tsbuild. The base image is
# made from Debian's busybox-static and served by a local registry, because
# this machine may have no route to Docker Hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d node_modules ] && [ -f crates/native/tsbuild-native.linux-x64-gnu.node ] && [ -f dist/bundle/tsbuild.cjs ] || npm ci --no-audit --no-fund

work=$(mktemp -d /tmp/tsbuild-example.XXXXXX)
registry_pid=""
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A local registry holding busybox:stable.
port=5000
while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
cat > "$work/registry.yml" <<YML
version: 0.1
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: 127.0.0.1:$port }
log: { level: error }
YML
/usr/bin/docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

node scripts/make-busybox-image.mjs "$work/busybox-layout"
root="${TSBUILD_ROOT:-/var/lib/tsbuild}"
npx tsbuild --root "$root" load -i "$work/busybox-layout" >/dev/null
npx tsbuild --root "$root" push busybox:stable "127.0.0.1:$port/busybox:stable"
npx tsbuild --root "$root" rmi busybox:stable >/dev/null

npx tsbuild --root "$root" build --build-arg "BASE=127.0.0.1:$port/busybox:stable" \
  -f Containerfile.examples/hello/Containerfile -t hello:latest Containerfile.examples/hello
npx tsbuild --root "$root" run --rm hello:latest
