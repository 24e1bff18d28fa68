//! Reaching a [`Cluster`]'s etcd v3 gRPC doors with the generated tonic clients: a runtime for
//! blocking tests and a channel to one node.

use std::time::Duration;

use tonic::transport::Channel;

use super::Cluster;

/// How long one gRPC call may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A two-thread runtime for a blocking test to `block_on`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A channel to node `id`'s gRPC port (plain text), each call bounded by [`TIMEOUT`].
pub async fn channel(c: &Cluster, id: u64) -> Channel {
    let port = c.grpc_ports[id as usize - 1];
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("an endpoint")
        .timeout(TIMEOUT)
        .connect()
        .await
        .expect("connect to the node's gRPC port")
}
