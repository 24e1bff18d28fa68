//! The cluster's TOML configuration: read once, validated once, with errors that name the file, the
//! line and the field (`config/x.toml:7: cluster.heartbeat_interval_ms: expected an integer, found a
//! string`).
//!
//! One file describes the whole cluster; every node reads the same file and picks its own entry
//! with [`Config::node`]. Times are milliseconds here, at the edge; [`Config::raft_core_config`]
//! turns them into the logical ticks the core counts.
//!
//! Every `[cluster]` key has a default (the `DEFAULT_*` constants below), so a minimal file is only
//! its `[[peers]]`. Relative `data_dir`, `log_dir` and `secret_file` resolve against the directory
//! of the config file, not the current directory, so a node finds the same data wherever it is
//! started from: the shipped `config/three.toml` says `data_dir = "../data"`, which is `data/` at
//! the repository root. The embedded default behaves as the file `config/cluster.toml` would.

mod address;
mod error;
mod locate;
mod raw;
pub mod secret;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use address::Address;
pub use error::ConfigError;

use crate::raft::{self, NodeId};

/// The shipped five-node cluster, `config/cluster.toml`, compiled in.
const DEFAULT_CLUSTER_TOML: &str = include_str!("../config/cluster.toml");
const DEFAULT_CLUSTER_PATH: &str = "config/cluster.toml";

/// `tick_ms` when not set.
pub const DEFAULT_TICK_MS: u64 = 10;
/// `heartbeat_interval_ms` when not set.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 50;
/// `election_timeout_min_ms` and `election_timeout_max_ms` when not set: six to twelve
/// heartbeats, so a few lost heartbeats never start an election.
pub const DEFAULT_ELECTION_TIMEOUT_MS: (u64, u64) = (300, 600);
/// `data_dir` when not set (relative to the config file's directory).
pub const DEFAULT_DATA_DIR: &str = "data";
/// `log_dir` when not set (relative to the config file's directory).
pub const DEFAULT_LOG_DIR: &str = "logs";
/// `max_value_bytes` when not set: 1 MiB, etcd's default request limit is about the same.
pub const DEFAULT_MAX_VALUE_BYTES: u64 = 1 << 20;
/// `request_timeout_ms` when not set.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 3000;

/// Upper bound on `max_value_bytes`: a value must fit in one network frame with room to spare
/// (the cluster layer's default frame limit is twice this).
pub const MAX_VALUE_BYTES_LIMIT: u64 = 32 << 20;

