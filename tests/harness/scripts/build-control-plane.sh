#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager v1.20.2 from Debian's
# `kubernetes` source package with Go 1.15 (from Debian bullseye, unpacked
# privately), and caches them in $PLUMB_CACHE/k8s-v1.20.2/.
#
# Idempotent: exits at once when both binaries are cached. Nothing is
# installed into the system except the Debian packages this needs (rsync);
# the bullseye Go toolchain and the bookworm source lists live under the
# cache folder, never in /etc/apt.
set -euo pipefail

K8S_VERSION=v1.20.2
CACHE=${PLUMB_CACHE:-$HOME/.cache/plumb}
OUT=$CACHE/k8s-$K8S_VERSION
WORK=$CACHE/build

if [[ -x $OUT/kube-apiserver && -x $OUT/kube-controller-manager ]]; then
  echo "control plane $K8S_VERSION: cached in $OUT"
  exit 0
fi

log() { echo "[build-control-plane] $*" >&2; }

need_pkgs=()
for p in rsync make dpkg-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

mkdir -p "$WORK" "$OUT"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# A private apt configuration: lists, cache and sources of our own, so the
# system's apt state is never touched.
private_apt() { # name, sources-line...
  local name=$1; shift
  local dir=$WORK/apt-$name
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  printf '%s\n' "$@" >"$dir/sources.list"
  APT_OPTS=(-o "Dir::State::Lists=$dir/lists" -o "Dir::Etc::SourceList=$dir/sources.list"
            -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::Cache=$dir/cache"
            -o "APT::Get::List-Cleanup=0")
  apt-get "${APT_OPTS[@]}" update -qq
}

# Go 1.15 from bullseye.
GOROOT_DIR=$WORK/go1.15
if [[ ! -x $GOROOT_DIR/usr/lib/go-1.15/bin/go ]]; then
  log "fetching Go 1.15 from Debian bullseye"
  private_apt bullseye "deb [signed-by=$KEYRING] http://deb.debian.org/debian bullseye main"
  (cd "$WORK" && apt-get "${APT_OPTS[@]}" download golang-1.15-go golang-1.15-src)
  rm -rf "$GOROOT_DIR"
  for deb in "$WORK"/golang-1.15-go_*.deb "$WORK"/golang-1.15-src_*.deb; do
    dpkg -x "$deb" "$GOROOT_DIR"
  done
fi
export GOROOT=$GOROOT_DIR/usr/lib/go-1.15
export PATH=$GOROOT/bin:$PATH
log "$(go version)"

# Kubernetes source from bookworm.
SRC=$WORK/kubernetes-src
if [[ ! -f $SRC/Makefile ]]; then
  log "fetching Debian's kubernetes source package"
  private_apt bookworm-src "deb-src [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main"
  mkdir -p "$WORK/src-dl"
  (cd "$WORK/src-dl" && apt-get "${APT_OPTS[@]}" source --download-only kubernetes)
  orig=$(ls "$WORK"/src-dl/kubernetes_*.orig.tar.* | head -n1)
  rm -rf "$SRC" && mkdir -p "$SRC"
  tar -xf "$orig" -C "$SRC" --strip-components=1
fi

log "building kube-apiserver and kube-controller-manager (about 6 minutes on 2 cores)"
cd "$SRC"
export CGO_ENABLED=0 GOPATH=$SRC/.go GOFLAGS=-mod=vendor GO111MODULE=on
export KUBE_GIT_VERSION=$K8S_VERSION KUBE_GIT_TREE_STATE=clean KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
for b in kube-apiserver kube-controller-manager; do
  install -m 0755 "_output/local/go/bin/$b" "$OUT/$b.tmp"
  mv "$OUT/$b.tmp" "$OUT/$b"
done
"$OUT/kube-apiserver" --version
log "cached in $OUT"
