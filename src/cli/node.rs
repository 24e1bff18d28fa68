//! `raftkv node --id N --config FILE`: run one node (replicator + HTTP API + text protocol) until
//! stopped.

use std::path::Path;
use std::sync::Arc;

use actix::prelude::*;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::grpc::EtcdContext;
use crate::raft::{NodeId, Role};
use crate::replicator::admission::Admission;
use crate::replicator::{GetStatus, Replicator, TransferLeadership};
use crate::text::{self, TextContext};

/// Threads serving HTTP.
const HTTP_WORKERS: usize = 2;

/// Exit code for a node that could not start (bad config, data dir unusable or locked by another
/// node, port in use).
pub const EXIT_START_FAILURE: i32 = 2;

/// Runs node `id` of the cluster described by `config_path` (or the embedded default); returns the
/// process exit code.
///
/// `join`: the node was not in the initial cluster; with a new data directory it waits to be
/// added by a leader (`raftkv member add`) instead of forming a cluster of the file's peers.
pub fn run_node(id: NodeId, config_path: Option<&Path>, join: bool) -> i32 {
    let config = match config_path {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("raftkv: {e}");
                return EXIT_START_FAILURE;
            }
        },
        None => Config::default_cluster(),
    };
    let config = Arc::new(config);
    let system = System::new();
    let started = system.block_on(start(id, Arc::clone(&config), join));
    let server = match started {
        Ok(server) => server,
        Err(e) => {
            eprintln!("raftkv: node {id}: {e}");
            return EXIT_START_FAILURE;
        }
    };
    system.runtime().spawn(server);
    match system.run_with_code() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("raftkv: node {id}: {e}");
            1
        }
    }
}

/// The id of the peer named `name` in the config at `config_path` (or the embedded default).
pub fn id_named(config_path: Option<&Path>, name: &str) -> Result<NodeId, String> {
    let config = match config_path {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default_cluster(),
    };
    config.node_named(name).map_err(|e| e.to_string())
}

/// Builds and starts the replicator and its HTTP server; the returned future runs the server.
async fn start(
    id: NodeId,
    config: Arc<Config>,
    join: bool,
) -> Result<actix_web::dev::Server, Box<dyn std::error::Error>> {
    // Every port is bound before the actor starts: once it runs, nothing here may fail (an actor
    // dropped outside its runtime panics instead of exiting with a clear message).
    // Each door binds its listen address, which is the advertised one unless the config says
    // otherwise (`listen_host`, `listen_*`).
    let listen = config.node(id)?.listen.clone();
    let http = listen.http.to_string();
    let http_listener =
        std::net::TcpListener::bind(&http).map_err(|e| format!("cannot listen on {http}: {e}"))?;
    let text = &listen.text;
    let text_listener = text::bind(text).map_err(|e| format!("cannot listen on {text}: {e}"))?;
    let grpc = listen.grpc.clone();
    let grpc_listener = match &grpc {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr.to_string())
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
        ),
        None => None,
    };
    let replicator = if join {
        Replicator::join(id, Arc::clone(&config))?
    } else {
        Replicator::with_config(id, Arc::clone(&config))?
    };
    let directory = replicator.directory();
    let metrics = replicator.metrics();
    let feed = replicator.etcd_feed();
    let auth = crate::security::Authenticator::new(
        feed.auth.clone(),
        std::time::Duration::from_secs(config.cluster().auth_token_ttl_secs),
    );
    // Each client door holds at most this many connections, within the open-files limit.
    let open_files = crate::security::limits::raise_open_files_limit();
    let doors = 2 + usize::from(grpc_listener.is_some());
    let per_door = crate::security::limits::per_listener(
        config.cluster().max_connections_per_listener,
        doors,
        open_files,
    );
    if per_door < config.cluster().max_connections_per_listener {
        log::warn!(
            "node {id}: {per_door} connections per client door, not {}: the open-files limit is {open_files}",
            config.cluster().max_connections_per_listener
        );
    }
    let tls = match config.client_tls() {
        Some(tls) => Some(tls.server_config(&[b"h2", b"http/1.1"])?),
        None => None,
    };
    let replicator = replicator.start();
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let admission = Admission::new(config.cluster().max_in_flight_requests);
    let state = ApiState {
        replicator: replicator.clone(),
        config: Arc::clone(&config),
        id,
        metrics,
        admission: admission.clone(),
        directory: directory.clone(),
        auth: auth.clone(),
        peer_keys: Arc::new(config.peer_keys()?),
        stopping,
    };
    let etcd = EtcdContext::new(
        replicator.clone(),
        Arc::clone(&config),
        id,
        feed,
        directory.clone(),
        admission.clone(),
        auth.clone(),
    );
    let gateway = etcd.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::Data::new(gateway.clone()))
            .wrap(from_fn(api::forward_to_leader))
            .wrap(from_fn(api::count_responses))
            .configure(api::routes)
    })
    .on_connect(api::remember_peer_name)
    .workers(HTTP_WORKERS)
    .max_connections(per_door.div_ceil(HTTP_WORKERS))
    .client_request_timeout(std::time::Duration::from_secs(10))
    .disable_signals();
    let server = match tls {
        None => server.listen(http_listener),
        Some(tls) => server.listen_rustls_0_23(http_listener, (*tls).clone()),
    }
    .map_err(|e| format!("cannot listen on {http}: {e}"))?
    .run();
    log::info!(
        "node {id}: serving HTTP on {}://{http}",
        config.http_scheme()
    );
    text::spawn(
        text_listener,
        TextContext {
            replicator: replicator.clone(),
            config: Arc::clone(&config),
            admission,
            directory,
            auth,
            connections: crate::security::ConnectionLimit::new(per_door),
        },
    );
    log::info!("node {id}: serving the text protocol on {text}");
    if let (Some(listener), Some(addr)) = (grpc_listener, grpc) {
        let limit = crate::security::ConnectionLimit::new(per_door);
        crate::grpc::spawn(listener, etcd, limit).map_err(|e| format!("cannot serve gRPC: {e}"))?;
        log::info!("node {id}: serving the etcd v3 API (gRPC) on {addr}");
    }
    let handle = server.handle();
    actix::spawn(shutdown_on_signal(replicator, handle, stopping_tx));
    Ok(server)
}

/// On SIGINT or SIGTERM: hand leadership away if held, then stop the server and the node.
async fn shutdown_on_signal(
    replicator: Addr<Replicator>,
    server: actix_web::dev::ServerHandle,
    stopping: tokio::sync::watch::Sender<bool>,
) {
    wait_for_signal().await;
    let _ = stopping.send(true);
    log::info!("stopping: transferring leadership if held");
    let _ = replicator.send(TransferLeadership(None)).await;
    // The target campaigns at once on TimeoutNow; wait (bounded) until this node has stepped down so
    // clients are not left without a leader for an election timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        match replicator.send(GetStatus).await {
            Ok(s) if s.role == Role::Leader => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            _ => break,
        }
    }
    server.stop(true).await;
    System::current().stop();
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => futures::future::pending::<()>().await,
    }
}
