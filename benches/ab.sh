#!/usr/bin/env bash
# Two raftkv builds side by side: starts a 3-node cluster on config/three.toml's timing for each
# binary in turn, drives it with `raftkv bench` (puts, 256-byte values) and prints one line per
# run, alternating A and B so that a drifting machine weighs on both; then the mean, median and
# ratio of the throughputs.
#
#   benches/ab.sh BIN_A BIN_B          e.g. a build of main and one of a branch
#   ROUNDS=7 CLIENTS=64 DURATION=20s KEYS=1000 benches/ab.sh ...
#
# Also prints each node's Raft term before and after every run, so a run that cost a leader
# election shows. Builds from before the cluster secret existed are started without one.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

[ $# -eq 2 ] || { echo "usage: $0 BIN_A BIN_B" >&2; exit 2; }
ROUNDS=${ROUNDS:-7} CLIENTS=${CLIENTS:-64} DURATION=${DURATION:-20s} KEYS=${KEYS:-1000}
log() { echo "ab: $*" >&2; }
RESULTS=$(mktemp -t raftkv-ab.XXXXXX)
WORK="" PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    [ -n "$WORK" ] && rm -rf "$WORK"
    WORK=""
}
trap 'stop_all; rm -f "$RESULTS"' EXIT
trap 'exit 130' INT TERM

run() { # label, binary
    local label=$1 bin=$2 eps="" i raft http text
    WORK=$(mktemp -d -t raftkv-ab.XXXXXX)
    local config="$WORK/raftkv.toml"
    sed -n '/^\[cluster\]/,/^\[\[peers\]\]/p' config/three.toml | sed '$d' |
        sed -e "s|^data_dir = .*|data_dir = \"$WORK/data\"|" -e "s|^log_dir = .*|log_dir = \"$WORK/logs\"|" >"$config"
    read -r -a P <<<"$(free_ports 9)"
    for i in 1 2 3; do
        raft=${P[$((i * 3 - 3))]} http=${P[$((i * 3 - 2))]} text=${P[$((i * 3 - 1))]}
        eps+="${eps:+,}127.0.0.1:$http"
        printf '\n[[peers]]\nid = %d\nraft = "127.0.0.1:%d"\nhttp = "127.0.0.1:%d"\ntext = "127.0.0.1:%d"\n' \
            "$i" "$raft" "$http" "$text" >>"$config"
    done
    if "$bin" secret --help >/dev/null 2>&1; then "$bin" secret new "$WORK/data/cluster.secret" >/dev/null; fi
    for i in 1 2 3; do
        RUST_LOG=warn "$bin" node --id "$i" --config "$config" >"$WORK/node$i.log" 2>&1 &
        PIDS+=($!)
    done
    wait_until "$label" "$bin" --endpoints "$eps" put ab-ready yes || return 1
    terms() { for e in ${eps//,/ }; do printf '%s ' "$(curl -s "http://$e/v1/status" | sed -E 's/.*"term":([0-9]+).*/\1/')"; done; }
    local before after out
    before=$(terms)
    out=$("$bin" bench --endpoints "$eps" --op put --clients "$CLIENTS" --duration "$DURATION" \
        --value-size 256 --keys "$KEYS" -w json 2>/dev/null | tail -1)
    after=$(terms)
    echo "$label $out" >>"$RESULTS"
    python3 -c 'import json, sys
d = json.loads(sys.argv[2]); l = d["latency_ms"]
print("%s: %.0f op/s  p50 %s ms  p99 %s ms  errors %s  terms %s-> %s" % (sys.argv[1],
      d["throughput_ops"], l["p50"], l["p99"], d["errors"], sys.argv[3], sys.argv[4]))' \
        "$label" "$out" "$before" "$after"
    stop_all
}

for round in $(seq 1 "$ROUNDS"); do
    log "round $round of $ROUNDS"
    run A "$1"
    run B "$2"
done
python3 - "$RESULTS" <<'PY'
import json, statistics as st, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    label, js = line.split(" ", 1)
    runs[label].append(json.loads(js)["throughput_ops"])
for label, v in runs.items():
    print(f"{label}: {len(v)} runs, mean {st.mean(v):.0f} op/s, median {st.median(v):.0f}, min {min(v):.0f}, max {max(v):.0f}")
print(f"B/A: {st.mean(runs['B']) / st.mean(runs['A']):.3f} (means), {st.median(runs['B']) / st.median(runs['A']):.3f} (medians)")
PY
