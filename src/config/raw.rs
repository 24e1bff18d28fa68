//! The file exactly as written: serde types that keep each value's byte span, so that checks made
//! after parsing can still name the line they complain about.

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub cluster: Spanned<RawCluster>,
    pub peers: Spanned<Vec<Spanned<RawPeer>>>,
}

/// The `[cluster]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub tick_ms: Spanned<u64>,
    pub heartbeat_interval_ms: Spanned<u64>,
    pub election_timeout_min_ms: Spanned<u64>,
    pub election_timeout_max_ms: Spanned<u64>,
    pub data_dir: Spanned<String>,
    pub log_dir: Spanned<String>,
    pub max_value_bytes: Spanned<u64>,
    pub request_timeout_ms: Spanned<u64>,
    #[serde(default)]
    pub test_faults: bool,
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
    /// Default [`super::DEFAULT_SNAPSHOT_TRAILING_ENTRIES`].
    #[serde(default)]
    pub snapshot_trailing_entries: Option<Spanned<u64>>,
    /// Default: never rotate.
    #[serde(default)]
    pub txlog_rotate_bytes: Option<Spanned<u64>>,
    /// Default: keep every rotated file.
    #[serde(default)]
    pub txlog_keep_files: Option<Spanned<u64>>,
    /// `"forward"` (default) or `"redirect"`.
    #[serde(default)]
    pub follower_requests: Option<Spanned<String>>,
}

/// One `[[peers]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeer {
    pub id: Spanned<u64>,
    pub raft: Spanned<String>,
    pub http: Spanned<String>,
    pub text: Spanned<String>,
}