/// The secret file's name inside `data_dir` when `secret_file` is not set.
pub const DEFAULT_SECRET_FILE_NAME: &str = "cluster.secret";
/// `max_in_flight_requests` when not set: far above the 1,024 closed-loop clients a node is
/// expected to serve at once, far below what would exhaust memory (a request holds a few KiB).
pub const DEFAULT_MAX_IN_FLIGHT_REQUESTS: usize = 8192;
/// Upper bound on `max_in_flight_requests`.
pub const MAX_IN_FLIGHT_REQUESTS_LIMIT: u64 = 1 << 20;
/// `snapshot_entries` when not set: a snapshot after this many applied entries. With the
/// shipped timing and 256-byte values that is every 15 MiB of log or so, which bounds the WAL,
/// the in-memory log and a restart's replay.
pub const DEFAULT_SNAPSHOT_ENTRIES: u64 = 50_000;
/// Allowed `snapshot_entries`.
pub const SNAPSHOT_ENTRIES_RANGE: std::ops::RangeInclusive<u64> = 100..=100_000_000;
/// `snapshot_trailing_entries` when not set: entries kept in memory behind a snapshot, so a
/// follower a little behind gets entries instead of a whole snapshot.
pub const DEFAULT_SNAPSHOT_TRAILING_ENTRIES: u64 = 5_000;
/// `auto_compaction_retention` when not set: revisions of key-value history kept (for `get --rev`
/// and watches from an older revision); memory grows with it.
pub const DEFAULT_AUTO_COMPACTION_RETENTION: u64 = 10_000;
/// Upper bound on `auto_compaction_retention`.
pub const AUTO_COMPACTION_RETENTION_LIMIT: u64 = 1 << 40;
/// `max_connections_per_listener` when not set: each client door (HTTP, gRPC, text) holds at most
/// this many connections; a node lowers it to fit its open-files limit.
pub const DEFAULT_MAX_CONNECTIONS_PER_LISTENER: u64 = 4096;
/// `max_txn_ops` when not set: etcd's `--max-txn-ops` default.
pub const DEFAULT_MAX_TXN_OPS: u64 = 128;
/// `max_watches_per_stream` when not set: watches one gRPC Watch stream may hold at once. A
/// watch costs its key range and a cursor (about 100 bytes plus its keys), so 1,024 per stream
/// keeps a stream's watches under a few MiB whatever the client asks.
pub const DEFAULT_MAX_WATCHES_PER_STREAM: u64 = 1024;
/// `max_leases` when not set: etcd leases that may exist at once. etcd has no such limit, but
/// every node keeps each lease (about 80 bytes without its keys) and the leader keeps its
/// deadline (about 35 bytes) and walks all of them every 100 ms to find the expired ones.
/// Measured with 100,000 leases (test build): 8 MiB of state, 3.4 MiB of deadlines, and a walk
/// of 17 ms, a sixth of the actor's time; 10,000 keep the walk near 2 ms and still give every one
/// of 1,024 clients several leases (a session, an election, a lock).
pub const DEFAULT_MAX_LEASES: u64 = 10_000;
/// Upper bound on `max_leases`: past it the leader's walk over every lease would take most of
/// its 100 ms timer.
pub const MAX_LEASES_LIMIT: u64 = 100_000;
/// `max_key_bytes` when not set: the longest key (or range end) a client may write or name,
/// in bytes. etcd bounds keys only by its 1.5 MiB request limit; memcached allows 250 bytes,
/// FoundationDB 10,000. Every kept revision, watch event and transaction-log line carries the
/// key, so 8 KiB leaves room for any path-like key while keeping a key at most 1/128 of the
/// default value limit.
pub const DEFAULT_MAX_KEY_BYTES: u64 = 8 << 10;
/// Upper bound on `max_key_bytes`: a key must fit the 64 KiB a gRPC request has beside its
/// value, and an HTTP request head (128 KiB in actix-web) even percent-encoded, 3 bytes a byte.
pub const MAX_KEY_BYTES_LIMIT: u64 = 32 << 10;
/// `auth_token_ttl_secs` when not set: etcd's simple-token time to live.
pub const DEFAULT_AUTH_TOKEN_TTL_SECS: u64 = 300;
/// `cluster_token` when not set.
pub const DEFAULT_CLUSTER_TOKEN: &str = "raftkv";

/// A validated cluster configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file name used in messages.
    path: String,
    cluster: ClusterSettings,
    /// In file order; ids and addresses unique.
    peers: Vec<PeerConfig>,
    /// Line of the first `[[peers]]` entry, for errors about the list as a whole.
    peers_line: usize,
    /// Line of each peer's `raft` address, parallel to `peers`, for errors found after loading.
    raft_lines: Vec<usize>,
    /// `[client_tls]`: `None` when the client doors speak plain text.
    client_tls: Option<crate::security::ClientTls>,
}

