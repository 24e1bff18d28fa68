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
use crate::security::ConnectionLimit;

/// How often an idle connection is pinged; one silent this long after a ping is closed.
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Worker threads of the gRPC runtime.
const WORKERS: usize = 2;

/// The largest request a client may send: a value of `max_value_bytes` plus room for its key and
/// the message around it, and never less than etcd's 1.5 MiB.
fn max_request_bytes(ctx: &EtcdContext) -> usize {
    let value = ctx.config.cluster().max_value_bytes as usize;
    (value + (64 << 10)).max(3 << 19)
}

/// Serves every etcd service on `listener` from a thread of its own until the process ends, with
/// TLS if the config has `[client_tls]`, holding at most `limit` connections.
pub fn spawn(
    listener: TcpListener,
    ctx: EtcdContext,
    limit: ConnectionLimit,
) -> std::io::Result<JoinHandle<()>> {
    let tls = match ctx.config.client_tls() {
        Some(tls) => Some(server_tls(tls)?),
        None => None,
    };
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
                let max_bytes = max_request_bytes(&ctx);
                let incoming = limited(listener, limit);
                let mut builder = tonic::transport::Server::builder()
                    .timeout(ctx.config.request_timeout() * 4)
                    .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
                    .http2_keepalive_timeout(Some(KEEPALIVE_INTERVAL));
                if let Some(tls) = tls {
                    builder = match builder.tls_config(tls) {
                        Ok(b) => b,
                        Err(e) => {
                            log::error!("gRPC: bad TLS configuration: {e}");
                            return;
                        }
                    };
                }
                let identify = {
                    let ctx = ctx.clone();
                    move |mut request: tonic::Request<()>| {
                        let name = request
                            .peer_certs()
                            .and_then(|chain| crate::security::cert::common_name(&chain));
                        ctx.identify_by_certificate(request.metadata_mut(), name);
                        Ok(request)
                    }
                };
                let served = builder
                    .layer(tonic::service::InterceptorLayer::new(identify))
                    .add_service(
                        KvServer::new(KvService(ctx.clone())).max_decoding_message_size(max_bytes),
                    )
                    .add_service(WatchServer::new(WatchService(ctx.clone())))
                    .add_service(LeaseServer::new(LeaseService(ctx.clone())))
                    .add_service(ClusterServer::new(ClusterService(ctx.clone())))
                    .add_service(MaintenanceServer::new(MaintenanceService(ctx.clone())))
                    .add_service(AuthServer::new(AuthService(ctx.clone())))
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(e) = served {
                    log::error!("gRPC server on {addr:?} stopped: {e}");
                }
            })
        })
}

/// tonic's TLS settings from the `[client_tls]` files (checked when the config was loaded).
fn server_tls(
    tls: &crate::security::ClientTls,
) -> std::io::Result<tonic::transport::ServerTlsConfig> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let identity = Identity::from_pem(
        std::fs::read(&tls.cert_file)?,
        std::fs::read(&tls.key_file)?,
    );
    let mut config = ServerTlsConfig::new().identity(identity);
    if tls.client_cert_auth {
        config = config.client_ca_root(Certificate::from_pem(std::fs::read(&tls.trusted_ca_file)?));
    }
    Ok(config)
}

/// The accepted connections, past `limit` open ones closed at once (the client sees the
/// connection reset and retries elsewhere or later).
fn limited(
    listener: tokio::net::TcpListener,
    limit: ConnectionLimit,
) -> impl futures::Stream<Item = std::io::Result<Limited>> {
    futures::stream::unfold((listener, limit), |(listener, limit)| async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let Some(permit) = limit.try_open() else {
                        log::debug!("gRPC: refusing {peer}: {} connections open", limit.limit());
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let item = Limited {
                        stream,
                        _permit: permit,
                    };
                    return Some((Ok(item), (listener, limit)));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    log::warn!("gRPC: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// An accepted connection holding its place under the limit until it closes.
pub struct Limited {
    stream: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl tonic::transport::server::Connected for Limited {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl tokio::io::AsyncRead for Limited {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Limited {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
