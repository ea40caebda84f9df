#!/usr/bin/env bash
# Installs everything plumb's tests and demo need on a fresh Debian bookworm
# machine, idempotently (a second run takes seconds):
#   - Debian packages: git, prometheus (and promtool), openssh-server and
#     openssh-client (sshd, ssh-keygen), gnupg, curl, docker-registry and
#     apache2-utils (htpasswd), chromium and chromium-driver (the dashboard's
#     browser test);
#   - etcd and kube-apiserver/kube-controller-manager (the default and the
#     oldest supported Kubernetes, tests/harness/control-plane/versions.env),
#     built once from pinned Go modules with the machine's Go and cached in
#     ${PLUMB_CACHE:-~/.cache/plumb};
#   - the Helm oracle: helm-python-sdk (Helm SDK v4.2.3) in a virtualenv at
#     ${PLUMB_CACHE:-~/.cache/plumb}/helm-venv, for the template and chart
#     conformance tests;
#   - the public charts of the conformance corpus: the Go modules pinned in
#     tests/charts/go.mod (verified by its go.sum), downloaded into Go's
#     module cache, and the oracle's manifest decoder (tests/helm/kubedecode);
#   - cargo-nextest, if the toolchain lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }

missing=()
for pkg in git curl prometheus openssh-server openssh-client gnupg python3 python3-venv \
  docker-registry apache2-utils chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # Debian starts no services in a container without systemd; etcd is started per test.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash tests/harness/control-plane/build.sh setup

# Helm's own engine, to check plumb's renders against (never used by plumb itself).
helm_venv="${PLUMB_CACHE:-$HOME/.cache/plumb}/helm-venv"
helm_sdk="helm-python-sdk==0.2.2"
if ! "$helm_venv/bin/python" -c 'import helm_python' >/dev/null 2>&1; then
  log "installing $helm_sdk into $helm_venv"
  rm -rf "$helm_venv"
  /usr/bin/python3 -m venv "$helm_venv"
  "$helm_venv/bin/pip" install -q --disable-pip-version-check "$helm_sdk"
fi

# The chart corpus (tests/charts) and the Helm oracle's decoder, from the Go
# module proxy; go.sum refuses any byte that differs from the pinned modules.
log "downloading the chart corpus modules"
(cd tests/charts && GOTOOLCHAIN=local go mod download)
(cd tests/helm/kubedecode && GOTOOLCHAIN=local go mod download)

if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
log "ready"