/// The `[cluster]` table. Invariant (checked at load): `tick_ms <= heartbeat_interval_ms <
/// election_timeout_min_ms < election_timeout_max_ms`, and the same strict order holds after
/// rounding each to whole ticks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The core's logical tick.
    pub tick_ms: u64,
    /// A leader's heartbeat period.
    pub heartbeat_interval_ms: u64,
    /// Followers wait a random time in `[min, max)` without a leader before campaigning.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Each node keeps its durable state in `<data_dir>/node-<id>`.
    pub data_dir: PathBuf,
    /// Each node writes its transaction log to `<log_dir>/node-<id>.log`.
    pub log_dir: PathBuf,
    /// Largest value a client may store; at most [`MAX_VALUE_BYTES_LIMIT`].
    pub max_value_bytes: u64,
    /// How long a client request may wait for commit before it fails.
    pub request_timeout_ms: u64,
    /// Expose the test-only switch that blocks traffic to chosen peers.
    pub test_faults: bool,
    /// Linearizable reads on the leader skip the heartbeat round while its lease holds
    /// (`raft::Config::lease_reads`; the README's "Leader-lease reads" says when that is safe).
    pub lease_reads: bool,
    /// The cluster secret peers seal their frames with (default `<data_dir>/cluster.secret`).
    pub secret_file: PathBuf,
    /// The line of `secret_file` in the file, if it was written there.
    pub secret_file_line: Option<usize>,
    /// Client requests (proposals and reads) a node holds at once; beyond it a request is
    /// refused at once with "overloaded" (HTTP 429, text `ERR_OVERLOADED`).
    pub max_in_flight_requests: usize,
    /// A node snapshots its state machine after this many entries applied since its last
    /// snapshot, then compacts its log (default [`DEFAULT_SNAPSHOT_ENTRIES`]).
    pub snapshot_entries: u64,
    /// Entries kept behind the newest snapshot for slow followers
    /// (default [`DEFAULT_SNAPSHOT_TRAILING_ENTRIES`]).
    pub snapshot_trailing_entries: u64,
    /// Revisions of key-value history kept for reads at older revisions and watches; the leader
    /// compacts the rest (etcd's `--auto-compaction-mode=revision`; 0: never compact;
    /// default [`DEFAULT_AUTO_COMPACTION_RETENTION`]).
    pub auto_compaction_retention: u64,
    /// Transaction log rotation: `txlog_rotate_bytes` (default: never) and `txlog_keep_files`
    /// (rotated files kept; default: all).
    pub txlog: crate::state::TxLogOptions,
    /// Separates clusters that share a secret, as etcd's `--initial-cluster-token` (default
    /// `raftkv`); part of the cluster id every peer frame is bound to.
    pub cluster_token: String,
    /// What a follower does with an HTTP request only the leader can serve (default
    /// [`FollowerRequests::Forward`]).
    pub follower_requests: FollowerRequests,
    /// Open connections each client listener holds at most (default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_LISTENER`]).
    pub max_connections_per_listener: usize,
    /// Operations one etcd transaction may hold, compares and both branches counted apart, as
    /// etcd counts them (default [`DEFAULT_MAX_TXN_OPS`]).
    pub max_txn_ops: usize,
    /// How long an auth token is valid (default [`DEFAULT_AUTH_TOKEN_TTL_SECS`]).
    pub auth_token_ttl_secs: u64,
    /// Watches one gRPC Watch stream holds at most; a create past it is cancelled with the
    /// reason (default [`DEFAULT_MAX_WATCHES_PER_STREAM`]).
    pub max_watches_per_stream: usize,
    /// etcd leases that may exist at once; the leader refuses a grant past it with
    /// RESOURCE_EXHAUSTED (default [`DEFAULT_MAX_LEASES`]).
    pub max_leases: usize,
    /// The longest key or range end, in bytes, a client may write or name through any door
    /// (default [`DEFAULT_MAX_KEY_BYTES`], at most [`MAX_KEY_BYTES_LIMIT`]).
    pub max_key_bytes: usize,
    /// Appends a follower keeps when they arrive before the one they continue, to replay once
    /// the gap fills (`raft::Config::max_early_appends`; default 0: rejected at once, and the
    /// leader probes back). Peer links keep order, so on a real network a gap means a lost
    /// message, not a reordered one.
    pub max_early_appends: usize,
}

/// What a follower does with an HTTP request only the leader can serve (a write, a member
/// change, a linearizable read it cannot confirm itself, a snapshot download). The text
/// protocol always answers `ERR_REDIRECT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FollowerRequests {
    /// Send it on to the leader and relay the leader's answer, as etcd and Consul do: a client
    /// behind a load balancer or a proxy that does not follow redirects is served.
    #[default]
    Forward,
    /// Answer 307 with the leader's URL in `Location`; the client follows it.
    Redirect,
}

