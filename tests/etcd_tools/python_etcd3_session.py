#!/usr/bin/python3
"""An etcd user's Python program, with Debian's python3-etcd3 (0.12), SCENARIOS.md section 6.

Usage: python_etcd3_session.py [HOST:PORT ...]; without arguments the endpoints come from
ETCD_TOOLS_ENDPOINTS (comma-separated). Every step checks what it got and the script exits non-zero
at the first mismatch, naming it. Ids and revisions vary between runs and servers: the checks assert
relationships between them, never their values.

python-etcd3's own lock() is not used: on Debian it breaks against the packaged tenacity. The lock
here is what it does underneath: a lease plus a create-if-absent transaction.
"""

import os
import sys
import threading
import time

import etcd3
import etcd3.events

TIMEOUT_S = 10


def fail(message):
    print("FAIL: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def step(title):
    print("--- " + title, flush=True)


def connect(endpoint):
    host, port = endpoint.rsplit(":", 1)
    return etcd3.client(host=host, port=int(port), timeout=TIMEOUT_S)


def value_of(client, key):
    value, _meta = client.get(key)
    return None if value is None else value.decode()


def put_get(client):
    step("put / get")
    client.put("py/greeting", "hello from python")
    value, meta = client.get("py/greeting")
    check(value == b"hello from python", "get returned %r" % value)
    check(meta.key == b"py/greeting", "metadata names key %r" % meta.key)
    first_mod = meta.mod_revision
    client.put("py/greeting", "hello again")
    value, meta = client.get("py/greeting")
    check(value == b"hello again", "second get returned %r" % value)
    check(meta.mod_revision > first_mod, "mod_revision did not grow: %d then %d" % (first_mod, meta.mod_revision))
    check(meta.version >= 2, "version %d after two puts" % meta.version)
    client.delete("py/greeting")
    check(client.get("py/greeting") == (None, None), "deleted key is still there")


def prefix(client):
    step("get_prefix")
    client.delete_prefix("py/stack/")
    for i in range(5):
        client.put("py/stack/%d" % i, "item-%d" % i)
    client.put("py/stacked", "not under the prefix")
    got = [(meta.key.decode(), value.decode()) for value, meta in client.get_prefix("py/stack/")]
    want = [("py/stack/%d" % i, "item-%d" % i) for i in range(5)]
    check(got == want, "get_prefix returned %r" % got)
    deleted = client.delete_prefix("py/stack/")
    check(deleted.deleted == 5, "delete_prefix deleted %d keys" % deleted.deleted)
    check(list(client.get_prefix("py/stack/")) == [], "keys left after delete_prefix")
    client.delete("py/stacked")


def create_if_absent(client, key, value):
    """The stack-label idiom: create `key` only if it does not exist yet."""
    succeeded, _responses = client.transaction(
        compare=[client.transactions.version(key) == 0],
        success=[client.transactions.put(key, value)],
        failure=[client.transactions.get(key)],
    )
    return succeeded


def transactions(client):
    step("transaction: create if absent")
    client.delete("py/label/1")
    check(create_if_absent(client, "py/label/1", "stack-1"), "first create-if-absent failed")
    check(not create_if_absent(client, "py/label/1", "stack-2"), "second create-if-absent succeeded")
    check(value_of(client, "py/label/1") == "stack-1", "the second transaction overwrote the label")
    # The failure branch's get returns the existing key.
    succeeded, responses = client.transaction(
        compare=[client.transactions.version("py/label/1") == 0],
        success=[client.transactions.put("py/label/1", "never")],
        failure=[client.transactions.get("py/label/1")],
    )
    check(not succeeded, "compare on an existing key held")
    check(responses[0][0][0] == b"stack-1", "failure branch get returned %r" % (responses,))

    step("replace")
    check(client.replace("py/label/1", "stack-1", "stack-1b"), "replace with the right old value failed")
    check(not client.replace("py/label/1", "stack-1", "stack-1c"), "replace with a stale old value succeeded")
    check(value_of(client, "py/label/1") == "stack-1b", "replace left %r" % value_of(client, "py/label/1"))
    check(client.put_if_not_exists("py/label/2", "x"), "put_if_not_exists on a new key failed")
    check(not client.put_if_not_exists("py/label/2", "y"), "put_if_not_exists on an existing key succeeded")
    client.delete_prefix("py/label/")


def watch(client, writer):
    step("add_watch_callback")
    events = []
    seen = threading.Event()

    def callback(response):
        if isinstance(response, Exception):
            events.append(response)
            seen.set()
            return
        for event in response.events:
            events.append(event)
            if isinstance(event, etcd3.events.PutEvent) and event.key == b"py/watched":
                seen.set()

    watch_id = client.add_watch_callback("py/watched", callback)
    # Written through another member: the watch is on one, the write goes through another.
    writer.put("py/watched", "seen by the callback")
    check(seen.wait(TIMEOUT_S), "the callback got no put within %ds (got %r)" % (TIMEOUT_S, events))
    client.cancel_watch(watch_id)
    first = events[0]
    check(not isinstance(first, Exception), "the watch failed: %r" % first)
    check(isinstance(first, etcd3.events.PutEvent), "first event is %r, not a put" % first)
    check(first.value == b"seen by the callback", "the event carries %r" % first.value)
    client.delete("py/watched")


def leases(client):
    step("lease grant / put with lease / refresh / revoke")
    lease = client.lease(60)
    check(lease.id > 0, "lease id %r" % lease.id)
    client.put("py/leased", "lives with the lease", lease=lease)
    value, meta = client.get("py/leased")
    check(value == b"lives with the lease", "leased key reads %r" % value)
    check(meta.lease_id == lease.id, "key's lease is %d, not %d" % (meta.lease_id, lease.id))
    check(lease.granted_ttl == 60, "granted ttl %r" % lease.granted_ttl)
    check(0 < lease.remaining_ttl <= 60, "remaining ttl %r" % lease.remaining_ttl)
    check(lease.keys == [b"py/leased"], "lease keys %r" % lease.keys)
    refreshed = lease.refresh()
    check(len(refreshed) == 1 and refreshed[0].TTL == 60, "refresh answered %r" % refreshed)
    check(refreshed[0].ID == lease.id, "refresh answered for lease %d" % refreshed[0].ID)
    lease.revoke()
    check(client.get("py/leased") == (None, None), "the key outlived its revoked lease")
    check(lease.remaining_ttl == -1, "a revoked lease has ttl %r, not -1" % lease.remaining_ttl)

    step("lease expiry")
    short = client.lease(2)
    client.put("py/expiring", "for two seconds", lease=short)
    deadline = time.monotonic() + 15
    while client.get("py/expiring") != (None, None):
        check(time.monotonic() < deadline, "a key with a 2s lease is still there after 15s")
        time.sleep(0.25)


class Lock:
    """A lease plus a create-if-absent transaction: whoever creates the key holds the lock; the
    lease frees it if the holder dies."""

    def __init__(self, client, name, ttl_s=10):
        self.client = client
        self.key = "py/locks/" + name
        self.ttl_s = ttl_s
        self.lease = None

    def try_acquire(self):
        lease = self.client.lease(self.ttl_s)
        succeeded, _ = self.client.transaction(
            compare=[self.client.transactions.version(self.key) == 0],
            success=[self.client.transactions.put(self.key, str(lease.id), lease=lease)],
            failure=[],
        )
        if succeeded:
            self.lease = lease
        else:
            lease.revoke()
        return succeeded

    def acquire(self, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while not self.try_acquire():
            check(time.monotonic() < deadline, "could not take lock %s in %ds" % (self.key, timeout_s))
            time.sleep(0.05)

    def release(self):
        self.lease.revoke()
        self.lease = None


def lock(client, other):
    step("a lock from a lease and a transaction")
    client.delete_prefix("py/locks/")
    mine = Lock(client, "stack")
    theirs = Lock(other, "stack")
    check(mine.try_acquire(), "a free lock could not be taken")
    check(not theirs.try_acquire(), "a held lock was taken again")
    mine.lease.refresh()
    mine.release()
    check(theirs.try_acquire(), "a released lock could not be taken")
    theirs.release()

    step("two workers update a stack size under the lock")
    client.put("py/stack-size", "0")
    rounds = 10
    errors = []

    def worker(c):
        try:
            held = Lock(c, "stack")
            for _ in range(rounds):
                held.acquire()
                size = int(value_of(c, "py/stack-size"))
                # Read-modify-write: only the lock keeps the two workers from losing an update.
                c.put("py/stack-size", str(size + 1))
                held.release()
        except Exception as e:  # reported on the main thread, below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(c,)) for c in (client, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "a worker failed: %r" % errors)
    size = value_of(client, "py/stack-size")
    check(size == str(2 * rounds), "stack size %s after %d locked increments" % (size, 2 * rounds))
    client.delete("py/stack-size")


def cluster(client, endpoints):
    step("members")
    members = list(client.members)
    check(len(members) == 3, "%d members, expected 3" % len(members))
    urls = [url for m in members for url in m.client_urls]
    for endpoint in endpoints:
        # etcd lists http://host:port, raftkv host:port (the README says why).
        check(any(url == endpoint or url.endswith("//" + endpoint) for url in urls),
              "no member has client URL %s (%r)" % (endpoint, urls))
    check(len({m.id for m in members}) == 3, "member ids are not distinct")
    check(all(m.name for m in members), "a member has no name")

    step("status")
    status = client.status()
    check(status.leader is not None, "status names no leader among the members")
    check(status.leader.id in {m.id for m in members}, "the leader is not a member")
    check(status.raft_term >= 1, "raft term %r" % status.raft_term)
    check(status.raft_index >= 1, "raft index %r" % status.raft_index)
    check(status.db_size > 0, "db size %r" % status.db_size)
    check(status.version, "no version")
    leaders = {connect(e).status().leader.id for e in endpoints}
    check(len(leaders) == 1, "members disagree on the leader: %r" % leaders)


def main():
    endpoints = sys.argv[1:] or [e for e in os.environ.get("ETCD_TOOLS_ENDPOINTS", "").split(",") if e]
    check(len(endpoints) == 3, "give three endpoints (arguments or ETCD_TOOLS_ENDPOINTS), got %r" % endpoints)
    client = connect(endpoints[0])
    other = connect(endpoints[1])
    put_get(client)
    prefix(client)
    transactions(client)
    watch(client, other)
    leases(client)
    lock(client, other)
    cluster(client, endpoints)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
