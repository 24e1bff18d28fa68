#!/usr/bin/env bash
# An etcd user's day with Debian's etcdctl (etcd-client 3.4), SCENARIOS.md section 6: every command
# checks its own output and the script stops at the first mismatch with a message naming it.
#
# Usage: etcdctl_session.sh PHASE, with the cluster in the environment:
#   ETCD_TOOLS_ENDPOINTS  the client addresses of all three members, comma-separated (host:port)
#   ETCD_TOOLS_MEMBER     the one member the driver stops and restarts (host:port, one of the above)
# Phases, run in this order by tests/clients/etcd_tools.rs:
#   main        everything with all members up
#   stopped     after the driver stopped ETCD_TOOLS_MEMBER: it errors quickly, the others answer
#   restarted   after the driver restarted it: it answers with what was written while it was down
#
# Ids and revisions differ from run to run and between servers: the checks assert relationships
# (a revision grows, `get --rev` sees the older value), never a byte-exact transcript of them.
set -uo pipefail
export ETCDCTL_API=3

PHASE=${1:?usage: $0 main|stopped|restarted}
ENDPOINTS=${ETCD_TOOLS_ENDPOINTS:?set ETCD_TOOLS_ENDPOINTS to host:port,host:port,...}
MEMBER=${ETCD_TOOLS_MEMBER:?set ETCD_TOOLS_MEMBER to the host:port the driver stops}
IFS=, read -r -a ALL <<<"$ENDPOINTS"
OTHERS=$(printf '%s\n' "${ALL[@]}" | grep -vxF "$MEMBER" | paste -sd,)
# Written while the member is down, read from it once it is back.
WHILE_DOWN_VALUE="written while a member was down"

fail() {
  echo "FAIL [$PHASE]: $*" >&2
  exit 1
}

# ctl ARGS...: etcdctl against every member, with timeouts so that no step can hang. Sets OUT (stdout),
# ERR (stderr) and RC; prints the command and its output so a failure shows the transcript.
ctl() {
  ctl_at "$ENDPOINTS" "$@"
}

ctl_at() {
  local endpoints=$1
  shift
  local errfile
  errfile=$(mktemp)
  echo "\$ etcdctl --endpoints=$endpoints $*"
  OUT=$(timeout 30 etcdctl --endpoints="$endpoints" --dial-timeout=2s --command-timeout=5s "$@" 2>"$errfile")
  RC=$?
  ERR=$(cat "$errfile")
  rm -f "$errfile"
  [ -n "$OUT" ] && printf '%s\n' "$OUT"
  [ -n "$ERR" ] && printf '%s\n' "$ERR" | sed 's/^/  stderr: /'
  [ "$RC" -ne 124 ] || fail "etcdctl $* hung (killed after 30s)"
  return 0
}

ok() {
  [ "$RC" -eq 0 ] || fail "expected success, got exit code $RC: $ERR"
}

expect_out() {
  ok
  [ "$OUT" == "$1" ] || fail "expected output:
$1
got:
$OUT"
}

# field NAME: a field of `-w fields` output in OUT, e.g. `field ModRevision`.
field() {
  printf '%s\n' "$OUT" | sed -n "s/^\"$1\" : //p" | head -n 1
}

# table_rows: the data rows of a `-w table` output in OUT (no borders, no header).
table_rows() {
  printf '%s\n' "$OUT" | grep '^|' | tail -n +2
}

