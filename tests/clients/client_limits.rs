//! Issue 15's per-door limits on a live cluster, through real clients. Each is taken to its
//! limit, then one past it, which fails with the documented error, and the node serves
//! afterwards.

use std::time::Duration;

use raftkv::grpc::pb::etcdserverpb::kv_client::KvClient;
use raftkv::grpc::pb::etcdserverpb::lease_client::LeaseClient;
use raftkv::grpc::pb::etcdserverpb::watch_client::WatchClient;
use raftkv::grpc::pb::etcdserverpb::watch_request::RequestUnion;
use raftkv::grpc::pb::etcdserverpb::{
    LeaseGrantRequest, LeaseRevokeRequest, PutRequest, WatchCancelRequest, WatchCreateRequest,
    WatchRequest, WatchResponse,
};
use tonic::transport::Channel;
use tonic::Code;

use crate::support::Cluster;

const TIMEOUT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn channel(c: &Cluster, id: u64) -> Channel {
    let port = c.grpc_ports[id as usize - 1];
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("an endpoint")
        .timeout(TIMEOUT)
        .connect()
        .await
        .expect("connect to the node's gRPC port")
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