impl FollowerRequests {
    /// The value as written in the config file (and in the per-request header).
    pub fn name(self) -> &'static str {
        match self {
            FollowerRequests::Forward => "forward",
            FollowerRequests::Redirect => "redirect",
        }
    }

    /// Parses a config value or header value; `None` if it is neither name.
    pub fn from_name(name: &str) -> Option<FollowerRequests> {
        match name.trim() {
            "forward" => Some(FollowerRequests::Forward),
            "redirect" => Some(FollowerRequests::Redirect),
            _ => None,
        }
    }
}

/// One `[[peers]]` entry: a member, the addresses its peers and clients reach it at (its
/// advertised addresses, unique in the file; host names are looked up each time a connection is
/// made), and the addresses it binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// Non-zero, unique in the file.
    pub id: NodeId,
    /// Raft traffic between nodes (ZeroMQ).
    pub raft: Address,
    /// The HTTP API.
    pub http: Address,
    /// The memcached-style text protocol.
    pub text: Address,
    /// The etcd v3 gRPC API (etcd's client port); `None`: this peer serves no gRPC.
    pub grpc: Option<Address>,
    /// Where the node binds each door: the advertised addresses unless `listen_*` or `[cluster]
    /// listen_host` say otherwise.
    pub listen: Listen,
}

