#!/usr/bin/env bash
# System packages the tests and benchmarks use as real components and
# oracles. Idempotent: does nothing when everything is present.
set -euo pipefail
# user-mode-linux (and kmod for its insmod) boots the cgroup-v2 guest of test/integration/uml.
pkgs=(docker-registry busybox-static buildah skopeo umoci podman runc tmux apache2-utils zstd xz-utils bzip2 docker.io attr git user-mode-linux kmod libseccomp-dev pkg-config)
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
