#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for the tests and for trying the operator and the
# chart without a container engine: etcd, kube-apiserver (RBAC), kube-controller-manager,
# kube-scheduler, and kwok faking the nodes (Pods go Running/Ready, Job Pods Succeed, claims of
# the default StorageClass are Bound). Built once from the Go modules pinned in
# tests/k8s/cluster/ into a cache keyed by those versions.
#
#   scripts/kube.sh up     build if needed, start (or reuse) this checkout's cluster, print the env
#   scripts/kube.sh env    print `export KUBECONFIG=...` of the running cluster
#   scripts/kube.sh down   stop every process it started and remove its state
#   scripts/kube.sh build  only build the binaries
#
# Each checkout has a cluster of its own (MINICHAT_KUBE_NAME overrides the name), so a CI run and
# a developer on the same machine do not collide.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODULE="$ROOT/tests/k8s/cluster"
# shellcheck source=../tests/k8s/cluster/versions.env
source "$MODULE/versions.env"
CACHE="${MINICHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/minichat}"
NAME="${MINICHAT_KUBE_NAME:-$(printf '%s' "$ROOT" | sha256sum | cut -c1-10)}"
STATE="$CACHE/kube/clusters/$NAME"
NODES="${MINICHAT_KUBE_NODES:-2}"

say() { echo "==> $*" >&2; }
fail() { echo "kube.sh: $*" >&2; exit 1; }