phase_main() {
  # Put and get: get prints the key, then the value, one per line.
  ctl put mykey "this is awesome"
  expect_out "OK"
  ctl get mykey
  expect_out "mykey
this is awesome"

  # Members as a table: three rows, each with the client address the driver gave us.
  ctl --write-out=table member list
  ok
  grep -q '| *ID *| *STATUS *| *NAME *| *PEER ADDRS *| *CLIENT ADDRS *| *IS LEARNER *|' <<< "$OUT" ||
    fail "member list table has not etcdctl's header"
  [ "$(table_rows | wc -l)" -eq 3 ] || fail "member list shows $(table_rows | wc -l) members, expected 3"
  for endpoint in "${ALL[@]}"; do
    # etcd lists http://host:port; raftkv host:port (see README: etcdctl 3.4 and h2's :authority).
    grep -qE "(//| )$endpoint " <<< "$(table_rows)" || fail "no member lists client address $endpoint"
  done

  # Prefix and range reads.
  ctl del --prefix fruit/
  ok
  for fruit in apple banana cherry date; do
    ctl put "fruit/$fruit" "$fruit-value"
    expect_out "OK"
  done
  ctl get --prefix fruit/
  expect_out "fruit/apple
apple-value
fruit/banana
banana-value
fruit/cherry
cherry-value
fruit/date
date-value"
  # [start, end): the end key itself is not included.
  ctl get fruit/apple fruit/cherry
  expect_out "fruit/apple
apple-value
fruit/banana
banana-value"
  # --keys-only prints each key followed by an empty line.
  ctl get --prefix --keys-only --limit 2 fruit/
  ok
  [ "$(printf '%s\n' "$OUT" | grep -v '^$')" == "fruit/apple
fruit/banana" ] || fail "keys-only limit 2 should list fruit/apple and fruit/banana"
  ctl get --prefix -w fields fruit/
  ok
  [ "$(field Count)" == 4 ] || fail "get -w fields: expected Count 4"

  # del prints how many keys it deleted.
  ctl del fruit/apple
  expect_out "1"
  ctl get fruit/apple
  expect_out ""
  ctl del fruit/apple
  expect_out "0"
  ctl del --prefix fruit/
  expect_out "3"
  ctl get --prefix fruit/
  expect_out ""

  # Revisions: each put moves mod_revision on; get --rev reads the older value.
  ctl put revkey first -w fields
  ok
  local first_rev
  first_rev=$(field Revision)
  [ -n "$first_rev" ] || fail "put -w fields printed no Revision"
  ctl put revkey second -w fields
  ok
  local second_rev
  second_rev=$(field Revision)
  [ "$second_rev" -gt "$first_rev" ] || fail "revision did not grow: $first_rev then $second_rev"
  ctl get revkey -w fields
  ok
  [ "$(field ModRevision)" == "$second_rev" ] || fail "ModRevision is not the second put's revision"
  [ "$(field Version)" -ge 2 ] || fail "Version should count both puts"
  [ "$(field Value)" == '"second"' ] || fail "latest value should be second"
  ctl get revkey --rev="$first_rev"
  expect_out "revkey
first"
  ctl get revkey --rev="$second_rev"
  expect_out "revkey
second"

  # txn from stdin: compares, blank line, success ops, blank line, failure ops, blank line.
  ctl del txkey
  ok
  txn 'version("txkey") = "0"' 'put txkey "created"' 'put txlog "txkey existed"'
  expect_out "SUCCESS

OK"
  txn 'version("txkey") = "0"' 'put txkey "created again"' 'put txlog "txkey existed"'
  expect_out "FAILURE

OK"
  ctl get txkey
  expect_out "txkey
created"
  ctl get txlog
  expect_out "txlog
txkey existed"
  txn 'value("txkey") = "created"' 'put txkey "replaced"' ''
  expect_out "SUCCESS

OK"
  txn 'value("txkey") = "created"' 'put txkey "replaced twice"' ''
  expect_out "FAILURE"
  ctl get txkey
  expect_out "txkey
replaced"
  # A get inside a txn prints its key and value after the branch name.
  txn 'mod("txkey") > "0"' 'get txkey' ''
  expect_out "SUCCESS

txkey
replaced"

  check_watch

  # A lease: the key lives with it and goes with it.
  ctl lease grant 60
  ok
  local lease
  lease=$(printf '%s\n' "$OUT" | sed -n 's/^lease \([0-9a-f]*\) granted with TTL(60s)$/\1/p')
  [ -n "$lease" ] || fail "lease grant printed no 'lease ID granted with TTL(60s)'"
  ctl put --lease="$lease" leased "while the lease lives"
  expect_out "OK"
  ctl lease timetolive "$lease" --keys
  ok
  grep -q "^lease $lease granted with TTL(60s), remaining([0-9]*s), attached keys(\[leased\])$" <<< "$OUT" ||
    fail "timetolive --keys should show TTL 60s and the attached key"
  ctl lease keep-alive --once "$lease"
  expect_out "lease $lease keepalived with TTL(60)"
  ctl lease revoke "$lease"
  expect_out "lease $lease revoked"
  ctl get leased
  expect_out ""
  ctl lease timetolive "$lease"
  expect_out "lease $lease already expired"

  # Status of every member: one leader, the same raft term everywhere.
  ctl endpoint status --cluster -w table
  ok
  grep -q '| *ENDPOINT *| *ID *| *VERSION *| *DB SIZE *| *IS LEADER *| *IS LEARNER *| *RAFT TERM *| *RAFT INDEX *| *RAFT APPLIED INDEX *| *ERRORS *|' <<< "$OUT" ||
    fail "endpoint status table has not etcdctl's header"
  [ "$(table_rows | wc -l)" -eq 3 ] || fail "endpoint status --cluster shows $(table_rows | wc -l) rows, expected 3"
  [ "$(table_rows | awk -F'|' '$6 ~ /true/' | wc -l)" -eq 1 ] || fail "expected exactly one leader"
  [ "$(table_rows | awk -F'|' '{gsub(/ /, "", $8); print $8}' | sort -u | wc -l)" -eq 1 ] ||
    fail "members report different raft terms"

  # Health: etcdctl 3.4 prints it on stderr, one line per endpoint.
  ctl endpoint health
  ok
  for endpoint in "${ALL[@]}"; do
    grep -q "^$endpoint is healthy: successfully committed proposal: took = " <<< "$ERR" ||
      fail "endpoint health did not report $endpoint healthy"
  done

  # A snapshot from one member (etcdctl refuses several endpoints for this).
  local dir
  dir=$(mktemp -d)
  ctl_at "${ALL[0]}" snapshot save "$dir/backup.db"
  ok
  [ -s "$dir/backup.db" ] || fail "snapshot save left no file or an empty one"
  grep -q "Snapshot saved at $dir/backup.db" <<< "$ERR$OUT" || fail "snapshot save did not say where"
  # `snapshot status` reads etcd's bbolt format offline: informative only, not asserted.
  echo "\$ etcdctl snapshot status $dir/backup.db -w table"
  etcdctl snapshot status "$dir/backup.db" -w table 2>&1 || echo "NOTE: snapshot status cannot read this file"
  rm -rf "$dir"

  # For the stop/restart phases: the value the stopped member must see again.
  ctl put mykey "this is awesome"
  expect_out "OK"
}

# txn COMPARE SUCCESS FAILURE: one compare, at most one op per branch ('' for none), as
# `etcdctl txn <<EOF` reads them: each section ends with an empty line.
txn() {
  local input errfile
  input=$(mktemp)
  errfile=$(mktemp)
  {
    printf '%s\n\n' "$1"
    [ -z "$2" ] || printf '%s\n' "$2"
    printf '\n'
    [ -z "$3" ] || printf '%s\n' "$3"
    printf '\n'
  } >"$input"
  echo "\$ etcdctl txn <<EOF"
  cat "$input"
  echo "EOF"
  OUT=$(timeout 30 etcdctl --endpoints="$ENDPOINTS" --dial-timeout=2s --command-timeout=5s txn <"$input" 2>"$errfile")
  RC=$?
  ERR=$(cat "$errfile")
  rm -f "$input" "$errfile"
  [ -n "$OUT" ] && printf '%s\n' "$OUT"
  [ -n "$ERR" ] && printf '%s\n' "$ERR" | sed 's/^/  stderr: /'
  [ "$RC" -ne 124 ] || fail "etcdctl txn hung"
  return 0
}

# watch --prefix in the background while another command writes: the watcher prints the event as
# PUT, key, value. The watcher may not be registered yet when the first put lands, so the put is
# repeated until the event shows up.
check_watch() {
  local dir watcher
  dir=$(mktemp -d)
  echo "\$ etcdctl watch --prefix watched/ &"
  etcdctl --endpoints="$ENDPOINTS" --dial-timeout=2s watch --prefix watched/ >"$dir/out" 2>"$dir/err" &
  watcher=$!
  local seen=""
  for _ in $(seq 1 40); do
    ctl put watched/key "seen by the watcher"
    ok
    sleep 0.25
    if grep -A2 -x PUT "$dir/out" | grep -A1 -x watched/key | grep -qx "seen by the watcher"; then
      seen=yes
      break
    fi
  done
  kill "$watcher" 2>/dev/null
  wait "$watcher" 2>/dev/null
  echo "watcher printed:"
  sed 's/^/  /' "$dir/out" "$dir/err"
  rm -rf "$dir"
  [ -n "$seen" ] || fail "the watcher never printed PUT / watched/key / seen by the watcher"
}

phase_stopped() {
  # The stopped member: a clear error and a non-zero exit, within the timeouts, not a hang.
  local started=$SECONDS
  ctl_at "$MEMBER" get mykey
  [ "$RC" -ne 0 ] || fail "get from the stopped member $MEMBER succeeded"
  [ $((SECONDS - started)) -le 15 ] || fail "get from the stopped member took $((SECONDS - started))s"
  grep -q '^Error: ' <<< "$ERR" || fail "no 'Error: ...' line from the stopped member"
  # The others still answer, and still accept writes.
  ctl_at "$OTHERS" get mykey
  expect_out "mykey
this is awesome"
  ctl_at "$OTHERS" put mykey "$WHILE_DOWN_VALUE"
  expect_out "OK"
}

phase_restarted() {
  # Back up, it caught up through Raft: retry while it starts and elects.
  for _ in $(seq 1 30); do
    ctl_at "$MEMBER" get mykey
    if [ "$RC" -eq 0 ] && [ "$OUT" == "mykey
$WHILE_DOWN_VALUE" ]; then
      return 0
    fi
    sleep 1
  done
  fail "the restarted member $MEMBER never answered get mykey with the value written while it was down"
}

case "$PHASE" in
main) phase_main ;;
stopped) phase_stopped ;;
restarted) phase_restarted ;;
*) fail "unknown phase (expected main, stopped or restarted)" ;;
esac
echo "PASS [$PHASE]"
