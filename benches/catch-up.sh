#!/usr/bin/env bash
# How fast a follower cut off by a partition catches up once it heals, with `max_early_appends` 0
# (the default) and 8 (issue 16: which default is right for real nodes). For each setting: a
# 3-node cluster on config/three.toml's timing with `test_faults = true`; ROUNDS times, one
# follower is isolated (`POST /v1/test/isolate`), CLIENTS writers put 256-byte values for
# DURATION seconds, the follower heals, and the time from the heal request until its applied
# index reaches the leader's commit index at the heal is measured (polled every millisecond).
# Prints one line per round and the median.
#
#   benches/catch-up.sh [BIN]            (default target/release/raftkv)
#   ROUNDS=10 DURATION=2 CLIENTS=16 SETTINGS="0 8" benches/catch-up.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

BIN=${1:-target/release/raftkv}
ROUNDS=${ROUNDS:-10} DURATION=${DURATION:-2} CLIENTS=${CLIENTS:-16} SETTINGS=${SETTINGS:-"0 8"}
log() { echo "catch-up: $*" >&2; }
WORK=$(mktemp -d -t raftkv-catchup.XXXXXX)
PIDS=()
stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

# wait_caught_up HTTP TARGET [heal]: seconds (float) until HTTP's applied_index reaches TARGET,
# counted from the heal request when `heal` is given (sent from here, so that no process start-up
# is counted).
wait_caught_up() {
    python3 - "$@" <<'EOF'
import json, sys, time, urllib.request
node, target = "http://%s" % sys.argv[1], int(sys.argv[2])
start = time.monotonic()
if sys.argv[3:] == ["heal"]:
    heal = urllib.request.Request(node + "/v1/test/heal", method="POST")
    urllib.request.urlopen(heal, timeout=5).read()
while True:
    with urllib.request.urlopen(node + "/v1/status", timeout=5) as r:
        if json.load(r)["applied_index"] >= target:
            break
    if time.monotonic() - start > 120:
        sys.exit("not caught up after 120 s")
    time.sleep(0.001)
print("%.3f" % (time.monotonic() - start))
EOF
}

field() { curl -s "http://$1/v1/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

run_setting() {
    local early=$1 dir="$WORK/early-$early" config i
    mkdir -p "$dir"
    config="$dir/raftkv.toml"
    sed -n '/^\[cluster\]/,/^\[\[peers\]\]/p' config/three.toml | sed '$d' |
        sed -e "s|^data_dir = .*|data_dir = \"$dir/data\"|" -e "s|^log_dir = .*|log_dir = \"$dir/logs\"|" \
            -e '/^test_faults/d' >"$config"
    printf 'test_faults = true\nmax_early_appends = %d\n' "$early" >>"$config"
    local P HTTP=()
    read -r -a P <<<"$(free_ports 9)"
    for i in 1 2 3; do
        printf '\n[[peers]]\nid = %d\nraft = "127.0.0.1:%d"\nhttp = "127.0.0.1:%d"\ntext = "127.0.0.1:%d"\n' \
            "$i" "${P[$((i * 3 - 3))]}" "${P[$((i * 3 - 2))]}" "${P[$((i * 3 - 1))]}" >>"$config"
        HTTP[$i]="127.0.0.1:${P[$((i * 3 - 2))]}"
    done
    "$BIN" secret new "$dir/data/cluster.secret" >/dev/null
    for i in 1 2 3; do
        RUST_LOG=warn "$BIN" node --id "$i" --config "$config" >>"$dir/node$i.log" 2>&1 &
        PIDS+=($!)
    done
    local all="${HTTP[1]},${HTTP[2]},${HTTP[3]}"
    wait_until cluster "$BIN" --endpoints "$all" put ready yes
    local leader follower round lag target took times=()
    for round in $(seq 1 "$ROUNDS"); do
        leader=$(for i in 1 2 3; do if [ "$(field "${HTTP[$i]}" role)" = leader ]; then echo "$i"; fi; done | head -1)
        follower=$((leader % 3 + 1))
        wait_caught_up "${HTTP[$follower]}" "$(field "${HTTP[$leader]}" commit_index)" >/dev/null
        curl -sf -X POST "http://${HTTP[$follower]}/v1/test/isolate" >/dev/null
        "$BIN" bench --endpoints "${HTTP[$leader]}" --op put --clients "$CLIENTS" --duration "${DURATION}s" \
            --value-size 256 --keys 1000 -w json >/dev/null 2>&1
        target=$(field "${HTTP[$leader]}" commit_index)
        lag=$((target - $(field "${HTTP[$follower]}" applied_index)))
        took=$(wait_caught_up "${HTTP[$follower]}" "$target" heal)
        times+=("$took")
        printf 'max_early_appends=%d round %d: %d entries behind, caught up in %s s\n' "$early" "$round" "$lag" "$took"
    done
    printf 'max_early_appends=%d: median %s s over %d rounds\n' "$early" \
        "$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "$ROUNDS"
    stop_all
}

for early in $SETTINGS; do
    run_setting "$early"
done
