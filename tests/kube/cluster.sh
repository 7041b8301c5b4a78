#!/usr/bin/env bash
# A private two-node Kubernetes cluster for end-to-end tests (needs root; see NOTES.md):
#   tests/kube/cluster.sh start            build or reuse the binaries (build.sh), start everything;
#                                          prints the admin kubeconfig's path (export KUBECONFIG=...)
#   tests/kube/cluster.sh stop [--purge]   stop everything, leave no process, mount, link or rule;
#                                          --purge also wipes etcd, the PKI, the nodes' images and volumes
#   tests/kube/cluster.sh status           what runs (exit 1 unless all of it)
#   tests/kube/cluster.sh restart-kubelet node1|node2
#   tests/kube/cluster.sh load-image TARBALL...   import image tarballs into both nodes' containerd
#   tests/kube/cluster.sh kubectl ARGS...  kubectl with the admin kubeconfig
#   tests/kube/cluster.sh poweroff|poweron node2          a node's faults (by cgroup and PID, never
#   tests/kube/cluster.sh hang-kubelet|resume-kubelet NODE by name; see NOTES.md "Node faults")
#   tests/kube/cluster.sh cut-network|restore-network node2
#   tests/kube/cluster.sh reach|unreach CIDR IFACE   let both nodes' pods reach (or no longer) a test
#                                          network behind IFACE (an off-site backup host's namespace)
#
# Control plane on the host: etcd (127.0.0.1:23790), kube-apiserver (https://10.232.0.1:6443),
# kube-controller-manager, kube-scheduler. node1 runs in the host's network namespace, node2 in
# a network namespace of its own behind a veth pair (10.232.0.1 <-> 10.232.0.2); each node has
# its own containerd, kubelet and kube-proxy (iptables mode), in a mount namespace of its own
# with a private /run. Pods: 10.244.1.0/24 (node1), 10.244.2.0/24 (node2); Services 10.96.0.0/16,
# CoreDNS at 10.96.0.10; StorageClass o3-nas (ReadWriteMany, folders under /tmp/hostpath_pv
# that both nodes see). Every process lives in a cgroup of ours (/o3k-cp, /o3k-node1,
# /o3k-node2), which is how `stop` finds them all.
#
# Kept between runs (the data, like tests/dockerd.sh's data root): ${O3_KUBE_STATE:-/var/lib/o3-kube}
# (etcd, PKI, kubeconfigs, each node's containerd images and kubelet folder, logs/).
# Runtime files: /run/o3-kube. Binaries: build.sh's cache.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
name=o3k
state=${O3_KUBE_STATE:-/var/lib/o3-kube}
run=/run/o3-kube
pki=$state/pki
logs=$state/logs
kubeconfig=$state/admin.kubeconfig
ns=$name-node2                      # node2's network namespace
veth_host=$name-veth0 veth_node=$name-veth1
net=10.232.0 host_ip=10.232.0.1 node2_ip=10.232.0.2
api=https://$host_ip:6443
pod_cidr=10.244.0.0/16 service_cidr=10.96.0.0/16 dns_ip=10.96.0.10
nas=/tmp/hostpath_pv                # where kube-controller-manager's host-path provisioner makes volumes
etcd_client=http://127.0.0.1:23790
# The size each node reports (capacity = allocatable + 100Mi of memory): CPU cores and GiB of
# memory, 0 = the machine's own. A stand-in for a hospital's nodes; see NOTES.md "Node capacity".
node_cpus=${O3_KUBE_NODE_CPUS:-32}
node_mem_gib=${O3_KUBE_NODE_MEMORY_GB:-128}
t0=$(date +%s.%N)

log() { echo "[kube] $*" >&2; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "${2:-$(date +%s.%N)}"; }
die() { log "$*"; exit 1; }
node_ip() { [ "$1" = node1 ] && echo "$host_ip" || echo "$node2_ip"; }
node_pods() { [ "$1" = node1 ] && echo 10.244.1.0/24 || echo 10.244.2.0/24; }
node_bridge() { echo "$name-br${1#node}"; }
sock() { echo "$state/$1/containerd.sock"; }
live() { local s; s=$(ps -o stat= -p "$1") && [[ $s != Z* ]]; }  # (a zombie waits for PID 1 to reap it)
alive() { [ -f "$run/$1.pid" ] && live "$(cat "$run/$1.pid")"; }
kc() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds; fails early when the process WHAT died
  local until=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ -f "$run/$what.pid" ] && ! alive "$what"; then
      log "$what exited; its log ($logs/$what.log) ends with:"; tail -n 15 "$logs/$what.log" >&2; return 1
    fi
    [ "$(date +%s)" -lt "$until" ] || { log "$what: not ready after $1 s; see $logs/"; return 1; }
    sleep 0.5
  done
}

