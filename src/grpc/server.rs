//! Serving the etcd services on a node's `grpc` address, on a runtime of their own (so gRPC work
//! never runs on the replicator's thread).

use std::net::TcpListener;
use std::thread::JoinHandle;

use super::auth::AuthService;
use super::cluster::ClusterService;
use super::context::EtcdContext;
use super::kv::KvService;
use super::lease::LeaseService;
use super::maintenance::MaintenanceService;
use super::pb::etcdserverpb::auth_server::AuthServer;
use super::pb::etcdserverpb::cluster_server::ClusterServer;
use super::pb::etcdserverpb::kv_server::KvServer;
use super::pb::etcdserverpb::lease_server::LeaseServer;
use super::pb::etcdserverpb::maintenance_server::MaintenanceServer;
use super::pb::etcdserverpb::watch_server::WatchServer;
use super::watch::WatchService;

/// Worker threads of the gRPC runtime.
const WORKERS: usize = 2;

/// The largest request a client may send: a value of `max_value_bytes` plus room for its key and
/// the message around it, and never less than etcd's 1.5 MiB.
fn max_request_bytes(ctx: &EtcdContext) -> usize {
    let value = ctx.config.cluster().max_value_bytes as usize;
    (value + (64 << 10)).max(3 << 19)
}

/// Serves every etcd service on `listener` from a thread of its own until the process ends.
pub fn spawn(listener: TcpListener, ctx: EtcdContext) -> std::io::Result<JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("raftkv-grpc")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("raftkv-grpc".into())
        .spawn(move || {
            runtime.block_on(async move {
                let addr = listener.local_addr().ok();
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        log::error!("gRPC: cannot listen: {e}");
                        return;
                    }
                };
                let limit = max_request_bytes(&ctx);
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                let served = tonic::transport::Server::builder()
                    .add_service(
                        KvServer::new(KvService(ctx.clone())).max_decoding_message_size(limit),
                    )
                    .add_service(WatchServer::new(WatchService(ctx.clone())))
                    .add_service(LeaseServer::new(LeaseService(ctx.clone())))
                    .add_service(ClusterServer::new(ClusterService(ctx.clone())))
                    .add_service(MaintenanceServer::new(MaintenanceService(ctx.clone())))
                    .add_service(AuthServer::new(AuthService))
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(e) = served {
                    log::error!("gRPC server on {addr:?} stopped: {e}");
                }
            })
        })
}
