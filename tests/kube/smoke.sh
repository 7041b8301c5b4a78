#!/usr/bin/env bash
# Proves the test cluster end to end, and prints the timings (needs root):
#   tests/kube/smoke.sh [--keep]
# 1. build.sh (timed: the cold build when the cache is empty, seconds when not);
# 2. cluster.sh stop + start (timed: a warm start; node Ready times from cluster.sh; start checks
#    that the nodes report the configured size, 32 CPU / 128Gi by default);
# 3. in namespace o3-smoke: a ReadWriteMany claim of class o3-nas; a Deployment `web` of two
#    probe servers, one per node (required anti-affinity), each requesting 6 CPU and 20Gi when
#    the nodes are that big, both mounting the claim and writing their node's name into it;
#    a NodePort Service `web`;
# 4. from the host: each pod's address (pod network across the veth), the ClusterIP and the
#    NodePort on both nodes (kube-proxy's rules on the host and in node2's namespace);
# 5. one Job per node: resolves `web` by its short name (CoreDNS), fetches it through its
#    ClusterIP, fetches the web pod on the *other* node directly, reads both nodes' files from
#    the shared claim; both Jobs must complete;
# 6. restart-kubelet node2: the node stays Ready, the pods keep running (no restart);
# 7. deletes the namespace: the claim's volume and its folder go with it.
# The cluster is stopped at the end unless --keep.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keep=${1:-}
t0=$(date +%s.%N)
ns=o3-smoke
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
step() { echo "[smoke] $*" >&2; }
fail() { echo "[smoke] FAIL: $*" >&2; exit 1; }
trap 'rc=$?; [ $rc = 0 ] || { step "failed (exit $rc); cluster left running for a look: $here/cluster.sh stop"; }' EXIT

t=$(date +%s.%N)
root=$("$here/build.sh" | tail -1)
build_s=$(elapsed "$t")
. "$root/BUILD-INFO"
step "build: $build_s s (this run); when the cached pieces were built: k8s $K8S_BUILD_SECONDS s, coredns $COREDNS_BUILD_SECONDS s, images $IMAGES_BUILD_SECONDS s"

"$here/cluster.sh" stop
t=$(date +%s.%N)
export KUBECONFIG
KUBECONFIG=$("$here/cluster.sh" start | tail -1)
start_s=$(elapsed "$t")
step "warm start: $start_s s (KUBECONFIG=$KUBECONFIG)"
k() { "$root/bin/kubectl" "$@"; }

t=$(date +%s.%N)
"$here/cluster.sh" load-image "$root/images/probe.tar" >/dev/null 2>&1
step "load-image probe.tar into both nodes: $(elapsed "$t") s"

# The nodes' size (cluster.sh's O3_KUBE_NODE_CPUS, O3_KUBE_NODE_MEMORY_GB; NOTES.md "Node capacity"):
# when each node has room, the web pods request far more than this machine has (6 CPU, 20Gi each),
# as the product's pods do, so scheduling, the kubelet's admission and its re-admission after
# restart-kubelet all run against the reported size.
sizes=$(k get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.allocatable.cpu} {.status.allocatable.memory}{"\n"}{end}')
web_resources='{}'
if python3 -c '
import sys
unit = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
def mem(q): return int(q[:-2]) * unit[q[-2:]] if q[-2:] in unit else int(q)
sys.exit(0 if all(float(c) >= 7 and mem(m) >= 21 * 2**30 for _, c, m in (l.split() for l in sys.argv[1].splitlines())) else 1)' "$sizes"; then
  web_resources='{requests: {cpu: "6", memory: 20Gi}}'
fi
step "nodes (name, allocatable cpu, memory): $(echo "$sizes" | paste -sd ';' | sed 's/;/; /g'); web pods' resources: $web_resources"

k delete namespace "$ns" --ignore-not-found --wait=true >/dev/null
k create namespace "$ns" >/dev/null
t=$(date +%s.%N)
k -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: o3-nas
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: web}}
            topologyKey: kubernetes.io/hostname
      initContainers:
      - name: mark
        image: $PROBE_IMAGE
        imagePullPolicy: Never
        command: [/probe, write, /shared/\$(NODE_NAME), \$(POD_NAME)]
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        volumeMounts: [{name: shared, mountPath: /shared}]
      containers:
      - name: web
        image: $PROBE_IMAGE
        imagePullPolicy: Never
        args: [serve, ":8080"]
        ports: [{containerPort: 8080}]
        resources: $web_resources
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
        volumeMounts: [{name: shared, mountPath: /shared}]
      volumes:
      - name: shared
        persistentVolumeClaim: {claimName: shared}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF
k -n "$ns" wait pvc/shared --for=jsonpath='{.status.phase}'=Bound --timeout=60s >/dev/null
k -n "$ns" rollout status deployment/web --timeout=120s >/dev/null
step "claim Bound and 2 web pods ready: $(elapsed "$t") s"

# One pod per node, each in its node's pod range.
declare -A pod_ip
while read -r pod node ip; do
  case "$node:$ip" in
    node1:10.244.1.*|node2:10.244.2.*) pod_ip[$node]=$ip ;;
    *) fail "pod $pod on $node has address $ip" ;;
  esac
done < <(k -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP}{"\n"}{end}')
[ -n "${pod_ip[node1]:-}" ] && [ -n "${pod_ip[node2]:-}" ] || fail "the web pods are not on both nodes: $(k -n "$ns" get pods -o wide)"
step "web pods: node1 ${pod_ip[node1]}, node2 ${pod_ip[node2]}"