# --- cgroups: every process of ours is in /o3k-<group>/... of each hierarchy ---------------
cg_hierarchies() { awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts; }
cg_create() {  # cg_create GROUP: /o3k-GROUP and /o3k-GROUP/system in every hierarchy
  local h d
  for h in $(cg_hierarchies); do
    for d in "$h/$name-$1" "$h/$name-$1/system"; do
      mkdir -p "$d"
      if [ -f "$d/cpuset.cpus" ] && [ -z "$(cat "$d/cpuset.cpus")" ]; then  # cpuset: empty until copied
        cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"; cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
      fi
    done
  done
}
cg_pids() { local h; for h in $(cg_hierarchies); do [ ! -d "$h/$name-$1" ] || find "$h/$name-$1" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u; }
cg_kill() {  # cg_kill GROUP: KILL whatever runs in the group until nothing does; remove the group
  local pids i h
  for i in $(seq 100); do
    pids=$(cg_pids "$1")
    [ -n "$pids" ] || break
    kill -9 $pids 2>/dev/null || true
    sleep 0.2
  done
  [ -z "$(cg_pids "$1")" ] || log "processes left in cgroup $name-$1: $(cg_pids "$1")"
  for i in $(seq 20); do  # a cgroup can be busy for a moment after its last process died
    for h in $(cg_hierarchies); do
      [ -d "$h/$name-$1" ] && find "$h/$name-$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    [ -n "$(for h in $(cg_hierarchies); do [ ! -d "$h/$name-$1" ] || echo x; done)" ] || return 0
    sleep 0.25
  done
  log "cgroup $name-$1 could not be removed"
}

# launch GROUP NAME NODE|- CMD...: start CMD in the background, in cgroup GROUP/system (and in
# NODE's namespaces), its own session, logging to $logs/NAME.log; pid in $run/NAME.pid.
launch() {
  local group=$1 what=$2 node=$3; shift 3
  local enter=()
  if [ "$node" != - ]; then
    enter=(nsenter -t "$(cat "$run/$node-anchor.pid")" -m)
    [ "$node" = node1 ] || enter+=(-n)
  fi
  (
    for h in $(cg_hierarchies); do echo "$BASHPID" >"$h/$name-$group/system/cgroup.procs"; done
    exec setsid "${enter[@]}" "$@"
  ) >>"$logs/$what.log" 2>&1 </dev/null &
  echo $! >"$run/$what.pid"
}
stop_pid() {  # stop_pid NAME [SIGNAL]: SIGNAL (default TERM), then KILL after 15 s
  alive "$1" || { rm -f "$run/$1.pid"; return 0; }
  local pid; pid=$(cat "$run/$1.pid")
  kill -"${2:-TERM}" "$pid" 2>/dev/null || true
  for _ in $(seq 150); do live "$pid" || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$run/$1.pid"
}

