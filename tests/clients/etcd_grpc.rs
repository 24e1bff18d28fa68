//! The etcd v3 API's edge cases on a live 3-node cluster, through a gRPC client generated from
//! etcd's protocol (the same wire contract `etcdctl` and python-etcd3 use in `etcd_tools.rs`):
//! watches replaying history across a leader's death, compaction cancelling a watch, a slow
//! watcher catching up without holding the node, leases expiring through the leader and kept alive
//! through a follower, writes through a follower, and the JSON gateway.

use std::time::Duration;

use crate::support::grpc::{channel, runtime, TIMEOUT};
use crate::support::{wait_for, Cluster};
use raftkv::grpc::pb::etcdserverpb::kv_client::KvClient;
use raftkv::grpc::pb::etcdserverpb::lease_client::LeaseClient;
use raftkv::grpc::pb::etcdserverpb::watch_client::WatchClient;
use raftkv::grpc::pb::etcdserverpb::watch_request::RequestUnion;
use raftkv::grpc::pb::etcdserverpb::{
    CompactionRequest, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseTimeToLiveRequest,
    PutRequest, RangeRequest, WatchCreateRequest, WatchRequest, WatchResponse,
};
use raftkv::grpc::pb::mvccpb::event::EventType;
use tonic::transport::Channel;

async fn put(kv: &mut KvClient<Channel>, key: &str, value: &str, lease: i64) -> i64 {
    let response = kv
        .put(PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            ..PutRequest::default()
        })
        .await
        .expect("put")
        .into_inner();
    response.header.expect("a header").revision
}

async fn get(kv: &mut KvClient<Channel>, key: &str) -> Option<String> {
    let response = kv
        .range(RangeRequest {
            key: key.into(),
            ..RangeRequest::default()
        })
        .await
        .expect("range")
        .into_inner();
    response
        .kvs
        .first()
        .map(|kv| String::from_utf8(kv.value.clone()).unwrap())
}

/// A watch stream: its request sender and its responses.
struct Watch {
    _requests: tokio::sync::mpsc::Sender<WatchRequest>,
    responses: tonic::Streaming<WatchResponse>,
}

async fn watch(channel: Channel, key: &str, range_end: &str, start_revision: i64) -> Watch {
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: key.into(),
            range_end: range_end.into(),
            start_revision,
            prev_kv: true,
            ..WatchCreateRequest::default()
        })),
    };
    tx.send(create).await.unwrap();
    let requests = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut responses = WatchClient::new(channel)
        .watch(requests)
        .await
        .expect("watch")
        .into_inner();
    let created = responses.message().await.unwrap().expect("a response");
    assert!(created.created, "{created:?}");
    Watch {
        _requests: tx,
        responses,
    }
}

/// Reads `n` events from a watch: (revision, type, key, value).
async fn events(w: &mut Watch, n: usize) -> Vec<(i64, i32, String, String)> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let response = tokio::time::timeout(TIMEOUT, w.responses.message())
            .await
            .expect("events within the timeout")
            .expect("a healthy stream")
            .expect("an open stream");
        assert!(!response.canceled, "{response:?}");
        for e in response.events {
            let kv = e.kv.expect("a key");
            seen.push((
                kv.mod_revision,
                e.r#type,
                String::from_utf8(kv.key).unwrap(),
                String::from_utf8(kv.value).unwrap(),
            ));
        }
    }
    seen
}

