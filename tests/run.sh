#!/usr/bin/env bash
# The whole test suite: set-up, then every test (unit, API-level and
# end-to-end) against one real local control plane that plumb-testenv starts
# before and stops (by pid) after. Extra arguments go to cargo nextest,
# e.g. `tests/run.sh -E 'test(isolation)'`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/plumb/target}

tests/setup.sh
cargo build --locked -p plumb-testenv --bin plumb-testenv
"$CARGO_TARGET_DIR/debug/plumb-testenv" run -- cargo nextest run --locked --workspace --no-fail-fast "$@"

# Nothing the tests started may outlive them: every server they start runs
# with a control-plane folder under the temp dir named plumb-testenv-*.
leftovers=$(pgrep -af 'plumb-testenv-' | grep -v pgrep || true)
if [[ -n $leftovers ]]; then
  echo "processes left behind by the tests:" >&2
  echo "$leftovers" >&2
  exit 1
fi
