#!/usr/bin/env bash
# Build (or reuse) what the test Kubernetes cluster (tests/kube/cluster.sh) runs:
#   tests/kube/build.sh            build or reuse; the last stdout line is the root folder
# The root holds bin/ (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl, coredns, kube-router, pause, probe), images/ (pause.tar, coredns.tar, probe.tar: for
# `ctr images import`), BUILD-INFO and COMPLETE. Everything else the cluster runs is a Debian
# package, installed here when missing: etcd-server, containerd, runc,
# containernetworking-plugins, iptables, conntrack, ipset (and openssl, iproute2, curl, procps).
#
# Kubernetes and CoreDNS are built from the Go module proxy (nothing else on the internet is
# needed); pause and probe from images/ next to this script.
#
# Cache: ${O3_KUBE_CACHE:-/root/.cache/o3-kube}/
#   <key>/             the root; key = hash of this script, mkimage.py, images/ and the Go version
#   parts/<name>-<h>/  one built piece (k8s, coredns, images), keyed by the function that builds
#                      it, its versions and the Go version: editing one piece rebuilds only it
#   go/mod, go/build   GOMODCACHE and GOCACHE
# Pieces are built under tmp/ and renamed into place: an interrupted build never leaves a folder
# that looks complete. Progress and timings go to stderr.
set -euo pipefail
shopt -s inherit_errexit   # a failing step inside $(part ...) stops the build
here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.37.2
COREDNS_VERSION=v1.15.0   # the first CoreDNS built on client-go v0.37 (k8s 1.37 APIs)
KUBE_ROUTER_VERSION=v2.1.0   # NetworkPolicy enforcement (firewall only); the proxy refuses newer tags
PAUSE_IMAGE=o3kube.local/pause:3.10
PROBE_IMAGE=o3kube.local/probe:1
COREDNS_IMAGE=o3kube.local/coredns:${COREDNS_VERSION#v}
cache=${O3_KUBE_CACHE:-/root/.cache/o3-kube}
t_start=$(date +%s)

log() { echo "[kube-build] $*" >&2; }
sha() { sha256sum | cut -c1-16; }

ensure_packages() {
  local need=()
  command -v etcd >/dev/null || need+=(etcd-server)
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v iptables >/dev/null || need+=(iptables)
  command -v conntrack >/dev/null || need+=(conntrack)
  command -v openssl >/dev/null || need+=(openssl)
  command -v ip >/dev/null || need+=(iproute2)
  command -v python3 >/dev/null || need+=(python3)
  command -v curl >/dev/null || need+=(curl)            # cluster.sh: health checks
  command -v sysctl >/dev/null || need+=(procps)        # cluster.sh: sysctl, ps
  command -v ipset >/dev/null || need+=(ipset)          # kube-router's NetworkPolicy sets
  command -v go >/dev/null || { log "go (1.26) is needed to build Kubernetes"; exit 1; }
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOTOOLCHAIN=local GOPROXY=${GOPROXY:-https://proxy.golang.org}
go_version=$(go env GOVERSION)
gobuild() { nice -n 10 go build -p 2 -trimpath "$@"; }

# --- the pieces: each builds into $1 (a fresh folder) --------------------------------------
build_k8s() {
  local out=$1 src=$1/src
  mkdir -p "$src" "$out/bin"
  local gomod; gomod=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) by ./staging folders that
  # are not in its module zip: replace each by the same module at v0.<minor>.<patch>.
  local staging_version=v0.${K8S_VERSION#v1.}
  {
    printf 'module o3site/kubebuild\n\ngo 1.26.0\n\ngodebug default=go1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
    printf ')\n'
  } >"$src/go.mod"
  local n; n=$(grep -c ' => ' "$src/go.mod")
  [ "$n" -gt 20 ] || { log "found only $n staging modules in $gomod"; return 1; }
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
  { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
    for c in "${cmds[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done; echo ')'; } >"$src/tools.go"
  (cd "$src" && nice -n 10 go mod tidy)
  local info; info=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Info"])')
  local date; date=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$info")
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w" pkg
  # What Kubernetes' hack/lib/version.sh stamps (no git here: the commit is left empty).
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  (cd "$src" && gobuild -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$out/bin/" \
    "${cmds[@]/#/k8s.io/kubernetes/cmd/}")
  local said; said=$("$out/bin/kubectl" version --client)   # (not piped into grep -q: SIGPIPE)
  [[ $said == *"$K8S_VERSION"* ]] || { log "kubectl does not say $K8S_VERSION: $said"; return 1; }
}

build_coredns() {
  local out=$1
  mkdir -p "$out/bin"
  (cd "$out" && GOBIN="$out/bin" nice -n 10 go install -p 2 -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@$COREDNS_VERSION")
  local said; said=$("$out/bin/coredns" -version)
  [[ $said == *"${COREDNS_VERSION#v}"* ]] || { log "coredns does not say $COREDNS_VERSION: $said"; return 1; }
  mkdir -p "$out/images"
  python3 "$here/mkimage.py" "$out/images/coredns.tar" "$COREDNS_IMAGE" "$out/bin/coredns"
}

# kube-router's network-policy controller: the bridge CNI enforces no NetworkPolicy; hospital
# clusters have a CNI that does. Run firewall-only by cluster.sh, one process per node.
build_kuberouter() {
  local out=$1
  mkdir -p "$out/bin"
  (cd "$out" && GOBIN="$out/bin" GOFLAGS="$GOFLAGS -mod=mod" nice -n 10 go install -p 2 -trimpath \
    -ldflags "-s -w" "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION")
  [ -x "$out/bin/kube-router" ] || { log "kube-router was not built"; return 1; }
}

build_images() {
  local out=$1
  mkdir -p "$out/bin" "$out/images"
  cp -r "$here/images" "$out/src"
  (cd "$out/src" && gobuild -ldflags "-s -w" -o "$out/bin/" ./pause ./probe)
  python3 "$here/mkimage.py" "$out/images/pause.tar" "$PAUSE_IMAGE" "$out/bin/pause"
  python3 "$here/mkimage.py" "$out/images/probe.tar" "$PROBE_IMAGE" "$out/bin/probe" serve
  rm -rf "$out/src"
}

# part NAME VERSIONS...: reuse or build parts/NAME-<hash>; prints its folder.
part() {
  local name=$1; shift
  local key; key=$( { declare -f "build_$name" gobuild; echo "$go_version $*"; [ "$name" = k8s ] || cat "$here/mkimage.py"
    [ "$name" != images ] || (cd "$here/images" && find . -type f | LC_ALL=C sort | xargs cat); } | sha)
  local dir="$cache/parts/$name-$key"
  if [ -f "$dir/COMPLETE" ]; then log "$name: cached ($dir)"; echo "$dir"; return; fi
  local tmp; tmp=$(mktemp -d "$cache/tmp/$name-XXXXXX")
  local t0; t0=$(date +%s)
  log "$name: building ($*) in $tmp"
  "build_$name" "$tmp" >&2
  echo "$(( $(date +%s) - t0 ))" >"$tmp/BUILD-SECONDS"
  touch "$tmp/COMPLETE"
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "$name: built in $(cat "$dir/BUILD-SECONDS") s"
  echo "$dir"
}

ensure_packages
mkdir -p "$cache/tmp" "$cache/parts"
root_key=$( { cat "$0" "$here/mkimage.py"; (cd "$here/images" && find . -type f | LC_ALL=C sort | xargs cat); echo "$go_version"; } | sha)
root="$cache/$root_key"
if [ -f "$root/COMPLETE" ]; then log "cached: $root"; echo "$root"; exit 0; fi

exec 9>"$cache/lock"
flock 9   # one build at a time; the second waits and then finds the first one's result
if [ -f "$root/COMPLETE" ]; then log "cached: $root"; echo "$root"; exit 0; fi
rm -rf "${cache:?}"/tmp/*   # what an interrupted or failed build left (none runs: we hold the lock)
trap 'log "build failed (exit $?); nothing was cached"' ERR

k8s=$(part k8s "$K8S_VERSION")
coredns=$(part coredns "$COREDNS_VERSION $COREDNS_IMAGE")
images=$(part images "$PAUSE_IMAGE $PROBE_IMAGE")
kuberouter=$(part kuberouter "$KUBE_ROUTER_VERSION")
tmp=$(mktemp -d "$cache/tmp/root-XXXXXX")
mkdir -p "$tmp/bin" "$tmp/images"
cp -l "$k8s"/bin/* "$coredns"/bin/* "$images"/bin/* "$kuberouter"/bin/* "$tmp/bin/"
cp -l "$coredns"/images/* "$images"/images/* "$tmp/images/"
cat >"$tmp/BUILD-INFO" <<EOF
K8S_VERSION=$K8S_VERSION
COREDNS_VERSION=$COREDNS_VERSION
PAUSE_IMAGE=$PAUSE_IMAGE
PROBE_IMAGE=$PROBE_IMAGE
COREDNS_IMAGE=$COREDNS_IMAGE
GO_VERSION=$go_version
K8S_BUILD_SECONDS=$(cat "$k8s/BUILD-SECONDS")
COREDNS_BUILD_SECONDS=$(cat "$coredns/BUILD-SECONDS")
IMAGES_BUILD_SECONDS=$(cat "$images/BUILD-SECONDS")
KUBE_ROUTER_VERSION=$KUBE_ROUTER_VERSION
KUBE_ROUTER_BUILD_SECONDS=$(cat "$kuberouter/BUILD-SECONDS")
EOF
touch "$tmp/COMPLETE"
rm -rf "$root"; mv "$tmp" "$root"
log "done in $(( $(date +%s) - t_start )) s: $root"
echo "$root"
