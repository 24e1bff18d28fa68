//! Issue 15's per-door limits on a live cluster, through real clients: watches per gRPC stream,
//! leases in the cluster, and the key size at every door (HTTP `/v1/kv`, the etcd JSON gateway,
//! gRPC, the text protocol). Each is taken to its limit, then one past it, which fails with the
//! documented error, and the node serves afterwards.

use base64::Engine;
use raftkv::grpc::pb::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use raftkv::grpc::pb::etcdserverpb::kv_client::KvClient;
use raftkv::grpc::pb::etcdserverpb::lease_client::LeaseClient;
use raftkv::grpc::pb::etcdserverpb::request_op::Request as Op;
use raftkv::grpc::pb::etcdserverpb::watch_client::WatchClient;
use raftkv::grpc::pb::etcdserverpb::watch_request::RequestUnion;
use raftkv::grpc::pb::etcdserverpb::{
    Compare, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest, WatchCancelRequest, WatchCreateRequest, WatchRequest, WatchResponse,
};
use tonic::transport::Channel;
use tonic::Code;

use crate::support::grpc::{channel, runtime, TIMEOUT};
use crate::support::text::TextClient;
use crate::support::Cluster;

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One watch stream: create and cancel requests go in, responses come out.
struct WatchStream {
    requests: tokio::sync::mpsc::Sender<WatchRequest>,
    responses: tonic::Streaming<WatchResponse>,
}

impl WatchStream {
    async fn open(channel: Channel) -> WatchStream {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let requests = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let responses = WatchClient::new(channel)
            .watch(requests)
            .await
            .expect("watch")
            .into_inner();
        WatchStream {
            requests: tx,
            responses,
        }
    }

    async fn next(&mut self) -> WatchResponse {
        tokio::time::timeout(TIMEOUT, self.responses.message())
            .await
            .expect("a response within the timeout")
            .expect("a healthy stream")
            .expect("an open stream")
    }

    /// Asks for a watch of `key` and returns the node's answer to it.
    async fn create(&mut self, key: &[u8]) -> WatchResponse {
        let create = WatchCreateRequest {
            key: key.to_vec(),
            ..WatchCreateRequest::default()
        };
        self.send(RequestUnion::CreateRequest(create)).await;
        self.next().await
    }

    async fn send(&mut self, request: RequestUnion) {
        let request = WatchRequest {
            request_union: Some(request),
        };
        self.requests
            .send(request)
            .await
            .expect("the stream is open");
    }
}

#[test]
fn a_watch_stream_holds_at_most_max_watches_per_stream() {
    let c = Cluster::start_with(1, "max_watches_per_stream = 3");
    c.wait_for_leader(TIMEOUT);
    runtime().block_on(async {
        let mut stream = WatchStream::open(channel(&c, 1).await).await;
        let mut ids = Vec::new();
        for key in ["a", "b", "c"] {
            let created = stream.create(key.as_bytes()).await;
            assert!(created.created && !created.canceled, "{created:?}");
            ids.push(created.watch_id);
        }
        let refused = stream.create(b"d").await;
        assert!(refused.created && refused.canceled, "{refused:?}");
        assert_eq!(
            refused.cancel_reason,
            "etcdserver: too many watches on this stream (at most 3)"
        );

        // A cancel makes room; the stream and its watches keep working.
        stream
            .send(RequestUnion::CancelRequest(WatchCancelRequest {
                watch_id: ids[0],
            }))
            .await;
        let cancelled = stream.next().await;
        assert!(cancelled.canceled && cancelled.watch_id == ids[0]);
        let created = stream.create(b"d").await;
        assert!(created.created && !created.canceled, "{created:?}");
        let mut kv = KvClient::new(channel(&c, 1).await);
        let put = PutRequest {
            key: b"d".to_vec(),
            value: b"1".to_vec(),
            ..PutRequest::default()
        };
        kv.put(put).await.expect("put");
        let event = stream.next().await;
        assert_eq!(event.watch_id, created.watch_id, "{event:?}");
        assert_eq!(event.events[0].kv.as_ref().unwrap().key, b"d");
    });
}

