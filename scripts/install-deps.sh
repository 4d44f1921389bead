#!/usr/bin/env bash
# System packages the tests and benchmarks use as real components and
# oracles. Idempotent: does nothing when everything is present.
set -euo pipefail
# user-mode-linux (and kmod for its insmod) boots the cgroup-v2 guest of test/integration/uml.
# uidmap: the setuid newuidmap/newgidmap of rootless mode (and of rootless buildah, its oracle);
# time: /usr/bin/time for bench/rootless.mjs's CPU figures.
# debootstrap makes the bookworm base of bench/real-service.mjs and bench/pull-many-files.mjs (bench/lib/bookworm.mjs, many-files-image.mjs).
# acl: setfacl, so a rootless test user can reach a checkout inside a private mktemp dir (scripts/lib/user-access.mjs).
pkgs=(docker-registry busybox-static buildah skopeo umoci podman runc tmux apache2-utils zstd xz-utils bzip2 docker.io attr git user-mode-linux kmod libseccomp-dev pkg-config uidmap time debootstrap acl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# podman here must not apply default ulimits, and crun fails on hybrid cgroups.
mkdir -p /etc/containers
if ! grep -q '^default_ulimits *= *\[\]' /etc/containers/containers.conf 2>/dev/null; then
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >> /etc/containers/containers.conf
fi
# Multi-platform builds (test/integration/platform): qemu-user-static's
# binfmt_misc handlers run arm64 RUN steps, and Debian's busybox-static:arm64
# (fetched by the tests with apt-get download) needs the arm64 architecture.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -q
fi
for p in qemu-user-static binfmt-support; do
  dpkg -s "$p" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p"
done
