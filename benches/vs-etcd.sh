#!/usr/bin/env bash
# raftkv vs. etcd on this machine: a 3-node etcd (fsync on, Debian's etcd-server) and a 3-node
# raftkv, both on loopback with temp data dirs, driven by the same load generator (`raftkv bench`)
# through the same client: by default etcd's v3 gRPC API, which both serve (PROTOCOL=grpc; the
# client is generated from etcd's protocol), or HTTP (PROTOCOL=http: raftkv's API against etcd's
# v3 JSON gateway). Puts and linearizable gets of 256-byte values at 1, 64 and 256 clients. Prints
# throughput, p99 latency and raftkv/etcd ratios, then stops everything.
#
# Usage: benches/vs-etcd.sh            (from anywhere in the repository; run as root to install etcd)
# Knobs: DURATION=10s CLIENTS="1 64 256" OPS="put get" VALUE_SIZE=256 KEYS=1000 PROTOCOL=grpc
#        RAFTKV=path/to/raftkv (default: target/release/raftkv, built if missing)
#        RAFTKV_CLUSTER='lease_reads = true' (lines added to raftkv's [cluster] table)
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-"1 64 256"}
PROTOCOL=${PROTOCOL:-grpc}
OPS=${OPS:-"put get"}
VALUE_SIZE=${VALUE_SIZE:-256}
KEYS=${KEYS:-1000}
RAFTKV=${RAFTKV:-target/release/raftkv}

log() { echo "vs-etcd: $*" >&2; }

if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
    log "installing etcd-server and etcd-client (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
# Debian's package may start a system etcd on the default ports; ours uses other ports anyway.
if [ ! -x "$RAFTKV" ]; then
    log "building $RAFTKV"
    cargo build --release --bin raftkv
fi

WORK=$(mktemp -d -t raftkv-vs-etcd.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=benches/lib.sh
. benches/lib.sh
read -r -a P <<<"$(free_ports 18)"

# --- etcd: three members, default fsync behaviour ---------------------------------------------
start_etcd3 "$WORK" raftkv-bench "${P[@]:0:6}"

# --- raftkv: three nodes, config/three.toml's timing, temp dirs and free ports ----------------
CONFIG="$WORK/raftkv.toml"
sed -n '/^\[cluster\]/,/^\[\[peers\]\]/p' config/three.toml | sed '$d' |
    sed -e "s|^data_dir = .*|data_dir = \"$WORK/raftkv-data\"|" \
        -e "s|^log_dir = .*|log_dir = \"$WORK/raftkv-logs\"|" >"$CONFIG"
# Extra [cluster] lines for raftkv, e.g. RAFTKV_CLUSTER='lease_reads = true'.
printf '%s\n' "${RAFTKV_CLUSTER:-}" >>"$CONFIG"
RAFTKV_EPS=""
RAFTKV_GRPC_EPS=""
for i in 1 2 3; do
    raft=${P[$((6 + i * 3 - 3))]} http=${P[$((6 + i * 3 - 2))]} text=${P[$((6 + i * 3 - 1))]} grpc=${P[$((14 + i))]}
    RAFTKV_EPS+="${RAFTKV_EPS:+,}127.0.0.1:$http"
    RAFTKV_GRPC_EPS+="${RAFTKV_GRPC_EPS:+,}127.0.0.1:$grpc"
    printf '\n[[peers]]\nid = %d\nraft = "127.0.0.1:%d"\nhttp = "127.0.0.1:%d"\ntext = "127.0.0.1:%d"\ngrpc = "127.0.0.1:%d"\n' \
        "$i" "$raft" "$http" "$text" "$grpc" >>"$CONFIG"
done
# The cluster secret peers seal their frames with (builds from before it existed have no such command).
if "$RAFTKV" secret --help >/dev/null 2>&1; then
    "$RAFTKV" secret new "$WORK/raftkv-data/cluster.secret" >/dev/null
fi
for i in 1 2 3; do
    RUST_LOG=warn "$RAFTKV" node --id "$i" --config "$CONFIG" >"$WORK/raftkv$i.log" 2>&1 &
    PIDS+=($!)
done

# --- wait for both to elect a leader ----------------------------------------------------------
wait_until "etcd" etcdctl --endpoints "$ETCD_EPS" endpoint health || exit 1
wait_until "raftkv" "$RAFTKV" --endpoints "$RAFTKV_EPS" put vs-etcd-ready yes || exit 1

# --- drive both -------------------------------------------------------------------------------
field() { # json, name: a top-level number (or latency_ms.NAME) out of bench's one-line JSON
    sed -E "s/.*\"$2\":([0-9.eE+-]+).*/\1/" <<<"$1"
}
bench() { # target, endpoints, op, clients
    "$RAFTKV" bench --protocol "$PROTOCOL" --target "$1" --endpoints "$2" --op "$3" --clients "$4" \
        --duration "$DURATION" --value-size "$VALUE_SIZE" --keys "$KEYS" -w json 2>/dev/null
}

printf '%-5s %7s | %12s %12s %7s | %12s %12s %7s | %12s %12s\n' op clients "raftkv op/s" "etcd op/s" ratio \
    "raftkv p99" "etcd p99" ratio "raftkv p50" "etcd p50"
for op in $OPS; do
    for c in $CLIENTS; do
        log "$op, $c clients, $DURATION each"
        if [ "$PROTOCOL" = grpc ]; then
            r=$(bench raftkv "$RAFTKV_GRPC_EPS" "$op" "$c")
            e=$(bench etcd "$ETCD_EPS" "$op" "$c")  # etcd serves gRPC and its gateway on one port
        else
            r=$(bench raftkv "$RAFTKV_EPS" "$op" "$c")
            e=$(bench etcd "$ETCD_EPS" "$op" "$c")
        fi
        rt=$(field "$r" throughput_ops) et=$(field "$e" throughput_ops)
        rp=$(field "$r" p99) ep=$(field "$e" p99)
        r50=$(field "$r" p50) e50=$(field "$e" p50)
        awk -v op="$op" -v c="$c" -v rt="$rt" -v et="$et" -v rp="$rp" -v ep="$ep" -v r50="$r50" -v e50="$e50" 'BEGIN {
            printf "%-5s %7d | %12.0f %12.0f %7.2f | %9.2f ms %9.2f ms %7.2f | %9.3f ms %9.3f ms\n",
                op, c, rt, et, (et > 0 ? rt / et : 0), rp, ep, (ep > 0 ? rp / ep : 0), r50, e50 }'
    done
done
log "done; stopping both clusters"
