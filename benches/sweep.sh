#!/usr/bin/env bash
# Performance curves: starts a local raftkv cluster of each size (3, 5, 7 nodes; config/three.toml's
# timing, temp data dirs, free loopback ports), runs `raftkv bench sweep` against it, stops it, and
# merges the CSVs into one CSV and one SVG (throughput and p99 latency against clients, one line per
# cluster size and operation). With ETCD=1 a 3-node etcd (Debian's etcd-server, installed with
# apt-get if missing) is swept the same way with `--target etcd` and drawn alongside.
#
# Usage: benches/sweep.sh [OUT_DIR]      (default target/sweep; from anywhere in the repository)
# Knobs: SIZES="3 5 7" CLIENTS=1,4,16,64,256,1024 VALUE_SIZES=256 OPS=put,get DURATION=5s PAUSE=1s
#        KEYS=1000 ETCD=0|1 RAFTKV=path/to/raftkv (default: target/release/raftkv, built first)
# Output: OUT_DIR/raftkv-<n>.csv and .svg per size, etcd-3.csv/.svg, and the merged sweep.csv and
#         sweep.svg.
#
# Run time: each point runs DURATION and then pauses PAUSE, so the default grid (6 client counts x
# 1 value size x 2 ops = 12 points) takes about 72 s per cluster plus a few seconds to start it and
# preload the keys: about 4 minutes for the three sizes, about 5.5 with ETCD=1 (plus the release
# build if it is stale). Every sweep is bounded: it is stopped (keeping the points it finished) once
# it overruns its own plan by 2 minutes, and the script goes on with the next cluster. Large values
# fill the data dirs quickly (65536-byte puts write gigabytes per point on a 7-node cluster); the
# data of each cluster is deleted when it stops.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-target/sweep}
SIZES=${SIZES:-"3 5 7"}
CLIENTS=${CLIENTS:-1,4,16,64,256,1024}
VALUE_SIZES=${VALUE_SIZES:-256}
OPS=${OPS:-put,get}
DURATION=${DURATION:-5s}
PAUSE=${PAUSE:-1s}
KEYS=${KEYS:-1000}
ETCD=${ETCD:-0}

log() { echo "sweep: $*" >&2; }

if [ -z "${RAFTKV:-}" ]; then
    log "building target/release/raftkv"
    cargo build --release --quiet --bin raftkv
    RAFTKV=target/release/raftkv
fi
RAFTKV=$(realpath "$RAFTKV")
if [ "$ETCD" = 1 ] && { ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; }; then
    log "installing etcd-server and etcd-client (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
# One connection per client on the leader and in the bench: use the whole descriptor allowance.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d -t raftkv-sweep.XXXXXX)
PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=benches/lib.sh
. benches/lib.sh

seconds() { # 5s, 300ms, 1m or a bare number of seconds
    awk -v d="$1" 'BEGIN {
        n = d + 0
        if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60
        print n }'
}
count() { tr ',' '\n' <<<"$1" | grep -c .; }
POINTS=$(($(count "$CLIENTS") * $(count "$VALUE_SIZES") * $(count "$OPS")))
BUDGET=$(awk -v p="$POINTS" -v d="$(seconds "$DURATION")" -v q="$(seconds "$PAUSE")" \
    'BEGIN { printf "%d", p * (d + q) + 120 }')
log "$POINTS points per cluster, each sweep stopped after ${BUDGET}s at most; output in $OUT"


FAILED=0
sweep() { # name, target, endpoints, cluster size
    log "sweeping $1 ($4 members)"
    if ! timeout --signal=INT --kill-after=10 "$BUDGET" "$RAFTKV" bench sweep \
        --target "$2" --endpoints "$3" --cluster-size "$4" \
        --clients "$CLIENTS" --value-size "$VALUE_SIZES" --op "$OPS" \
        --duration "$DURATION" --pause "$PAUSE" --keys "$KEYS" \
        --csv "$OUT/$1.csv" --svg "$OUT/$1.svg" >"$OUT/$1.txt"; then
        log "the $1 sweep failed or overran; keeping the points it finished"
        FAILED=1
    fi
}

# --- raftkv: one cluster per size, config/three.toml's [cluster] settings ----------------------
for n in $SIZES; do
    rm -f "$OUT/raftkv-$n".{csv,svg,txt}
    DIR="$WORK/raftkv-$n"
    mkdir -p "$DIR"
    CONFIG="$DIR/raftkv.toml"
    sed -n '/^\[cluster\]/,/^\[\[peers\]\]/p' config/three.toml | sed '$d' |
        sed -e "s|^data_dir = .*|data_dir = \"$DIR/data\"|" \
            -e "s|^log_dir = .*|log_dir = \"$DIR/logs\"|" >"$CONFIG"
    read -r -a P <<<"$(free_ports $((4 * n)))"
    EPS=""
    for i in $(seq 1 "$n"); do
        raft=${P[$((i * 4 - 4))]} http=${P[$((i * 4 - 3))]} text=${P[$((i * 4 - 2))]} grpc=${P[$((i * 4 - 1))]}
        EPS+="${EPS:+,}127.0.0.1:$http"
        printf '\n[[peers]]\nid = %d\nraft = "127.0.0.1:%d"\nhttp = "127.0.0.1:%d"\ntext = "127.0.0.1:%d"\ngrpc = "127.0.0.1:%d"\n' \
            "$i" "$raft" "$http" "$text" "$grpc" >>"$CONFIG"
    done
    "$RAFTKV" secret new "$DIR/data/cluster.secret" >/dev/null
    for i in $(seq 1 "$n"); do
        RUST_LOG=warn "$RAFTKV" node --id "$i" --config "$CONFIG" >"$WORK/raftkv-$n-node$i.log" 2>&1 &
        PIDS+=($!)
    done
    if wait_until "raftkv ($n nodes)" "$RAFTKV" --endpoints "$EPS" put sweep-ready yes; then
        sweep "raftkv-$n" raftkv "$EPS" "$n"
    else
        FAILED=1
    fi
    stop_all
    rm -rf "$DIR"
done

# --- etcd: three members, default fsync behaviour (as benches/vs-etcd.sh) -----------------------
if [ "$ETCD" = 1 ]; then
    rm -f "$OUT"/etcd-3.{csv,svg,txt}
    read -r -a P <<<"$(free_ports 6)"
    start_etcd3 "$WORK" raftkv-sweep "${P[@]}"
    EPS=$ETCD_EPS
    if wait_until "etcd" etcdctl --endpoints "$EPS" endpoint health; then
        sweep etcd-3 etcd "$EPS" 3
    else
        FAILED=1
    fi
    stop_all
    rm -rf "$WORK"/etcd?
fi

# --- one CSV, one picture ----------------------------------------------------------------------
CSVS=()
for n in $SIZES; do
    if [ -f "$OUT/raftkv-$n.csv" ]; then CSVS+=("$OUT/raftkv-$n.csv"); fi
done
if [ "$ETCD" = 1 ] && [ -f "$OUT/etcd-3.csv" ]; then CSVS+=("$OUT/etcd-3.csv"); fi
if [ "${#CSVS[@]}" -eq 0 ]; then
    log "no sweep produced a CSV"
    exit 1
fi
"$RAFTKV" bench plot "${CSVS[@]}" --csv "$OUT/sweep.csv" --svg "$OUT/sweep.svg"
column -s, -t <"$OUT/sweep.csv" 2>/dev/null || cat "$OUT/sweep.csv"
log "wrote $OUT/sweep.csv and $OUT/sweep.svg"
exit "$FAILED"
