# Shared by the benchmark scripts (sourced from the repository root): free loopback ports and a
# local three-member etcd.

# free_ports N: N free loopback ports below the kernel's ephemeral range (the bench's 1024 clients take
# their source ports from that range, and could take a chosen port before its node binds it).
free_ports() {
    python3 -c '
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
candidates = list(range(10000, max(low, 10001)))
random.shuffle(candidates)
ports = []
for p in candidates:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        ports.append(p)
    except OSError:
        pass
    finally:
        s.close()
    if len(ports) == int(sys.argv[1]):
        break
print(" ".join(map(str, ports)))' "$1"
}

# start_etcd3 DIR TOKEN CLIENT1 PEER1 CLIENT2 PEER2 CLIENT3 PEER3: starts a three-member etcd with
# its default fsync behaviour, data and logs under DIR; appends the members' pids to PIDS and sets
# ETCD_EPS to their client endpoints.
start_etcd3() {
    local dir=$1 token=$2
    shift 2
    local ports=("$@") cluster="" i client peer
    for i in 1 2 3; do
        cluster+="${cluster:+,}e$i=http://127.0.0.1:${ports[$((i * 2 - 1))]}"
    done
    ETCD_EPS=""
    for i in 1 2 3; do
        client=${ports[$((i * 2 - 2))]} peer=${ports[$((i * 2 - 1))]}
        ETCD_EPS+="${ETCD_EPS:+,}127.0.0.1:$client"
        etcd --name "e$i" --data-dir "$dir/etcd$i" \
            --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
            --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
            --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "$token" \
            --logger zap --log-level error >"$dir/etcd$i.log" 2>&1 &
        PIDS+=($!)
    done
}

# wait_until WHAT COMMAND...: polls COMMAND for 30 s; on failure logs WHAT and the logs under
# $WORK, and returns 1. Callers define log().
wait_until() {
    local what=$1
    shift
    for _ in $(seq 1 150); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    log "$what did not come up; logs in $WORK"
    tail -n 20 "$WORK"/*.log >&2
    return 1
}