# From the host: the pods, the ClusterIP (host's kube-proxy rules) and the NodePort on both nodes.
get() { curl -fsS --max-time 5 "$1"; }
for node in node1 node2; do get "http://${pod_ip[$node]}:8080/" >/dev/null || fail "pod on $node not reachable from the host"; done
cluster_ip=$(k -n "$ns" get service web -o jsonpath='{.spec.clusterIP}')
node_port=$(k -n "$ns" get service web -o jsonpath='{.spec.ports[0].nodePort}')
declare -A seen=()
for _ in $(seq 100); do  # kube-proxy programs a new Service (and each endpoint) a moment after the rollout
  if out=$(curl -fsS --max-time 1 "http://$cluster_ip/" 2>/dev/null); then seen[$out]=1; fi
  [ "${#seen[@]}" -lt 2 ] || break
  sleep 0.2
done
[ "${#seen[@]}" = 2 ] || fail "ClusterIP $cluster_ip answered from ${#seen[@]} pod(s): ${!seen[*]}"
step "ClusterIP $cluster_ip from the host: answers from both pods (${!seen[*]})"
for ip in 10.232.0.1 10.232.0.2; do get "http://$ip:$node_port/" >/dev/null || fail "NodePort $ip:$node_port"; done
step "NodePort $node_port answers on 10.232.0.1 (node1) and 10.232.0.2 (node2)"

# One Job per node: DNS by short name, the Service, the pod on the other node, the shared claim.
t=$(date +%s.%N)
for node in node1 node2; do
  other=node2; [ "$node" = node1 ] || other=node1
  k -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: check-$node}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {kubernetes.io/hostname: $node}
      initContainers:
      - {name: dns, image: $PROBE_IMAGE, imagePullPolicy: Never, command: [/probe, lookup, web]}
      - {name: service, image: $PROBE_IMAGE, imagePullPolicy: Never, command: [/probe, get, "http://web/"]}
      - {name: other-node, image: $PROBE_IMAGE, imagePullPolicy: Never, command: [/probe, get, "http://${pod_ip[$other]}:8080/"]}
      - name: nas-node1
        image: $PROBE_IMAGE
        imagePullPolicy: Never
        command: [/probe, cat, /shared/node1]
        volumeMounts: [{name: shared, mountPath: /shared}]
      containers:
      - name: nas-node2
        image: $PROBE_IMAGE
        imagePullPolicy: Never
        command: [/probe, cat, /shared/node2]
        volumeMounts: [{name: shared, mountPath: /shared}]
      volumes:
      - name: shared
        persistentVolumeClaim: {claimName: shared}
EOF
done
for node in node1 node2; do
  if ! k -n "$ns" wait job/check-$node --for=condition=Complete --timeout=90s >/dev/null; then
    pod=$(k -n "$ns" get pods -l job-name=check-$node -o name | head -1)
    for c in dns service other-node nas-node1 nas-node2; do echo "--- $c" >&2; k -n "$ns" logs "$pod" -c $c >&2 || true; done
    fail "job check-$node did not complete: $(k -n "$ns" get pods -l job-name=check-$node -o wide)"
  fi
  pod=$(k -n "$ns" get pods -l job-name=check-$node -o name | head -1)
  step "job check-$node Complete: web = $(k -n "$ns" logs "$pod" -c dns), shared files by $(k -n "$ns" logs "$pod" -c nas-node1) and $(k -n "$ns" logs "$pod" -c nas-node2)"
done
step "both jobs: $(elapsed "$t") s"

# The kubelet restart tests need: the node comes back, its pods stay.
before=$(k -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.uid}/{.status.containerStatuses[0].restartCount} {end}')
"$here/cluster.sh" restart-kubelet node2
sleep 5
k wait node/node2 --for=condition=Ready --timeout=60s >/dev/null
k -n "$ns" rollout status deployment/web --timeout=60s >/dev/null
after=$(k -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.uid}/{.status.containerStatuses[0].restartCount} {end}')
[ "$before" = "$after" ] || fail "the web pods changed across the kubelet restart: $before -> $after"
get "http://${pod_ip[node2]}:8080/" >/dev/null || fail "node2's pod not reachable after the kubelet restart"
step "restart-kubelet node2: node Ready, same pods, no container restart"

# Cleanup: the namespace goes (namespace controller), and with it the volume and its folder.
pv=$(k -n "$ns" get pvc shared -o jsonpath='{.spec.volumeName}')
path=$(k get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
t=$(date +%s.%N)
k delete namespace "$ns" --wait=true --timeout=120s >/dev/null
for _ in $(seq 60); do k get pv "$pv" >/dev/null 2>&1 || break; sleep 1; done
! k get pv "$pv" >/dev/null 2>&1 || fail "volume $pv still there after its claim went"
[ ! -e "$path" ] || fail "the volume's folder $path is still there"
step "namespace deleted, volume $pv and $path gone: $(elapsed "$t") s"

timings=$(cat /run/o3-kube/timings 2>/dev/null || true)
[ "$keep" = --keep ] || "$here/cluster.sh" stop
cat <<EOF
smoke: PASS in $(elapsed "$t0") s
  build this run:     $build_s s   (the cached pieces took, when built: k8s $K8S_BUILD_SECONDS s, coredns $COREDNS_BUILD_SECONDS s, images $IMAGES_BUILD_SECONDS s; see $root/BUILD-INFO)
  warm start:         $start_s s
$(echo "$timings" | sed 's/^/  /')
EOF