#[test]
fn a_watch_replays_history_then_follows_across_a_leader_kill_exactly_once() {
    let mut c = Cluster::start(3);
    let leader = c.wait_for_leader(TIMEOUT);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let other = (1..=3).find(|id| *id != leader && *id != follower).unwrap();
    let rt = runtime();
    let last = rt.block_on(async {
        let mut kv = KvClient::new(channel(&c, follower).await);
        // Writes through a follower: it forwards them to the leader itself.
        let first = put(&mut kv, "w/0", "v0", 0).await;
        for i in 1..5 {
            put(&mut kv, &format!("w/{i}"), &format!("v{i}"), 0).await;
        }
        let last = put(&mut kv, "elsewhere", "x", 0).await;
        // From the first revision: the five puts again, from history, in order.
        let mut w = watch(channel(&c, other).await, "w/", "w0", first).await;
        let replayed = events(&mut w, 5).await;
        let revisions: Vec<i64> = replayed.iter().map(|e| e.0).collect();
        assert_eq!(revisions, (first..first + 5).collect::<Vec<_>>());
        assert!(replayed.iter().all(|e| e.1 == EventType::Put as i32));
        last
    });
    let (mut kv, mut w) = rt.block_on(async {
        let kv = KvClient::new(channel(&c, other).await);
        // From after the writes above, which this node may not have applied yet.
        let w = watch(channel(&c, other).await, "w/", "w0", last + 1).await;
        (kv, w)
    });
    c.kill(leader);
    rt.block_on(async {
        // Writes retried until the new leader takes them; each lands once.
        let mut written = Vec::new();
        for i in 5..10 {
            let key = format!("w/{i}");
            let revision = loop {
                match kv
                    .put(PutRequest {
                        key: key.clone().into(),
                        value: b"after".to_vec(),
                        ..PutRequest::default()
                    })
                    .await
                {
                    Ok(r) => break r.into_inner().header.unwrap().revision,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            written.push((revision, key));
        }
        let seen = events(&mut w, written.len()).await;
        let seen: Vec<(i64, String)> = seen.into_iter().map(|e| (e.0, e.2)).collect();
        assert_eq!(seen, written, "every write once, in revision order");
    });
}

#[test]
fn a_watch_below_the_compaction_is_cancelled_with_the_compact_revision() {
    let c = Cluster::start(3);
    c.wait_for_leader(TIMEOUT);
    runtime().block_on(async {
        let mut kv = KvClient::new(channel(&c, 1).await);
        let first = put(&mut kv, "k", "1", 0).await;
        put(&mut kv, "k", "2", 0).await;
        let third = put(&mut kv, "k", "3", 0).await;
        kv.compact(CompactionRequest {
            revision: third,
            physical: false,
        })
        .await
        .expect("compact");
        // A read below it fails as etcd's does.
        let old = kv
            .range(RangeRequest {
                key: b"k".to_vec(),
                revision: first,
                ..RangeRequest::default()
            })
            .await
            .expect_err("compacted");
        assert_eq!(old.code(), tonic::Code::OutOfRange);
        assert!(old.message().contains("compacted"), "{old:?}");
        let mut w = watch(channel(&c, 2).await, "k", "", first).await;
        let cancelled = tokio::time::timeout(TIMEOUT, w.responses.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(cancelled.canceled, "{cancelled:?}");
        assert_eq!(cancelled.compact_revision, third);
        // From the compact revision itself the watch works.
        let mut w = watch(channel(&c, 2).await, "k", "", third).await;
        assert_eq!(events(&mut w, 1).await[0].3, "3");
    });
}

#[test]
fn a_slow_watcher_catches_up_from_history_without_holding_the_node() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(TIMEOUT);
    runtime().block_on(async {
        let mut kv = KvClient::new(channel(&c, leader).await);
        // A watcher that reads nothing while far more responses than its buffer are due.
        let mut w = watch(channel(&c, leader).await, "s/", "s0", 0).await;
        let writes = 400;
        for i in 0..writes {
            put(&mut kv, &format!("s/{i:04}"), "v", 0).await;
        }
        // The node still answers at once.
        assert_eq!(get(&mut kv, "s/0000").await.as_deref(), Some("v"));
        let seen = events(&mut w, writes).await;
        let keys: Vec<String> = seen.into_iter().map(|e| e.2).collect();
        let expected: Vec<String> = (0..writes).map(|i| format!("s/{i:04}")).collect();
        assert_eq!(keys, expected);
    });
}

#[test]
fn a_lease_expires_through_the_leader_unless_kept_alive_through_a_follower() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(TIMEOUT);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    runtime().block_on(async {
        let mut lease = LeaseClient::new(channel(&c, follower).await);
        let mut kv = KvClient::new(channel(&c, follower).await);
        let grant = |ttl| LeaseGrantRequest { ttl, id: 0 };
        let kept = lease.lease_grant(grant(1)).await.unwrap().into_inner();
        let dropped = lease.lease_grant(grant(1)).await.unwrap().into_inner();
        assert!(kept.ttl >= 1 && kept.id != dropped.id);
        put(&mut kv, "kept", "k", kept.id).await;
        let written = put(&mut kv, "dropped", "d", dropped.id).await;
        // From just after the put: the follower may not have applied it yet when the watch starts.
        let mut w = watch(channel(&c, follower).await, "dropped", "", written + 1).await;

        // Keep-alives through the follower for three TTLs: only the other lease expires.
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let requests = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut answers = lease.lease_keep_alive(requests).await.unwrap().into_inner();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3 * kept.ttl as u64);
        while tokio::time::Instant::now() < deadline {
            tx.send(LeaseKeepAliveRequest { id: kept.id })
                .await
                .unwrap();
            let answer = answers.message().await.unwrap().unwrap();
            assert_eq!((answer.id, answer.ttl), (kept.id, kept.ttl));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let deleted = events(&mut w, 1).await;
        assert_eq!(deleted[0].1, EventType::Delete as i32);
        assert_eq!(get(&mut kv, "dropped").await, None);
        assert_eq!(get(&mut kv, "kept").await.as_deref(), Some("k"));
        let gone = lease
            .lease_time_to_live(LeaseTimeToLiveRequest {
                id: dropped.id,
                keys: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(gone.ttl, -1, "etcd answers an expired lease with TTL -1");
        let alive = lease
            .lease_time_to_live(LeaseTimeToLiveRequest {
                id: kept.id,
                keys: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(alive.keys, vec![b"kept".to_vec()]);
        assert!(
            alive.ttl >= 0 && alive.ttl <= alive.granted_ttl,
            "{alive:?}"
        );
    });
}

#[test]
fn the_json_gateway_speaks_etcds_json() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(TIMEOUT);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    // base64("foo") = Zm9v, base64("bar") = YmFy.
    let put = c
        .request(
            "POST",
            follower,
            "/v3/kv/put",
            Some(br#"{"key":"Zm9v","value":"YmFy"}"#),
        )
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    let revision = put.json()["header"]["revision"].clone();
    assert!(revision.is_string(), "int64 as a string: {}", put.body);
    let range = wait_for("the put on the leader", TIMEOUT, || {
        let r = c
            .request("POST", leader, "/v3/kv/range", Some(br#"{"key":"Zm9v"}"#))
            .ok()?;
        (r.status == 200).then_some(r)
    });
    let json = range.json();
    assert_eq!(json["kvs"][0]["key"], "Zm9v");
    assert_eq!(json["kvs"][0]["value"], "YmFy");
    assert_eq!(json["kvs"][0]["mod_revision"], revision);
    assert_eq!(json["count"], "1");
    // etcd's error shape for a bad request.
    let bad = c
        .request("POST", leader, "/v3/kv/range", Some(b"{not json"))
        .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], 3, "InvalidArgument: {}", bad.body);
    let status = c
        .request("POST", follower, "/v3/maintenance/status", Some(b"{}"))
        .unwrap();
    assert_eq!(
        status.json()["leader"],
        leader.to_string(),
        "{}",
        status.body
    );
}