module_hash() { cat "$MODULE/go.mod" "$MODULE/go.sum" "$MODULE"/cmd/*/*.go | sha256sum | cut -c1-12; }
BIN="$CACHE/kube/bin/k8s-$KUBERNETES_VERSION-kwok-$KWOK_VERSION-$(module_hash)"
PACKAGES=(
    k8s.io/kubernetes/cmd/kube-apiserver
    k8s.io/kubernetes/cmd/kube-controller-manager
    k8s.io/kubernetes/cmd/kube-scheduler
    sigs.k8s.io/kwok/cmd/kwok
    ./cmd/etcd
)

build() {
    [ -x "$BIN/kube-apiserver" ] && return 0
    command -v go >/dev/null || fail "Go is not installed; the control plane is built from Go modules (Go 1.26 or newer)"
    cd "$MODULE"
    say "building Kubernetes $KUBERNETES_VERSION, etcd and kwok $KWOK_VERSION from their Go modules"
    say "(once: 10-20 minutes on 2 cores; later starts reuse $BIN)"
    local minor="${KUBERNETES_VERSION#v1.}"
    minor="${minor%%.*}"
    local ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X '$pkg.gitVersion=$KUBERNETES_VERSION' -X '$pkg.gitMajor=1'"
        ldflags+=" -X '$pkg.gitMinor=$minor' -X '$pkg.gitTreeState=clean'"
    done
    say "downloading the Go modules (about 200 MB the first time)"
    go mod download
    local total
    total=$(go list -deps "${PACKAGES[@]}" | wc -l)
    mkdir -p "$BIN.partial"
    # -pgo=off: the Kubernetes commands ship PGO profiles that would compile the shared packages
    # once per command; without them every package is compiled once for all five.
    CGO_ENABLED=0 go build -v -trimpath -pgo=off -ldflags "$ldflags" -o "$BIN.partial/" \
        "${PACKAGES[@]}" 2>&1 | awk -v total="$total" '
            /^(#|go: |[^ ]+\.go:)/ { print; fflush(); next }
            { if (++n % 200 == 0) { printf "    compiled %d of at most %d packages\n", n, total; fflush() } }'
    [ "${PIPESTATUS[0]}" -eq 0 ] || fail "the Go build failed; see the lines above"
    rm -rf "$BIN"
    mv "$BIN.partial" "$BIN"
    say "built: $("$BIN/kube-apiserver" --version), etcd $("$BIN/etcd" --version | awk 'NR==1{print $3}')"
}

free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

certificates() {
    local pki="$STATE/pki"
    mkdir -p "$pki"
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=minichat-test-ca" \
        -keyout ca.key -out ca.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    sign() { # name subject [extensions]
        openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
        openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -out "$1.crt" ${3:+-extfile <(printf '%s' "$3")} 2>/dev/null
        rm -f "$1.csr"
    }
    sign apiserver "/CN=kube-apiserver" \
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin "/O=system:masters/CN=minichat-admin"
    sign controller-manager "/CN=system:kube-controller-manager"
    sign scheduler "/CN=system:kube-scheduler"
    # kwok acts for every fake node (node status, leases, Pod status, volumes).
    sign kwok "/O=system:masters/CN=kwok"
    cd - >/dev/null
}

kubeconfig() { # user
    cat >"$STATE/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: minichat-test
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$STATE/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$STATE/pki/$1.crt", client-key: "$STATE/pki/$1.key"}
contexts:
- name: minichat-test
  context: {cluster: minichat-test, user: $1}
current-context: minichat-test
EOF
}

start() { # name command...
    local name="$1"
    shift
    setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STATE/pids/$name"
}

alive() {
    [ -d "$STATE/pids" ] || return 1
    local pidfile
    for pidfile in "$STATE"/pids/*; do
        kill -0 "$(cat "$pidfile")" 2>/dev/null || return 1
    done
}

kubectl_() { "$TOOLS/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

wait_until() { # seconds description command...
    local seconds="$1" what="$2"
    shift 2
    for _ in $(seq $((seconds * 4))); do
        "$@" >/dev/null 2>&1 && return 0
        alive || died "while waiting for $what"
        sleep 0.25
    done
    fail "timed out after ${seconds}s waiting for $what; logs: $STATE/logs"
}

died() {
    local pidfile name
    for pidfile in "$STATE"/pids/*; do
        kill -0 "$(cat "$pidfile")" 2>/dev/null && continue
        name="$(basename "$pidfile")"
        echo "kube.sh: $name exited $1; the end of its log:" >&2
        tail -n 20 "$STATE/logs/$name.log" >&2
    done
    rm -rf "$STATE.logs"
    cp -r "$STATE/logs" "$STATE.logs"
    down_quietly
    fail "every log is kept in $STATE.logs"
}

kwok_stages() {
    local kwok_dir
    kwok_dir=$(cd "$MODULE" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok 2>/dev/null) \
        || kwok_dir=""
    [ -n "$kwok_dir" ] || fail "kwok's module is not in the Go module cache; run scripts/kube.sh build"
    local stage
    for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
        pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete \
        pod/chaos/pod-container-running-failed \
        volume/fast/pvc-provision volume/fast/pv-bind volume/fast/pvc-delete volume/fast/pv-delete; do
        cat "$kwok_dir/kustomize/stage/$stage.yaml"
        echo "---"
    done
    for stage in "$MODULE"/stages/*.yaml; do
        cat "$stage"
        echo "---"
    done
}

up() {
    build
    TOOLS="$("$ROOT/scripts/kube-tools.sh")"
    if alive && kubectl_ get --raw /readyz >/dev/null 2>&1; then
        say "the control plane of this checkout is already running"
        print_env
        return 0
    fi
    down_quietly
    mkdir -p "$STATE/logs" "$STATE/pids"
    read -r ETCD_PORT ETCD_PEER_PORT API_PORT KWOK_PORT < <(free_ports 4)
    say "starting the control plane ($STATE)"
    certificates
    for user in admin controller-manager scheduler kwok; do kubeconfig "$user"; done
    start etcd "$BIN/etcd" --name minichat --data-dir "$STATE/etcd" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "minichat=http://127.0.0.1:$ETCD_PEER_PORT" \
        --unsafe-no-fsync --log-level warn
    start kube-apiserver "$BIN/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
        --cert-dir "$STATE/pki" \
        --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
        --client-ca-file "$STATE/pki/ca.crt" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$STATE/pki/sa.pub" \
        --service-account-signing-key-file "$STATE/pki/sa.key" \
        --service-cluster-ip-range 10.96.0.0/16 \
        --authorization-mode Node,RBAC --allow-privileged=true \
        --endpoint-reconciler-type none
    wait_until 60 "kube-apiserver /readyz" kubectl_ get --raw /readyz
    start kube-controller-manager "$BIN/kube-controller-manager" \
        --kubeconfig "$STATE/controller-manager.kubeconfig" --secure-port 0 \
        --use-service-account-credentials \
        --service-account-private-key-file "$STATE/pki/sa.key" \
        --root-ca-file "$STATE/pki/ca.crt" \
        --cluster-signing-cert-file "$STATE/pki/ca.crt" \
        --cluster-signing-key-file "$STATE/pki/ca.key"
    start kube-scheduler "$BIN/kube-scheduler" \
        --kubeconfig "$STATE/scheduler.kubeconfig" --secure-port 0
    kwok_stages >"$STATE/kwok-stages.yaml"
    start kwok "$BIN/kwok" --kubeconfig "$STATE/kwok.kubeconfig" \
        --config "$STATE/kwok-stages.yaml" \
        --manage-all-nodes=false \
        --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
        --node-lease-duration-seconds 40 \
        --cidr 10.244.0.0/16 --node-ip 10.0.0.1 \
        --server-address "127.0.0.1:$KWOK_PORT"
    nodes | kubectl_ apply -f - >/dev/null
    wait_until 60 "kube-controller-manager (the default ServiceAccount)" \
        kubectl_ -n default get serviceaccount default
    wait_until 60 "kube-scheduler's lease" kubectl_ -n kube-system get lease kube-scheduler
    wait_until 60 "$NODES Ready kwok nodes" nodes_ready
    rm -rf "$STATE.logs"
    say "the control plane is ready: Kubernetes $KUBERNETES_VERSION, $NODES kwok nodes"
    print_env
}

nodes() {
    cat <<'EOF'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: kwok-volume
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kwok.x-k8s.io/volume
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
    for i in $(seq "$NODES"); do
        cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
    done
}

nodes_ready() {
    local ready
    ready=$(kubectl_ get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
    [ "$ready" -ge "$NODES" ]
}

print_env() {
    [ -f "$STATE/admin.kubeconfig" ] || fail "no control plane is running for this checkout; run scripts/kube.sh up"
    echo "export KUBECONFIG=$STATE/admin.kubeconfig PATH=\"${TOOLS:-$("$ROOT/scripts/kube-tools.sh")}:\$PATH\""
}

down_quietly() {
    if [ -d "$STATE/pids" ]; then
        local pidfile pid
        for pidfile in "$STATE"/pids/*; do
            [ -f "$pidfile" ] || continue
            pid="$(cat "$pidfile")"
            kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        done
        for _ in $(seq 40); do
            local any=""
            for pidfile in "$STATE"/pids/*; do
                [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && any=1
            done
            [ -z "$any" ] && break
            sleep 0.25
        done
        for pidfile in "$STATE"/pids/*; do
            [ -f "$pidfile" ] && kill -9 -- "-$(cat "$pidfile")" 2>/dev/null || true
        done
    fi
    rm -rf "$STATE"
}

mkdir -p "$(dirname "$STATE")"
exec 9>"$STATE.lock"
case "${1:-}" in
    up) flock 9; up ;;
    env) alive || fail "no control plane is running for this checkout; run scripts/kube.sh up"; print_env ;;
    down) flock 9; down_quietly; say "the control plane of this checkout is stopped" ;;
    build) build; echo "$BIN" ;;
    *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