#[test]
fn lease_grants_stop_at_max_leases_through_every_node_and_the_gateway() {
    let c = Cluster::start_with(3, "max_leases = 3");
    let leader = c.wait_for_leader(TIMEOUT);
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    runtime().block_on(async {
        let mut on_leader = LeaseClient::new(channel(&c, leader).await);
        let mut on_follower = LeaseClient::new(channel(&c, follower).await);
        let grant = LeaseGrantRequest { ttl: 60, id: 0 };
        let mut ids = Vec::new();
        for _ in 0..3 {
            let granted = on_leader
                .lease_grant(grant)
                .await
                .expect("a grant within the limit");
            ids.push(granted.into_inner().id);
        }
        // The fourth fails wherever it is asked: a follower forwards it to the leader, which
        // refuses it before it reaches the log.
        for client in [&mut on_leader, &mut on_follower] {
            let refused = client.lease_grant(grant).await.expect_err("over the limit");
            assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
            assert_eq!(refused.message(), "etcdserver: too many leases (at most 3)");
        }
        let gateway = c
            .request(
                "POST",
                follower,
                "/v3/lease/grant",
                Some(br#"{"TTL":"60"}"#),
            )
            .unwrap();
        assert_eq!(gateway.status, 429, "{}", gateway.body);
        assert_eq!(gateway.json()["code"], Code::ResourceExhausted as i32);
        assert_eq!(
            gateway.json()["message"],
            "etcdserver: too many leases (at most 3)"
        );

        // A revoke makes room for exactly one more.
        let revoke = LeaseRevokeRequest { id: ids[0] };
        on_follower.lease_revoke(revoke).await.expect("revoke");
        on_follower
            .lease_grant(grant)
            .await
            .expect("room after a revoke");
        let refused = on_leader.lease_grant(grant).await.expect_err("full again");
        assert_eq!(refused.code(), Code::ResourceExhausted);
    });
}

#[test]
fn keys_longer_than_max_key_bytes_are_refused_at_every_door() {
    // Below the text protocol's own 250 bytes, so that its check is this one.
    const LIMIT: usize = 100;
    let c = Cluster::start_with(1, &format!("max_key_bytes = {LIMIT}"));
    c.wait_for_leader(TIMEOUT);
    let at = "k".repeat(LIMIT);
    let over = "k".repeat(LIMIT + 1);

    // HTTP /v1/kv: 413 naming the limit, for a write and for a key merely named.
    let ok = c
        .request("PUT", 1, &format!("/v1/kv/{at}"), Some(b"v"))
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    for method in ["PUT", "GET", "DELETE"] {
        let refused = c
            .request(method, 1, &format!("/v1/kv/{over}"), Some(b"v"))
            .unwrap();
        assert_eq!(refused.status, 413, "{method}: {}", refused.body);
        assert_eq!(refused.json()["error"], "key_too_large");
        assert_eq!(
            refused.json()["message"],
            format!(
                "the key is {} bytes; the limit is {LIMIT} (max_key_bytes)",
                LIMIT + 1
            )
        );
    }

    // The JSON gateway answers as etcd's does for a request too large: InvalidArgument, 400.
    let body = format!(r#"{{"key":"{}","value":"dg=="}}"#, base64(over.as_bytes()));
    let refused = c
        .request("POST", 1, "/v3/kv/put", Some(body.as_bytes()))
        .unwrap();
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.json()["code"], Code::InvalidArgument as i32);
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("etcdserver: request is too large") && message.contains("(100)"),
        "{message}"
    );

    runtime().block_on(async {
        let mut kv = KvClient::new(channel(&c, 1).await);
        let put = |key: &str| PutRequest {
            key: key.into(),
            value: b"v".to_vec(),
            ..PutRequest::default()
        };
        kv.put(put(&at)).await.expect("a key at the limit");
        let too_large = |status: tonic::Status| {
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(
                status
                    .message()
                    .starts_with("etcdserver: request is too large")
                    && status.message().contains("max_key_bytes (100)"),
                "{status:?}"
            );
        };
        too_large(kv.put(put(&over)).await.expect_err("a key over it"));
        let range = RangeRequest {
            key: b"a".to_vec(),
            range_end: over.clone().into_bytes(),
            ..RangeRequest::default()
        };
        too_large(kv.range(range).await.expect_err("a range end over it"));
        // A compare inside a transaction nested in another.
        let compare = Compare {
            key: over.clone().into_bytes(),
            result: CompareResult::Equal as i32,
            target: CompareTarget::Version as i32,
            target_union: Some(TargetUnion::Version(0)),
            ..Compare::default()
        };
        let inner = TxnRequest {
            compare: vec![compare],
            ..TxnRequest::default()
        };
        let outer = TxnRequest {
            success: vec![RequestOp {
                request: Some(Op::RequestTxn(inner)),
            }],
            ..TxnRequest::default()
        };
        too_large(kv.txn(outer).await.expect_err("a nested compare over it"));

        let mut stream = WatchStream::open(channel(&c, 1).await).await;
        let refused = stream.create(over.as_bytes()).await;
        assert!(refused.canceled, "{refused:?}");
        assert!(
            refused
                .cancel_reason
                .starts_with("etcdserver: request is too large"),
            "{refused:?}"
        );
        let created = stream.create(at.as_bytes()).await;
        assert!(created.created && !created.canceled, "{created:?}");
    });

    // The text protocol: ERR_CMD_ERR, as for a key over memcached's 250 bytes; the connection
    // goes on serving.
    let mut text = TextClient::connect(c.ports[0].2);
    text.send(format!("set {over} 0 1\r\nv\r\nget {over}\r\nset {at} 0 1\r\nw\r\n").as_bytes());
    assert_eq!(text.line(), "ERR_CMD_ERR");
    assert_eq!(text.line(), "ERR_CMD_ERR");
    assert!(text.line().starts_with("OK "));
    text.send(format!("get {at}\r\n").as_bytes());
    assert_eq!(
        text.answer(),
        b"VALUE 1\r\nw".to_vec(),
        "the node still serves the key at the limit"
    );
}
