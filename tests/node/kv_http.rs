//! `PUT /v1/kv/{key}?ttl=S|if_version=V` and `GET /v1/kv/{key}` with `X-Version`, `X-Expires-In`
//! and `?meta=true`, against a real 3-node cluster.

use std::time::Duration;

use crate::support::{wait_for, Cluster};
use base64::Engine;

/// Status, `X-Version`, `X-Expires-In` and body of a GET (the harness's replies carry no headers).
fn get_with_headers(url: &str) -> (u16, Option<String>, Option<String>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut resp = agent.get(url).call().expect("node answers");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (version, expires_in) = (header("x-version"), header("x-expires-in"));
    let body = resp.body_mut().read_to_vec().expect("body");
    (resp.status().as_u16(), version, expires_in, body)
}

#[test]
fn ttl_if_version_and_meta_over_http() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let put = |path: &str, body: &[u8]| c.request("PUT", leader, path, Some(body)).unwrap();

    // A permanent key: X-Version, no X-Expires-In, meta with a null expiry.
    let r = put("/v1/kv/perm", b"p\x00\xff");
    assert_eq!(r.status, 200, "{}", r.body);
    let version = r.json()["version"].as_u64().unwrap();
    // The version is the key's etcd mod_revision: a revision, never the absent version 0.
    assert!(version >= 2, "{}", r.body);
    assert!(r.json()["index"].as_u64().is_some());
    let (status, x_version, x_expires, body) = get_with_headers(&c.url(leader, "/v1/kv/perm"));
    assert_eq!(status, 200);
    assert_eq!(x_version, Some(version.to_string()));
    assert_eq!(x_expires, None);
    assert_eq!(body, b"p\x00\xff");
    let meta = c
        .request("GET", leader, "/v1/kv/perm?meta=true", None)
        .unwrap()
        .json();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(meta["value_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, b"p\x00\xff");
    assert_eq!(meta["version"].as_u64(), Some(version));
    assert!(meta["expires_in"].is_null(), "{meta}");

    // Compare-and-swap: a stale version loses with the current one; the right one wins.
    let r = put(&format!("/v1/kv/perm?if_version={}", version - 1), b"lost");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"], "version_mismatch");
    assert_eq!(r.json()["version"].as_u64(), Some(version));
    let r = put(&format!("/v1/kv/perm?if_version={version}"), b"won");
    assert_eq!(r.status, 200, "{}", r.body);
    let new_version = r.json()["version"].as_u64().unwrap();
    assert!(new_version > version);
    let r = put("/v1/kv/missing?if_version=1", b"x");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );
    let r = put("/v1/kv/perm?ttl=soon", b"x");
    assert_eq!(r.status, 400, "{}", r.body);

    // A key with a ttl shows its remaining time, then disappears on every node alike.
    let r = put("/v1/kv/brief?ttl=1", b"b");
    assert_eq!(r.status, 200, "{}", r.body);
    let (status, _, x_expires, _) = get_with_headers(&c.url(leader, "/v1/kv/brief"));
    assert_eq!((status, x_expires.as_deref()), (200, Some("1")));
    let meta = c
        .request("GET", leader, "/v1/kv/brief?meta=true", None)
        .unwrap()
        .json();
    assert_eq!(meta["expires_in"], 1);
    wait_for("the key to expire", Duration::from_secs(5), || {
        let r = c.request("GET", leader, "/v1/kv/brief", None).unwrap();
        (r.status == 404).then_some(())
    });
    for id in 1..=3 {
        wait_for("a local read to miss", Duration::from_secs(5), || {
            let r = c
                .request("GET", id, "/v1/kv/brief?consistency=local", None)
                .unwrap();
            (r.status == 404).then_some(())
        });
    }
    // The purge went through the log: each transaction log records it at the same index.
    wait_for(
        "identical transaction logs with a purge",
        Duration::from_secs(5),
        || {
            let logs: Vec<_> = (1..=3).map(|id| c.txlog(id)).collect();
            let purged = logs[0]
                .iter()
                .any(|l| l.contains("kv.purge") && l.ends_with("purged=1"));
            (purged && logs.iter().all(|l| *l == logs[0])).then_some(())
        },
    );
}
