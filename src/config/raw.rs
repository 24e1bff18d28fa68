//! The file exactly as written: serde types that keep each value's byte span, so that checks made
//! after parsing can still name the line they complain about.

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    /// Optional: every key has a default, so a minimal file is only its `[[peers]]`.
    #[serde(default)]
    pub cluster: Option<Spanned<RawCluster>>,
    pub peers: Spanned<Vec<Spanned<RawPeer>>>,
    /// Optional: without it every client door speaks plain text.
    #[serde(default)]
    pub client_tls: Option<Spanned<RawClientTls>>,
}

/// The `[client_tls]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClientTls {
    pub cert_file: Spanned<String>,
    pub key_file: Spanned<String>,
    pub trusted_ca_file: Spanned<String>,
    #[serde(default)]
    pub client_cert_auth: bool,
}

/// The `[cluster]` table. Every key is optional; the defaults are the `DEFAULT_*` constants of
/// [`super`], and the README lists them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    #[serde(default)]
    pub tick_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub heartbeat_interval_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub election_timeout_min_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub election_timeout_max_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub data_dir: Option<Spanned<String>>,
    #[serde(default)]
    pub log_dir: Option<Spanned<String>>,
    #[serde(default)]
    pub max_value_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    pub request_timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub test_faults: bool,
    /// Default false: linearizable reads confirm leadership with a heartbeat round.
    #[serde(default)]
    pub lease_reads: Option<Spanned<bool>>,
    /// Default `<data_dir>/cluster.secret`.
    #[serde(default)]
    pub secret_file: Option<Spanned<String>>,
    /// Default `raftkv`.
    #[serde(default)]
    pub cluster_token: Option<Spanned<String>>,
    /// Default [`super::DEFAULT_MAX_IN_FLIGHT_REQUESTS`].
    #[serde(default)]
    pub max_in_flight_requests: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_SNAPSHOT_ENTRIES`].
    #[serde(default)]
    pub snapshot_entries: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_AUTO_COMPACTION_RETENTION`].
    #[serde(default)]
    pub auto_compaction_retention: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_SNAPSHOT_TRAILING_ENTRIES`].
    #[serde(default)]
    pub snapshot_trailing_entries: Option<Spanned<u64>>,
    /// Default: never rotate.
    #[serde(default)]
    pub txlog_rotate_bytes: Option<Spanned<u64>>,
    /// Default: keep every rotated file.
    #[serde(default)]
    pub txlog_keep_files: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_MAX_CONNECTIONS_PER_LISTENER`].
    #[serde(default)]
    pub max_connections_per_listener: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_MAX_TXN_OPS`].
    #[serde(default)]
    pub max_txn_ops: Option<Spanned<u64>>,
    /// Default 0 (`raft::Config::max_early_appends`).
    #[serde(default)]
    pub max_early_appends: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_AUTH_TOKEN_TTL_SECS`].
    #[serde(default)]
    pub auth_token_ttl_secs: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_MAX_WATCHES_PER_STREAM`].
    #[serde(default)]
    pub max_watches_per_stream: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_MAX_LEASES`].
    #[serde(default)]
    pub max_leases: Option<Spanned<u64>>,
    /// Default [`super::DEFAULT_MAX_KEY_BYTES`].
    #[serde(default)]
    pub max_key_bytes: Option<Spanned<u64>>,
    /// `"forward"` (default) or `"redirect"`.
    #[serde(default)]
    pub follower_requests: Option<Spanned<String>>,
    /// A host (e.g. `0.0.0.0`) every node binds its doors on, at the ports of its advertised
    /// addresses. Default: each node binds the addresses its peers and clients use.
    #[serde(default)]
    pub listen_host: Option<Spanned<String>>,
}

/// One `[[peers]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeer {
    pub id: Spanned<u64>,
    pub raft: Spanned<String>,
    pub http: Spanned<String>,
    pub text: Spanned<String>,
    /// The etcd v3 gRPC API; a peer without one serves no gRPC.
    #[serde(default)]
    pub grpc: Option<Spanned<String>>,
    /// Where this peer binds each door when that is not its advertised address (etcd's
    /// `--listen-*-urls` beside `--advertise-*`); each overrides `[cluster] listen_host`.
    #[serde(default)]
    pub listen_raft: Option<Spanned<String>>,
    #[serde(default)]
    pub listen_http: Option<Spanned<String>>,
    #[serde(default)]
    pub listen_text: Option<Spanned<String>>,
    #[serde(default)]
    pub listen_grpc: Option<Spanned<String>>,
}
