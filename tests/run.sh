#!/usr/bin/env bash
# The whole test suite: set-up, then every test (unit, API-level and
# end-to-end) against one real local control plane that plumb-testenv starts
# before and stops (by pid) after; then the compatibility job: the end-to-end
# tests of apply, prune, drift and health again on the oldest Kubernetes
# minor plumb supports (tests/harness/control-plane/versions.env).
# Extra arguments go to cargo nextest and skip the compatibility job,
# e.g. `tests/run.sh -E 'test(isolation)'`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/plumb/target}
source tests/harness/control-plane/versions.env

tests/setup.sh
cargo build --locked -p plumb-testenv --bin plumb-testenv
testenv=$CARGO_TARGET_DIR/debug/plumb-testenv

status=0
"$testenv" run -- cargo nextest run --locked --workspace --no-fail-fast "$@" || status=$?

if (($# == 0)); then
  echo "== compatibility job: Kubernetes $K8S_COMPAT_VERSION" >&2
  compat='package(plumb-e2e) & binary(/^(reconcile|drift|ownership|resilience)$/)'
  PLUMB_K8S_VERSION=$K8S_COMPAT_VERSION "$testenv" run -- \
    cargo nextest run --locked --workspace --no-fail-fast -E "$compat" || status=$?
fi

# Nothing the tests started may outlive them: every server they start runs
# with a control-plane folder under the temp dir named plumb-testenv-*.
leftovers=$(pgrep -af 'plumb-testenv-' | grep -v pgrep || true)
if [[ -n $leftovers ]]; then
  echo "processes left behind by the tests:" >&2
  echo "$leftovers" >&2
  exit 1
fi
exit "$status"
