#!/usr/bin/env bash
# Builds the local control plane from Go modules and caches the binaries by
# version under ${PLUMB_CACHE:-~/.cache/plumb}. Every module is pinned by the
# go.mod/go.sum in modules/<name>-<version>/ (go.sum checks every byte the
# module proxy serves), so a build is reproducible.
#
#   build.sh setup                          etcd and kube-apiserver/kube-controller-manager
#                                           of K8S_VERSION and K8S_COMPAT_VERSION (versions.env)
#   build.sh k8s <version> <component>...   components of k8s.io/kubernetes/cmd,
#                                           e.g. kube-apiserver kube-controller-manager
#   build.sh etcd <version>                 go.etcd.io/etcd/server/v3
#   build.sh module <version>               writes modules/k8s-<version>/ for a new
#                                           Kubernetes release (see docs/development.md)
#
# Idempotent: a cached binary is never rebuilt; the first build of a release
# takes several minutes on 2 cores. Progress goes to stdout, one line a step.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${PLUMB_CACHE:-$HOME/.cache/plumb}
# The machine's own Go, never a downloaded toolchain; modules strictly as pinned.
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

log() { echo "[control-plane] $*"; }

need_go() {
  command -v go >/dev/null || { echo "Go is not installed (the control plane is built with it)" >&2; exit 1; }
}

# Copies the pinned module files to a private build folder and builds the
# given packages there into $out (binaries moved in place only when complete).
build_module() { # module-dir out-dir ldflags package...
  local module=$1 out=$2 ldflags=$3
  shift 3
  [[ -f $module/go.mod && -f $module/go.sum ]] || {
    echo "no pinned module files in $module; run '$0 module <version>' and commit them" >&2
    exit 1
  }
  local work
  work=$(mktemp -d "$CACHE/build.XXXXXX")
  cp "$module/go.mod" "$module/go.sum" "$work/"
  mkdir -p "$out" "$work/bin"
  log "downloading modules for $(basename "$module") (go mod download)"
  (cd "$work" && go mod download)
  log "compiling $* ($(go version | awk '{print $3}'))"
  (cd "$work" && go build -trimpath -ldflags "$ldflags" -o "$work/bin/" "$@")
  for bin in "$work"/bin/*; do
    install -m 0755 "$bin" "$out/.$(basename "$bin").tmp"
    mv "$out/.$(basename "$bin").tmp" "$out/$(basename "$bin")"
  done
  rm -rf "$work"
}

k8s() { # version component...
  local version=$1
  shift
  local out=$CACHE/k8s-$version missing=()
  for component in "$@"; do
    [[ -x $out/$component ]] || missing+=("$component")
  done
  if ((${#missing[@]} == 0)); then
    log "Kubernetes $version ($*): cached in $out"
    return
  fi
  need_go
  local minor=${version#v1.}
  minor=${minor%%.*}
  local v=k8s.io/component-base/version
  local ldflags="-s -w -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  local packages=()
  for component in "${missing[@]}"; do packages+=("k8s.io/kubernetes/cmd/$component"); done
  log "building Kubernetes $version: ${missing[*]} (several minutes the first time)"
  build_module "$HERE/modules/k8s-$version" "$out" "$ldflags" "${packages[@]}"
  "$out/${missing[0]}" --version
  log "cached in $out"
}

etcd() { # version
  local version=$1 out=$CACHE/etcd-$1
  if [[ -x $out/etcd ]]; then
    log "etcd $version: cached in $out"
    return
  fi
  need_go
  log "building etcd $version"
  build_module "$HERE/modules/etcd-$version" "$out" "-s -w" go.etcd.io/etcd/server/v3
  # go names a binary of a /vN package after the element before it.
  mv "$out/server" "$out/etcd"
  log "cached in $out"
}

# A go.mod for a new Kubernetes release: k8s.io/kubernetes at <version> with
# every staging module (k8s.io/api, client-go, ...) replaced by its matching
# v0.<minor>.<patch> release, as the upstream go.mod replaces them by paths.
module() { # version
  local version=$1 dir=$HERE/modules/k8s-$1
  need_go
  mkdir -p "$dir"
  local upstream
  upstream=$(curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/k8s.io/kubernetes/@v/$version.mod")
  {
    echo "module plumb.dev/testenv/control-plane"
    echo
    echo "$upstream" | grep -m1 '^go '
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    echo "$upstream" | awk -v v="v0.${version#v1.}" '$2 == "=>" && $3 ~ /^\.\/staging/ {print "\t" $1 " => " $1 " " v}'
    echo ")"
    echo
    echo "tool ("
    for c in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
      echo "	k8s.io/kubernetes/cmd/$c"
    done
    echo ")"
  } >"$dir/go.mod"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
  log "wrote $dir/go.mod and go.sum; commit them and set K8S_VERSION"
}

mkdir -p "$CACHE"
# shellcheck source=versions.env
source "$HERE/versions.env"
case ${1:-} in
  setup)
    etcd "$ETCD_VERSION"
    k8s "$K8S_VERSION" kube-apiserver kube-controller-manager
    k8s "$K8S_COMPAT_VERSION" kube-apiserver kube-controller-manager
    ;;
  k8s) shift; k8s "$@" ;;
  etcd) shift; etcd "$@" ;;
  module) shift; module "$@" ;;
  *) echo "usage: $0 setup | k8s <version> <component>... | etcd <version> | module <version>" >&2; exit 2 ;;
esac