# --- PKI ------------------------------------------------------------------------------------
cert() {  # cert NAME SUBJECT [SAN]: an EC key and a certificate signed by the CA (client+server use)
  [ -f "$pki/$1.crt" ] && return
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null
  local ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth${3:+
subjectAltName=$3}"
  openssl req -new -key "$pki/$1.key" -subj "$2" 2>/dev/null |
    openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
      -extfile <(echo "$ext") -out "$pki/$1.crt" 2>/dev/null
}
kubeconfig_for() {  # kubeconfig_for CERTNAME FILE
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: o3-kube
  cluster: {server: "$api", certificate-authority: "$pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$pki/$1.crt", client-key: "$pki/$1.key"}
contexts:
- name: o3-kube
  context: {cluster: o3-kube, user: $1, namespace: default}
current-context: o3-kube
EOF
}
make_pki() {
  mkdir -p "$pki"
  if [ ! -f "$pki/ca.crt" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=o3-kube-ca" -days 3650 -out "$pki/ca.crt" 2>/dev/null
  fi
  [ -f "$pki/sa.key" ] || { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
                           openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"; }
  cert apiserver "/CN=kube-apiserver" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:10.96.0.1,IP:$host_ip"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=o3-kube-admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kube-proxy "/CN=system:kube-proxy"
  cert node1 "/O=system:nodes/CN=system:node:node1"
  cert node2 "/O=system:nodes/CN=system:node:node2"
  local c; for c in admin controller-manager scheduler kube-proxy node1 node2; do kubeconfig_for "$c" "$state/$c.kubeconfig"; done
}

# --- network --------------------------------------------------------------------------------
fwd_rules() {  # the host's forwarding for our pods: between our bridge and veth only
  local br; br=$(node_bridge node1)
  cat <<EOF
-i $br -o $br -j ACCEPT
-i $br -o $veth_host -j ACCEPT
-i $veth_host -o $br -j ACCEPT
-i $br -j REJECT
-i $veth_host -j REJECT
EOF
}
reach_rules() {  # reach_rules IFACE: forwarding between both nodes' pods and IFACE
  local br; br=$(node_bridge node1)
  printf '%s\n' "-i $br -o $1 -j ACCEPT" "-i $1 -o $br -j ACCEPT" "-i $veth_host -o $1 -j ACCEPT" "-i $1 -o $veth_host -j ACCEPT"
}
reach() {  # reach CIDR IFACE: the one way out of the cluster's networks a test opens, to its own host
  local cidr=${1:-} ifc=${2:-} r chain=${name^^}-FORWARD
  [ -n "$cidr" ] && [ -n "$ifc" ] || die "usage: reach CIDR IFACE"
  ip link show "$ifc" >/dev/null 2>&1 || die "no interface $ifc"
  ip -n "$ns" route replace "$cidr" via "$host_ip"
  while read -r r; do iptables -w -C "$chain" $r 2>/dev/null || iptables -w -I "$chain" 1 $r; done < <(reach_rules "$ifc")
}
unreach() {
  local cidr=${1:-} ifc=${2:-} r chain=${name^^}-FORWARD
  [ -n "$cidr" ] && [ -n "$ifc" ] || die "usage: unreach CIDR IFACE"
  ip -n "$ns" route del "$cidr" 2>/dev/null || true
  while read -r r; do iptables -w -D "$chain" $r 2>/dev/null || true; done < <(reach_rules "$ifc")
}
net_up() {
  local r
  for r in "$net.0/24" "$pod_cidr" "$service_cidr"; do  # nothing else may use our ranges (ours are down)
    [ -z "$(ip route show root "$r")" ] || die "$r is already routed on this machine: $(ip route show root "$r")"
  done
  ip netns add "$ns"
  ip link add "$veth_host" type veth peer name "$veth_node"
  ip link set "$veth_node" netns "$ns"
  ip addr add "$host_ip/24" dev "$veth_host"
  ip link set "$veth_host" up
  ip -n "$ns" addr add "$node2_ip/24" dev "$veth_node"
  ip -n "$ns" link set "$veth_node" up
  ip -n "$ns" link set lo up
  # No default route anywhere: what is not ours has no way out. node2 reaches node1's pods via
  # the host; Service addresses are on-link on the veth, so that a locally made connection gets
  # a source address here and kube-proxy's DNAT (OUTPUT) can send it on.
  ip -n "$ns" route add 10.244.1.0/24 via "$host_ip"
  ip -n "$ns" route add "$service_cidr" dev "$veth_node"
  ip route add 10.244.2.0/24 via "$node2_ip" dev "$veth_host"
  ip route add "$service_cidr" dev "$veth_host"
  # Forwarding and bridged traffic through iptables (kube-proxy needs both; Docker sets them too,
  # so they are left as they are on stop).
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  # Each node's bridge exists before its CNI runs, so the host routes and rules can name it.
  ip link add "$(node_bridge node1)" type bridge && ip addr add 10.244.1.1/24 dev "$(node_bridge node1)" && ip link set "$(node_bridge node1)" up
  ip -n "$ns" link add "$(node_bridge node2)" type bridge && ip -n "$ns" addr add 10.244.2.1/24 dev "$(node_bridge node2)" && ip -n "$ns" link set "$(node_bridge node2)" up
  local chain=${name^^}-FORWARD
  iptables -N "$chain"
  while read -r r; do iptables -A "$chain" $r; done < <(fwd_rules)
  iptables -I FORWARD 1 -j "$chain"
  for r in "$node2_ip" "$net.9" 10.244.2.7 10.96.0.10; do
    ip route get "$r" | grep -q "dev $veth_host" || die "$r would not stay on $veth_host: $(ip route get "$r")"
  done
}
kube_chains_down() {  # what node1's kubelet and kube-proxy left in the host's tables: every KUBE-* chain and jump
  local cmd t rule chain
  for cmd in iptables ip6tables; do
    for t in filter nat mangle raw; do
      # Jumps from other chains (the rules come from iptables -S, quoted comments and all).
      while read -r rule; do eval "$cmd -t $t -D ${rule#-A }"; done < <($cmd -t $t -S | grep -E -- '-j KUBE-' | grep -v '^-A KUBE-')
      for chain in $($cmd -t $t -S | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do $cmd -t $t -F "$chain"; done
      for chain in $($cmd -t $t -S | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do $cmd -t $t -X "$chain"; done
    done
  done
}
net_down() {
  local chain=${name^^}-FORWARD
  while iptables -D FORWARD -j "$chain" 2>/dev/null; do :; done
  iptables -F "$chain" 2>/dev/null || true
  iptables -X "$chain" 2>/dev/null || true
  ip route del 10.244.2.0/24 2>/dev/null || true
  ip route del "$service_cidr" dev "$veth_host" 2>/dev/null || true
  ip link del "$(node_bridge node1)" 2>/dev/null || true
  ip link del "$veth_host" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}

# --- control plane --------------------------------------------------------------------------
start_control_plane() {
  cg_create cp
  mkdir -p "$state/etcd"
  launch cp etcd - etcd --name "$name" --data-dir "$state/etcd" \
    --listen-client-urls "$etcd_client" --advertise-client-urls "$etcd_client" \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster "$name=http://127.0.0.1:23800" --listen-metrics-urls http://127.0.0.1:23810 --logger zap
  wait_for 60 etcd curl -fsS --max-time 5 "$etcd_client/health"
  launch cp kube-apiserver - "$bin/kube-apiserver" --etcd-servers "$etcd_client" \
    --bind-address "$host_ip" --advertise-address "$host_ip" --secure-port 6443 \
    --service-cluster-ip-range "$service_cidr" --allow-privileged=true \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --profiling=false
  wait_for 90 kube-apiserver curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$api/readyz"
  launch cp kube-controller-manager - "$bin/kube-controller-manager" --kubeconfig "$state/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$service_cidr" --cluster-cidr "$pod_cidr" --allocate-node-cidrs=false \
    --enable-hostpath-provisioner --profiling=false
  cat >"$run/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {kubeconfig: "$state/scheduler.kubeconfig"}
leaderElection: {leaderElect: false}
EOF
  launch cp kube-scheduler - "$bin/kube-scheduler" --config "$run/scheduler.yaml" --bind-address 127.0.0.1 --profiling=false
}

# --- the node's size, as its kubelet sees it (NOTES.md "Node capacity") --------------------
# The kubelet's capacity is cadvisor's MachineInfo: memory = MemTotal of /proc/meminfo; CPUs =
# the CPU folders under /sys/devices/system/node/node*/ (glob cpu*[0-9]) that have
# topology/core_id and topology/physical_package_id and whose number (Atoi of the digits) is in
# /sys/devices/system/cpu/online. node_machine writes a fake node0 and a fake meminfo; the anchor
# bind-mounts them over the real ones in the node's mount namespace, so the kubelet (and the
# containerd, runc and kube-proxy next to it) see them; containers mount their own /proc and /sys.
# Each fake CPU carries the number of a CPU the node's cgroup may use (cpu0 cpu1 cpu00 cpu01
# cpu000 ... on a 2-CPU machine: all CPU 0 or 1 to cadvisor), each as a core of its own: the
# kubelet writes the CPU numbers it knows into the kubepods cgroup's cpuset.cpus (CPU manager
# policy none), and the kernel refuses a CPU that does not exist ("0-31": ERANGE).
cpu_list() {  # cpu_list 0-2,5 -> 0 1 2 5
  local part out=() parts
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then out+=($(seq "${part%-*}" "${part#*-}")); else out+=("$part"); fi
  done
  echo "${out[@]}"
}
meminfo_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
node_machine() {  # node_machine NODE: $state/NODE/machine/{node/,meminfo}, or nothing for the real size
  local node=$1 m=$state/$1/machine
  rm -rf "$m"
  [ "$node_cpus" != 0 ] || [ "$node_mem_gib" != 0 ] || return 0
  mkdir -p "$m/node/node0"
  local total free avail swap ratio
  total=$(meminfo_kb MemTotal) free=$(meminfo_kb MemFree) avail=$(meminfo_kb MemAvailable)
  swap=$(meminfo_kb SwapTotal) ratio=$(cat /proc/sys/vm/overcommit_ratio)
  local t=$total
  if [ "$node_mem_gib" != 0 ]; then
    t=$(( node_mem_gib * 1024 * 1024 ))
    # /proc/meminfo as it is now, with MemTotal (the capacity) and what follows from it: free and
    # available grow by the same amount, CommitLimit is SwapTotal + MemTotal * overcommit_ratio %.
    awk -v t="$t" -v d="$(( t - total ))" -v cl="$(( swap + t * ratio / 100 ))" '
      $1 == "MemTotal:" { v = t } $1 == "MemFree:" || $1 == "MemAvailable:" { v = $2 + d } $1 == "CommitLimit:" { v = cl }
      v == "" { print; next } { printf "%-16s%8d kB\n", $1, (v < 0 ? 0 : v); v = "" }' /proc/meminfo >"$m/meminfo"
  fi
  if [ "$node_cpus" = 0 ]; then rm -rf "$m/node"; return 0; fi
  # The CPUs the node's cgroup may use (all of them; cg_create copied its parent's).
  local h set cpus
  h=$(awk '$3 == "cgroup" && $4 ~ /(^|,)cpuset(,|$)/ { print $2; exit }' /proc/mounts)
  if [ -n "$h" ] && [ -s "$h/$name-$node/cpuset.cpus" ]; then set=$(cat "$h/$name-$node/cpuset.cpus"); else set=$(cat /sys/devices/system/cpu/online); fi
  read -ra cpus <<<"$(cpu_list "$set")"
  [ "$node_cpus" -le $(( ${#cpus[@]} * 240 )) ] || die "O3_KUBE_NODE_CPUS=$node_cpus: at most $(( ${#cpus[@]} * 240 )) on this machine"
  local k=0 zeros= cpu d f
  while [ "$k" -lt "$node_cpus" ]; do
    for cpu in "${cpus[@]}"; do
      [ "$k" -lt "$node_cpus" ] || break
      d=$m/node/node0/cpu$zeros$cpu
      mkdir -p "$d/topology"
      echo "$k" >"$d/topology/core_id"; echo 0 >"$d/topology/physical_package_id"
      k=$(( k + 1 ))
    done
    zeros+=0
  done
  for f in online possible has_cpu has_memory has_normal_memory; do echo 0 >"$m/node/$f"; done
  echo 10 >"$m/node/node0/distance"
  printf 'Node 0 MemTotal:       %8d kB\nNode 0 MemFree:        %8d kB\nNode 0 MemUsed:        %8d kB\n' \
    "$t" "$(( t - total + free ))" "$(( total - free ))" >"$m/node/node0/meminfo"
  for d in /sys/kernel/mm/hugepages/hugepages-*; do  # (one NUMA node: the machine's huge pages)
    [ -e "$d" ] || continue
    mkdir -p "$m/node/node0/hugepages/${d##*/}"; cat "$d/nr_hugepages" >"$m/node/node0/hugepages/${d##*/}/nr_hugepages"
  done
}
to_kib() {  # to_kib QUANTITY (a memory quantity as the API server prints it) -> KiB
  case $1 in
    *Ki) echo "${1%Ki}" ;; *Mi) echo $(( ${1%Mi} * 1024 )) ;; *Gi) echo $(( ${1%Gi} * 1048576 )) ;;
    *Ti) echo $(( ${1%Ti} * 1073741824 )) ;; *[0-9]) echo $(( $1 / 1024 )) ;; *) echo "?$1" ;;
  esac
}
want_size() {  # want_size: "CPUS KIB", what each node must report
  local cpu=$node_cpus mem=$(( node_mem_gib * 1048576 ))
  [ "$cpu" != 0 ] || cpu=$(nproc --all)
  [ "$mem" != 0 ] || mem=$(meminfo_kb MemTotal)
  echo "$cpu $mem"
}
reported_size() {  # reported_size NODE: "CPUS KIB" of the node's capacity
  local cpu mem
  read -r cpu mem < <(kc get node "$1" -o jsonpath='{.status.capacity.cpu} {.status.capacity.memory}{"\n"}')
  echo "$cpu $(to_kib "$mem")"
}
size_ok() { [ "$(reported_size "$1")" = "$(want_size)" ]; }
check_capacity() {  # check_capacity [WAIT]: the nodes report what node_machine made (WAIT s for the kubelets' status)
  local node want; want=$(want_size)
  for node in node1 node2; do
    if [ -n "${1:-}" ]; then wait_for "$1" "$node-kubelet" size_ok "$node" || true; fi
    size_ok "$node" || { log "$node reports cpu, KiB = $(reported_size "$node"), not $want"; return 1; }
  done
}

# --- nodes ----------------------------------------------------------------------------------
# The anchor: a process that holds the node's mount namespace (and, for node2, sits in its
# network namespace); every other process of the node enters its namespaces (launch).
ANCHOR='set -eu
dir=$1
if [ -n "${CGROUP_MOUNTS:-}" ]; then   # `ip netns exec` mounted a sysfs of its own: put the cgroups back
  mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
  echo "$CGROUP_MOUNTS" | while read -r type path opts; do
    mkdir -p "$path"; mount -t "$type" -o "$opts" "$type" "$path"
  done
fi
mount -t tmpfs -o mode=0755 o3k-run /run
mkdir -p /run/netns /run/lock
mount --bind "$dir/cni" /var/lib/cni
mount --bind "$dir/containers-log" /var/log/containers
# The kubelet sets these kernel tunables (vm.overcommit_memory=1, kernel.panic=10, ...) unless it
# already finds them: it finds them in files of ours, and the host keeps its own.
for f in "$dir"/sysctl/*; do [ -e "$f" ] || continue; mount --bind "$f" "/proc/sys/$(basename "$f" | tr . /)"; done
# The node size the kubelet reports (node_machine): read-only, in this namespace only.
if [ -d "$dir/machine/node" ]; then
  mount --bind "$dir/machine/node" /sys/devices/system/node
  mount -o remount,bind,ro /sys/devices/system/node
fi
if [ -f "$dir/machine/meminfo" ]; then
  mount --bind "$dir/machine/meminfo" /proc/meminfo
  mount -o remount,bind,ro /proc/meminfo
fi
exec sleep infinity'

node_config() {  # the node's containerd, CNI, kubelet and kube-proxy configuration
  local node=$1 d=$state/$1 ip; ip=$(node_ip "$1")
  mkdir -p "$d/containerd" "$d/kubelet" "$d/pod-logs" "$d/containers-log" "$d/cni" "$d/cni-conf" "$d/sysctl"
  rm -rf "$d/cni"/* "$d/sysctl"/*   # IP allocations and cached results of sandboxes that are gone
  local key want
  # What kubelet's setupKernelTunables wants (pkg/kubelet/cm/container_manager_linux.go).
  for key in vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.panic=10 kernel.panic_on_oops=1 \
             kernel.keys.root_maxkeys=1000000 kernel.keys.root_maxbytes=25000000; do
    want=${key#*=}; key=${key%=*}
    [ "$(sysctl -n "$key")" = "$want" ] || echo "$want" >"$d/sysctl/$key"
  done
  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$(sock "$node")"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni-conf"
    max_conf_num = 1
EOF
  cat >"$d/cni-conf/10-o3k.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "o3k", "plugins": [
  {"type": "bridge", "bridge": "$(node_bridge "$node")", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "/var/lib/cni/networks", "ranges": [[{"subnet": "$(node_pods "$node")"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
  cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {x509: {clientCAFile: "$pki/ca.crt"}, webhook: {enabled: false}, anonymous: {enabled: false}}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$(sock "$node")
cgroupDriver: cgroupfs
cgroupRoot: /$name-$node
failCgroupV1: false
failSwapOn: false
clusterDNS: [$dns_ip]
clusterDomain: cluster.local
resolvConf: "$state/resolv.conf"
podLogsDir: "$d/pod-logs"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
# Must stay none/None (the defaults) while the node's size is faked (NOTES.md "Node capacity"):
# the static policies pin containers to CPUs by number, and the fake CPUs share numbers.
cpuManagerPolicy: none
memoryManagerPolicy: None
topologyManagerPolicy: none
EOF
  cat >"$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: "$state/kube-proxy.kubeconfig"}
hostnameOverride: $node
clusterCIDR: $pod_cidr
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$net.0/24"]
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

start_kubelet() {
  local node=$1 d=$state/$1
  launch "$node" "$node-kubelet" "$node" "$bin/kubelet" --config "$d/kubelet.yaml" \
    --kubeconfig "$state/$node.kubeconfig" --root-dir "$d/kubelet" --cert-dir "$d/kubelet/pki" \
    --hostname-override "$node" --node-ip "$(node_ip "$node")" --v 1
}
node_ready() {
  [ "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
kubelet_healthy() {  # the kubelet's healthz, on the node's loopback
  nsenter -t "$(cat "$run/$1-anchor.pid")" -n curl -fsS --max-time 5 http://127.0.0.1:10248/healthz
}

start_node() {
  local node=$1 d=$state/$1 t; t=$(date +%s.%N)
  node_config "$node"
  cg_create "$node"
  node_machine "$node"
  export CGROUP_MOUNTS=
  if [ "$node" = node1 ]; then
    launch "$node" "$node-anchor" - unshare --mount --propagation private sh -c "$ANCHOR" anchor "$d"
  else
    CGROUP_MOUNTS=$(awk '$3 == "cgroup" || $3 == "cgroup2" {
        n = split($4, o, ","); s = ""
        for (i = 1; i <= n; i++) if (o[i] !~ /^(rw|ro|relatime|nosuid|nodev|noexec)$/) s = s (s ? "," : "") o[i]
        print $3, $2, (s ? s : "defaults") }' /proc/mounts)
    launch "$node" "$node-anchor" - ip netns exec "$ns" unshare --mount --propagation private sh -c "$ANCHOR" anchor "$d"
  fi
  wait_for 10 "$node-anchor" grep -qx sleep "/proc/$(cat "$run/$node-anchor.pid")/comm"
  launch "$node" "$node-containerd" "$node" containerd --config "$d/containerd.toml"
  wait_for 30 "$node-containerd" ctr -a "$(sock "$node")" version
  local image
  for image in "$root"/images/*.tar; do
    ctr -a "$(sock "$node")" -n k8s.io images import "$image" >/dev/null
  done
  start_kubelet "$node"
  launch "$node" "$node-kube-proxy" "$node" "$bin/kube-proxy" --config "$d/kube-proxy.yaml"
  start_kube_router "$node"
  log "$node: containerd up, images imported, kubelet, kube-proxy and kube-router started ($(elapsed "$t") s)"
}
# kube-router's network-policy controller (firewall only), in the node's cgroup and namespaces: the
# bridge CNI enforces no NetworkPolicy. It starts once the API server knows the node.
start_kube_router() {
  local node=$1
  launch "$node" "$node-kube-router" "$node" sh -c 'until "$1" --kubeconfig "$2" get node "$3" >/dev/null 2>&1; do sleep 1; done
    exec "$4" --kubeconfig="$2" --run-firewall=true --run-router=false --run-service-proxy=false --hostname-override="$3"' \
    kube-router "$bin/kubectl" "$kubeconfig" "$node" "$bin/kube-router"
}
kube_router_sets_down() {  # node1's kube-router left its ipsets in the host's namespace (node2's went with its own)
  command -v ipset >/dev/null || return 0
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-(SRC|DST)-|kube-router-)' || true); do
    ipset destroy "$set" 2>/dev/null || log "ipset $set could not be destroyed"
  done
}

apply_addons() {
  sed -e "s#@COREDNS_IMAGE@#$COREDNS_IMAGE#g" -e "s#@DNS_IP@#$dns_ip#g" "$here/addons.yaml" | kc apply -f - >/dev/null
}

# --- commands -------------------------------------------------------------------------------
running() { alive kube-apiserver; }

start() {
  [[ $node_cpus =~ ^[0-9]+$ && $node_mem_gib =~ ^[0-9]+$ ]] || die "O3_KUBE_NODE_CPUS, O3_KUBE_NODE_MEMORY_GB: whole numbers"
  if running; then
    bin=$(cat "$run/root")/bin
    check_capacity || log "the running cluster was started with other node sizes: stop it first to change them"
    echo "$kubeconfig"; return
  fi
  stop_all quiet
  # A start that fails half-way stops what it started (the logs stay in $logs).
  trap '[ $? = 0 ] || { log "start failed: stopping what started; logs in $logs/"; stop_all quiet; }' EXIT
  root=$("$here/build.sh" | tail -1)
  bin=$root/bin
  # shellcheck disable=SC1091
  . "$root/BUILD-INFO"
  local t_built; t_built=$(date +%s.%N)
  log "binaries: $root ($(elapsed "$t0") s)"
  mkdir -p "$run" "$logs" "$state" /var/lib/cni /var/log/containers
  echo "$root" >"$run/root"
  for f in "$logs"/*.log; do [ ! -e "$f" ] || mv "$f" "$f.1"; done
  echo "# o3-kube: no upstream DNS (CoreDNS answers cluster names only)" >"$state/resolv.conf"
  make_pki
  net_up
  start_control_plane
  local cp_s; cp_s=$(elapsed "$t_built")
  log "control plane ready ($cp_s s)"
  local t_nodes; t_nodes=$(date +%s.%N)
  start_node node1
  start_node node2
  local node ready=()
  for node in node1 node2; do
    wait_for 120 "$node Ready" node_ready "$node"
    ready+=("$(elapsed "$t_nodes")")
    log "$node Ready (${ready[-1]} s after the nodes started)"
  done
  check_capacity 60 || die "the nodes do not report the configured size (see NOTES.md \"Node capacity\")"
  local size; read -ra size <<<"$(want_size)"
  log "nodes report cpu=${size[0]} memory=${size[1]}Ki each (O3_KUBE_NODE_CPUS=$node_cpus, O3_KUBE_NODE_MEMORY_GB=$node_mem_gib; this machine: $(nproc --all) CPU, $(meminfo_kb MemTotal)Ki)"
  local t_dns; t_dns=$(date +%s.%N)
  apply_addons
  kc -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null ||
    die "CoreDNS did not become available: $(kc -n kube-system get pods -o wide 2>&1)"
  log "CoreDNS available ($(elapsed "$t_dns") s); cluster up in $(elapsed "$t0") s"
  cat >"$run/timings" <<EOF
build.sh (cached or not):        $(elapsed "$t0" "$t_built") s
control plane ready:             $cp_s s
node1 Ready after nodes started: ${ready[0]} s
node2 Ready after nodes started: ${ready[1]} s
CoreDNS available:               $(elapsed "$t_dns") s
start total:                     $(elapsed "$t0") s
EOF
  trap - EXIT
  echo "$kubeconfig"
}

stop_all() {
  local quiet=${1:-}
  local node p
  for node in node2 node1; do stop_pid "$node-kubelet"; done
  # Whatever runs in our cgroups: pods, shims, containerd, kube-proxy, the anchors, the control plane.
  for node in node2 node1; do cg_kill "$node"; rm -f "$run/$node"-*.pid; done
  # The API server takes a minute to drain on TERM: KILL it (its state is in etcd), then TERM etcd.
  for p in kube-scheduler kube-controller-manager kube-apiserver; do stop_pid "$p" KILL; done
  stop_pid etcd
  cg_kill cp; rm -f "$run"/*.pid
  # node1's kube-proxy wrote its rules into the host's tables (node2's went with its namespace).
  local root; root=$(cat "$run/root" 2>/dev/null || true)
  if [ -n "$root" ] && [ -x "$root/bin/kube-proxy" ]; then
    "$root/bin/kube-proxy" --cleanup >/dev/null 2>&1 || log "kube-proxy --cleanup failed"
  fi
  kube_chains_down
  kube_router_sets_down
  net_down
  rmdir /var/lib/cni /var/log/containers 2>/dev/null || true
  rm -rf "$run"
  [ -n "$quiet" ] || log "stopped"
}

purge() {
  stop_all quiet
  rm -rf "$state" "$nas"
  log "stopped and purged ($state, $nas)"
}

status() {
  local all=0 p
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler \
           node1-anchor node1-containerd node1-kubelet node1-kube-proxy node1-kube-router \
           node2-anchor node2-containerd node2-kubelet node2-kube-proxy node2-kube-router; do
    if alive "$p"; then echo "running  $p (pid $(cat "$run/$p.pid"))"; else echo "stopped  $p"; all=1; fi
  done
  [ "$all" != 0 ] || echo "KUBECONFIG=$kubeconfig"
  return $all
}

restart_kubelet() {
  local node=${1:-}
  [ "$node" = node1 ] || [ "$node" = node2 ] || die "usage: $0 restart-kubelet node1|node2"
  running || die "the cluster is not running"
  bin=$(cat "$run/root")/bin
  local t; t=$(date +%s.%N)
  stop_pid "$node-kubelet"
  start_kubelet "$node"
  wait_for 60 "$node-kubelet" kubelet_healthy "$node"
  log "$node: kubelet restarted, healthy in $(elapsed "$t") s"
}

load_image() {
  [ $# -gt 0 ] || die "usage: $0 load-image TARBALL..."
  running || die "the cluster is not running"
  local node f
  for f in "$@"; do
    for node in node1 node2; do ctr -a "$(sock "$node")" -n k8s.io images import "$f" >&2; done
  done
}

# --- node faults (NOTES.md "Node faults") ---------------------------------------------------
# Only node2 can lose its power or its network: node1 shares the host's network namespace with
# the control plane and the tests, and its kube-proxy writes the host's Service rules.
only_node2() { [ "${1:-}" = node2 ] || die "usage: $0 $2 node2 (node1 holds the host's network and Service rules)"; }
link_down() { ip -n "$ns" link set "$veth_node" down; }  # the host's end loses its carrier: packets go nowhere
link_up() {
  ip -n "$ns" link set "$veth_node" up
  ip -n "$ns" route replace 10.244.1.0/24 via "$host_ip"  # a link that went down lost its routes
  ip -n "$ns" route replace "$service_cidr" dev "$veth_node"
}
poweroff() {
  only_node2 "${1:-}" poweroff
  running || die "the cluster is not running"
  local t; t=$(date +%s.%N)
  link_down
  cg_kill node2  # every process of the node: containerd, shims, the pods' containers, kubelet, kube-proxy
  rm -f "$run"/node2-*.pid
  log "node2 powered off: its network down, every process of cgroup $name-node2 killed ($(elapsed "$t") s)"
}
poweron() {
  only_node2 "${1:-}" poweron
  running || die "the cluster is not running"
  ! alive node2-kubelet || die "node2 is on"
  root=$(cat "$run/root"); bin=$root/bin
  # shellcheck disable=SC1091
  . "$root/BUILD-INFO"
  local t; t=$(date +%s.%N)
  link_up
  start_node node2
  wait_for 120 "node2 Ready" node_ready node2
  log "node2 powered on, Ready in $(elapsed "$t") s"
}
kubelet_tree() {  # kubelet_tree NODE: the node's kubelet and what it started itself (by PID)
  alive "$1-kubelet" || die "$1's kubelet does not run"
  local pid; pid=$(cat "$run/$1-kubelet.pid")
  echo "$pid"; pgrep -P "$pid" || true
}
hang_kubelet() {
  [ "${1:-}" = node1 ] || [ "${1:-}" = node2 ] || die "usage: $0 hang-kubelet node1|node2"
  kill -STOP $(kubelet_tree "$1")
  log "$1: kubelet stopped (SIGSTOP); its pods keep running"
}
resume_kubelet() {
  [ "${1:-}" = node1 ] || [ "${1:-}" = node2 ] || die "usage: $0 resume-kubelet node1|node2"
  kill -CONT $(kubelet_tree "$1")
  log "$1: kubelet resumed (SIGCONT)"
}
cut_network() { only_node2 "${1:-}" cut-network; link_down; log "node2: network cut (its veth down)"; }
restore_network() { only_node2 "${1:-}" restore-network; link_up; log "node2: network restored"; }

[ "$(id -u)" = 0 ] || die "needs root"
case "${1:-}" in
  start) start ;;
  stop) if [ "${2:-}" = --purge ]; then purge; else stop_all; fi ;;
  status) status ;;
  restart-kubelet) restart_kubelet "${2:-}" ;;
  load-image) shift; load_image "$@" ;;
  poweroff) poweroff "${2:-}" ;;
  poweron) poweron "${2:-}" ;;
  hang-kubelet) hang_kubelet "${2:-}" ;;
  resume-kubelet) resume_kubelet "${2:-}" ;;
  cut-network) cut_network "${2:-}" ;;
  restore-network) restore_network "${2:-}" ;;
  reach) reach "${2:-}" "${3:-}" ;;
  unreach) unreach "${2:-}" "${3:-}" ;;
  kubectl) shift; running || die "the cluster is not running"; bin=$(cat "$run/root")/bin; kc "$@" ;;
  *) echo "usage: $0 start|stop [--purge]|status|restart-kubelet NODE|load-image TARBALL...|kubectl ARGS...|poweroff|poweron|cut-network|restore-network node2|hang-kubelet|resume-kubelet NODE|reach|unreach CIDR IFACE" >&2; exit 2 ;;
esac