/// The addresses a node binds, door by door (etcd's `--listen-*-urls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    pub raft: Address,
    pub http: Address,
    pub text: Address,
    /// `Some` exactly when the peer has a `grpc` address.
    pub grpc: Option<Address>,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text, &shown)
    }

    /// Parses and validates `text` as if it were read from the file `path`: `path` names it in
    /// errors, and relative directories resolve against `path`'s directory.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let raw = toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
        let base = Path::new(path).parent().unwrap_or(Path::new(""));
        validate::validate(path, text, base, raw)
    }

    /// The shipped five-node local cluster (`config/cluster.toml`), embedded in the binary.
    pub fn default_cluster() -> Config {
        // The embedded file is checked by a test; failing here is a build defect, not user error.
        Config::parse(DEFAULT_CLUSTER_TOML, DEFAULT_CLUSTER_PATH)
            .expect("the embedded config/cluster.toml is valid")
    }

    /// The file name this configuration was read from, as used in messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `[cluster]` settings.
    pub fn cluster(&self) -> &ClusterSettings {
        &self.cluster
    }

    /// The client TLS settings, if the doors speak TLS.
    pub fn client_tls(&self) -> Option<&crate::security::ClientTls> {
        self.client_tls.as_ref()
    }

    /// True when the client doors require verified client certificates (`[client_tls]
    /// client_cert_auth`); with auth on, a certificate's CN then names the caller.
    pub fn client_cert_auth(&self) -> bool {
        self.client_tls().is_some_and(|t| t.client_cert_auth)
    }

    /// The URL scheme of the HTTP door: `https` with client TLS on.
    pub fn http_scheme(&self) -> &'static str {
        if self.client_tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Every member, in file order.
    pub fn peers(&self) -> &[PeerConfig] {
        &self.peers
    }

    /// Every member's id, ascending.
    pub fn ids(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.peers.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids
    }

    /// The entry of node `id`, or an error naming the file and the ids it does define.
    pub fn node(&self, id: NodeId) -> Result<&PeerConfig, ConfigError> {
        self.peers
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ConfigError::Invalid {
                path: self.path.clone(),
                line: self.peers_line,
                field: Some("peers".to_string()),
                message: format!("no node with id {id}; the file defines {:?}", self.ids()),
            })
    }

    /// The id of the peer whose raft host is `name`, or begins with `name` and a dot (a pod's
    /// short host name for its fully qualified one); an error if none or several match.
    pub fn node_named(&self, name: &str) -> Result<NodeId, ConfigError> {
        let name = name.to_ascii_lowercase();
        let matches = |p: &&PeerConfig| {
            let host = p.raft.host();
            host == name
                || host
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        let found: Vec<NodeId> = self.peers.iter().filter(matches).map(|p| p.id).collect();
        match found.as_slice() {
            [id] => Ok(*id),
            _ => Err(ConfigError::Invalid {
                path: self.path.clone(),
                line: self.peers_line,
                field: Some("peers".to_string()),
                message: if found.is_empty() {
                    format!("no peer's raft address has the host name {name:?}")
                } else {
                    format!("the host name {name:?} matches the peers {found:?}; use --id")
                },
            }),
        }
    }

    /// The Raft address of every member, resolved (host names are looked up once, here).
    pub fn raft_addrs(&self) -> Result<BTreeMap<NodeId, SocketAddr>, ConfigError> {
        self.peers
            .iter()
            .zip(&self.raft_lines)
            .enumerate()
            .map(|(i, (p, &line))| {
                let addr = p.raft.resolve().map_err(|e| ConfigError::Invalid {
                    path: self.path.clone(),
                    line,
                    field: Some(format!("peers[{i}].raft")),
                    message: format!("cannot resolve {}: {e}", p.raft),
                })?;
                Ok((p.id, addr))
            })
            .collect()
    }

    /// The keys peer frames are sealed with: the secret file's secrets and the cluster id
    /// (from the token). The error names the config line and the secret file.
    pub fn peer_keys(&self) -> Result<crate::cluster::seal::PeerKeys, ConfigError> {
        use crate::cluster::seal::{cluster_id, PeerKeys};
        let invalid = |message: String| ConfigError::Invalid {
            path: self.path.clone(),
            line: self.cluster.secret_file_line.unwrap_or(1),
            field: Some("cluster.secret_file".to_string()),
            message,
        };
        let secrets = secret::read_secrets(&self.cluster.secret_file).map_err(invalid)?;
        let id = cluster_id(&self.cluster.cluster_token);
        PeerKeys::new(id, secrets)
            .ok_or_else(|| invalid("two secrets share a key id; generate a new one".to_string()))
    }

    /// Node `id`'s data directory, `<data_dir>/node-<id>`.
    pub fn data_dir_for(&self, id: NodeId) -> PathBuf {
        self.cluster.data_dir.join(format!("node-{id}"))
    }

    /// Node `id`'s transaction log file, `<log_dir>/node-<id>.log`.
    pub fn log_file_for(&self, id: NodeId) -> PathBuf {
        self.cluster.log_dir.join(format!("node-{id}.log"))
    }

    /// The period of the core's logical tick.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.cluster.tick_ms)
    }

    /// How long a client request may wait.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.cluster.request_timeout_ms)
    }

    /// The heartbeat period in ticks (rounded down).
    pub fn heartbeat_interval_ticks(&self) -> u32 {
        self.ms_to_ticks(self.cluster.heartbeat_interval_ms)
    }

    /// The shortest election timeout in ticks (rounded down).
    pub fn election_timeout_ticks_min(&self) -> u32 {
        self.ms_to_ticks(self.cluster.election_timeout_min_ms)
    }

    /// The longest election timeout in ticks (rounded down).
    pub fn election_timeout_ticks_max(&self) -> u32 {
        self.ms_to_ticks(self.cluster.election_timeout_max_ms)
    }

    /// Whole ticks in `ms`, rounded down.
    pub fn ms_to_ticks(&self, ms: u64) -> u32 {
        validate::ms_to_ticks(ms, self.cluster.tick_ms)
    }

    /// The core's configuration for node `id`: every member votes; timeouts in ticks; the other
    /// limits keep the core's defaults.
    pub fn raft_core_config(&self, id: NodeId) -> Result<raft::Config, ConfigError> {
        self.node(id)?;
        let mut core = raft::Config::new(id, self.ids());
        core.heartbeat_interval_ticks = self.heartbeat_interval_ticks();
        core.election_timeout_ticks_min = self.election_timeout_ticks_min();
        core.election_timeout_ticks_max = self.election_timeout_ticks_max();
        core.lease_reads = self.cluster.lease_reads;
        core.max_early_appends = self.cluster.max_early_appends;
        // Validation at load guarantees the tick order the core checks; a failure here is a bug.
        assert!(
            core.validate().is_ok(),
            "validated config yields a bad core config"
        );
        Ok(core)
    }
}
