//! Revoking a lease deletes its keys, so with auth on, as in etcd, only a user with write
//! permission on every key attached may revoke it. Driven through the etcd JSON gateway (the
//! Lease service's own code) on a 3-node cluster, with a follower forwarding too.

use base64::Engine;
use serde_json::{json, Value};

use crate::support::Cluster;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A token for `name`, as etcd's gateway hands them out (it takes tokens, not basic auth).
fn token(c: &Cluster, id: u64, name: &str, password: &str) -> String {
    let who = json!({"name": name, "password": password});
    let reply = ok(c, id, "/v3/auth/authenticate", who, "");
    reply["token"].as_str().expect("a token").to_string()
}

/// POSTs `body` to the gateway route `path` on node `id` as `auth` (an `Authorization` value,
/// none if empty); the status and the JSON.
fn call(c: &Cluster, id: u64, path: &str, body: Value, auth: &str) -> (u16, Value) {
    let url = c.url(id, path);
    let body = body.to_string();
    let headers = [("authorization", auth)];
    let headers = if auth.is_empty() {
        &[][..]
    } else {
        &headers[..]
    };
    let reply = c.request_with("POST", &url, Some(body.as_bytes()), headers);
    let reply = reply.expect("the node answers");
    let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, json)
}

fn ok(c: &Cluster, id: u64, path: &str, body: Value, auth: &str) -> Value {
    let (status, json) = call(c, id, path, body, auth);
    assert_eq!(status, 200, "{path}: {json}");
    json
}

fn keys(c: &Cluster, leader: u64, root: &str) -> u64 {
    let all = json!({"key": b64("\0"), "range_end": b64("\0"), "count_only": true});
    let count = &ok(c, leader, "/v3/kv/range", all, root)["count"];
    count.as_str().map_or(0, |n| n.parse().unwrap())
}

#[test]
fn revoking_a_lease_needs_write_permission_on_each_of_its_keys() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(std::time::Duration::from_secs(30));
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    let none = "";
    let user = json!({"name": "root", "password": "rootpw"});
    ok(&c, leader, "/v3/auth/user/add", user, none);
    ok(
        &c,
        leader,
        "/v3/auth/role/add",
        json!({"name": "root"}),
        none,
    );
    let grant = json!({"user": "root", "role": "root"});
    ok(&c, leader, "/v3/auth/user/grant", grant, none);
    ok(&c, leader, "/v3/auth/enable", json!({}), none);
    let root = token(&c, leader, "root", "rootpw");
    // alice may write under a/ only.
    let user = json!({"name": "alice", "password": "alicepw"});
    ok(&c, leader, "/v3/auth/user/add", user, &root);
    ok(&c, leader, "/v3/auth/role/add", json!({"name": "w"}), &root);
    let perm = json!({"name": "w", "perm": {"permType": "READWRITE", "key": b64("a/"),
                      "range_end": b64("a0")}});
    ok(&c, leader, "/v3/auth/role/grant", perm, &root);
    let grant = json!({"user": "alice", "role": "w"});
    ok(&c, leader, "/v3/auth/user/grant", grant, &root);
    let alice = token(&c, leader, "alice", "alicepw");

    // A lease holding a/1 and b/1: alice may not revoke it, through any node.
    let lease = ok(&c, leader, "/v3/lease/grant", json!({"TTL": 600}), &root)["ID"].clone();
    for key in ["a/1", "b/1"] {
        let put = json!({"key": b64(key), "value": b64("v"), "lease": lease});
        ok(&c, leader, "/v3/kv/put", put, &root);
    }
    for node in [leader, follower] {
        let (status, json) = call(&c, node, "/v3/lease/revoke", json!({"ID": lease}), &alice);
        assert_ne!(status, 200, "{json}");
        assert!(json.to_string().contains("permission denied"), "{json}");
    }
    assert_eq!(
        keys(&c, leader, &root),
        2,
        "a refused revoke deletes nothing"
    );

    // Her own lease, on a/2 only: she may revoke it, and its key goes.
    let own = ok(&c, leader, "/v3/lease/grant", json!({"TTL": 600}), &alice)["ID"].clone();
    let put = json!({"key": b64("a/2"), "value": b64("v"), "lease": own});
    ok(&c, leader, "/v3/kv/put", put, &alice);
    assert_eq!(keys(&c, leader, &root), 3);
    ok(&c, follower, "/v3/lease/revoke", json!({"ID": own}), &alice);
    assert_eq!(keys(&c, leader, &root), 2);

    // Root may revoke the first.
    ok(&c, leader, "/v3/lease/revoke", json!({"ID": lease}), &root);
    assert_eq!(keys(&c, leader, &root), 0);
}
