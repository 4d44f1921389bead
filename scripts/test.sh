#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need on a
# fresh Debian machine, builds everything, then runs the crate tests, the
# unit tests and, as root, the integration tests against real components.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
(cd crates/native && cargo test --release --quiet)
npx vitest run --project unit
if [ "$(id -u)" = 0 ]; then
  npx vitest run --project integration
else
  echo "integration tests need root; skipped (run as root to include them)" >&2
  exit 1
fi
