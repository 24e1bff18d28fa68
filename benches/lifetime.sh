#!/usr/bin/env bash
# A bounded lifetime (issue 20's acceptance): a 3-node cluster on config/three.toml as shipped
# (timing and snapshot defaults) takes TOTAL puts of 256-byte values over 1,000 keys from 64
# clients, with one follower stopped for the second half. Prints, at the half and at the end, each
# node's data dir size and resident memory; then the stopped follower's catch-up time after its
# restart, `raftkv txlog verify` over the three files, and how long a follower killed with SIGKILL
# takes to serve its applied index again.
#
#   benches/lifetime.sh [BIN]          (default target/release/raftkv)
#   TOTAL=600000 CLIENTS=64 benches/lifetime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

BIN=${1:-target/release/raftkv}
TOTAL=${TOTAL:-600000} CLIENTS=${CLIENTS:-64}
log() { echo "lifetime: $*" >&2; }
WORK=$(mktemp -d -t raftkv-life.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT

config="$WORK/raftkv.toml"
sed -n '/^\[cluster\]/,/^\[\[peers\]\]/p' config/three.toml | sed '$d' |
    sed -e "s|^data_dir = .*|data_dir = \"$WORK/data\"|" -e "s|^log_dir = .*|log_dir = \"$WORK/logs\"|" >"$config"
read -r -a P <<<"$(free_ports 12)"
EPS=() HTTP=()
for i in 1 2 3; do
    printf '\n[[peers]]\nid = %d\nraft = "127.0.0.1:%d"\nhttp = "127.0.0.1:%d"\ntext = "127.0.0.1:%d"\ngrpc = "127.0.0.1:%d"\n' \
        "$i" "${P[$((i * 3 - 3))]}" "${P[$((i * 3 - 2))]}" "${P[$((i * 3 - 1))]}" "${P[$((8 + i))]}" >>"$config"
    HTTP[$i]="127.0.0.1:${P[$((i * 3 - 2))]}"
done
"$BIN" secret new "$WORK/data/cluster.secret" >/dev/null
start() { RUST_LOG=info "$BIN" node --id "$1" --config "$config" >>"$WORK/node$1.log" 2>&1 & PIDS[$1]=$!; }
for i in 1 2 3; do start "$i"; done
ALL="${HTTP[1]},${HTTP[2]},${HTTP[3]}"
wait_until cluster "$BIN" --endpoints "$ALL" put ready yes
field() { curl -s "http://${HTTP[$1]}/v1/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
leader=$(for i in 1 2 3; do if [ "$(field "$i" role)" = leader ]; then echo "$i"; fi; done | head -1)
follower=$(( leader % 3 + 1 ))
log "leader $leader, follower to stop: $follower"

puts() { # N: drives puts until N more entries are committed
    local target=$(( $(field "$leader" commit_index) + $1 ))
    while [ "$(field "$leader" commit_index)" -lt "$target" ]; do
        "$BIN" bench --endpoints "${HTTP[$leader]}" --op put --clients "$CLIENTS" --duration 10s \
            --value-size 256 --keys 1000 -w json 2>/dev/null | tail -1 |
            python3 -c 'import json,sys; d=json.load(sys.stdin); print("  %.0f op/s p50 %s ms p99 %s ms errors %s" % (d["throughput_ops"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], d["errors"]))' >&2
    done
}
report() {
    for i in 1 2 3; do
        [ -n "${PIDS[$i]:-}" ] && kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "  node $i: down"; continue; }
        local du rss
        du=$(du -sm "$WORK/data/node-$i" | cut -f1)
        rss=$(( $(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$i]}/status") / 1024 ))
        echo "  node $i: data dir $du MiB, resident $rss MiB, applied $(field "$i" applied_index), snapshot $(field "$i" snapshot_index), first log index $(field "$i" first_log_index)"
    done
}

half=$(( TOTAL / 2 ))
log "$half puts"
puts "$half"
echo "after $half puts:"; report
kill "${PIDS[$follower]}"; wait "${PIDS[$follower]}" 2>/dev/null || true; PIDS[$follower]=""
log "node $follower stopped; $half more puts"
puts "$half"
echo "after $TOTAL puts (node $follower stopped for the last $half):"; report
target=$(field "$leader" commit_index)
t0=$(date +%s.%N); start "$follower"
until [ "$(field "$follower" applied_index 2>/dev/null || echo 0)" -ge "$target" ] 2>/dev/null; do sleep 0.05; done
echo "node $follower caught up to $target in $(python3 -c "import time; print('%.2f' % (time.time() - $t0))") s after its start"
# Lines are written as entries are applied, so the files are complete now.
"$BIN" txlog verify "$WORK/logs/node-1.log" "$WORK/logs/node-2.log" "$WORK/logs/node-3.log" && echo "txlog verify: ok"
applied=$(field "$follower" applied_index)
kill -9 "${PIDS[$follower]}"; wait "${PIDS[$follower]}" 2>/dev/null || true
t0=$(date +%s.%N); start "$follower"
until [ "$(field "$follower" applied_index 2>/dev/null || echo 0)" -ge "$applied" ] 2>/dev/null; do sleep 0.02; done
echo "node $follower, killed with SIGKILL at applied $applied, served it again $(python3 -c "import time; print('%.2f' % (time.time() - $t0))") s after its start"
report
