//! Every check on a parsed file, each naming the line and field it rejects. Runs once, at load.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use toml::Spanned;

use super::raw::{RawCluster, RawFile, RawPeer};
use super::{
    Address, ClusterSettings, Config, ConfigError, Listen, PeerConfig, MAX_VALUE_BYTES_LIMIT,
};

/// Whole ticks in `ms` (rounded down), saturating at `u32::MAX`.
pub(super) fn ms_to_ticks(ms: u64, tick_ms: u64) -> u32 {
    debug_assert!(tick_ms > 0, "tick_ms is validated non-zero");
    u32::try_from(ms / tick_ms).unwrap_or(u32::MAX)
}

/// Reports errors against one file's text.
struct Checker<'a> {
    path: &'a str,
    text: &'a str,
    /// The `[cluster]` keys the file leaves out, so an error about one says its default applied.
    defaulted: Vec<&'static str>,
}

impl Checker<'_> {
    fn fail<T>(&self, value: &Spanned<T>, field: &str, message: String) -> Result<(), ConfigError> {
        let key = field.strip_prefix("cluster.").unwrap_or(field);
        let message = if self.defaulted.contains(&key) {
            format!("{message} (the key is not set, so its default applies)")
        } else {
            message
        };
        Err(ConfigError::at(
            self.path,
            self.text,
            value.span(),
            field,
            message,
        ))
    }

    fn line<T>(&self, value: &Spanned<T>) -> usize {
        super::locate::line_of(self.text, value.span().start)
    }
}

/// Turns the raw file into a [`Config`], or names the first problem found. Relative directories
/// and files resolve against `base`, the directory of the config file.
pub(super) fn validate(
    path: &str,
    text: &str,
    base: &Path,
    raw: RawFile,
) -> Result<Config, ConfigError> {
    let (header, mut cluster) = match raw.cluster {
        Some(c) => (c.span(), c.into_inner()),
        None => (0..0, RawCluster::default()),
    };
    let listen_host = cluster.listen_host.take();
    let (cluster, defaulted) = Filled::new(cluster, header);
    let check = Checker {
        path,
        text,
        defaulted,
    };
    let cluster = check_cluster(&check, base, cluster)?;
    let listen_host = listen_host
        .map(|host| check_listen_host(&check, &host).map(|()| host.into_inner()))
        .transpose()?;
    let (peers, raft_lines) = check_peers(&check, &raw.peers, listen_host.as_deref())?;
    let client_tls = raw
        .client_tls
        .map(|tls| check_client_tls(&check, base, tls.into_inner()))
        .transpose()?;
    let peers_line = raw
        .peers
        .get_ref()
        .first()
        .map_or_else(|| check.line(&raw.peers), |p| check.line(p));
    Ok(Config {
        path: path.to_string(),
        cluster,
        peers,
        peers_line,
        raft_lines,
        client_tls,
    })
}

/// The `[client_tls]` table: every file is read now, so a missing or unusable one names its line.
fn check_client_tls(
    check: &Checker<'_>,
    base: &Path,
    raw: super::raw::RawClientTls,
) -> Result<crate::security::ClientTls, ConfigError> {
    let files = [
        (&raw.cert_file, "client_tls.cert_file"),
        (&raw.key_file, "client_tls.key_file"),
        (&raw.trusted_ca_file, "client_tls.trusted_ca_file"),
    ];
    for (file, field) in files {
        if file.get_ref().trim().is_empty() {
            check.fail(file, field, "must name a file".into())?;
        }
    }
    let tls = crate::security::ClientTls {
        cert_file: resolve(base, raw.cert_file.get_ref()),
        key_file: resolve(base, raw.key_file.get_ref()),
        trusted_ca_file: resolve(base, raw.trusted_ca_file.get_ref()),
        client_cert_auth: raw.client_cert_auth,
    };
    let read = [
        (
            &raw.cert_file,
            "client_tls.cert_file",
            crate::security::tls::read_certs(&tls.cert_file).err(),
        ),
        (
            &raw.key_file,
            "client_tls.key_file",
            crate::security::tls::read_key(&tls.key_file).err(),
        ),
        (
            &raw.trusted_ca_file,
            "client_tls.trusted_ca_file",
            crate::security::tls::read_roots(&tls.trusted_ca_file).err(),
        ),
    ];
    for (file, field, error) in read {
        if let Some(message) = error {
            check.fail(file, field, message)?;
        }
    }
    if let Err(message) = tls.check() {
        check.fail(&raw.cert_file, "client_tls.cert_file", message)?;
    }
    Ok(tls)
}

/// The `[cluster]` keys that always have a value once defaults are filled in. A default carries the
/// span of the `[cluster]` header (the file's first line without one), so an error still names a line.
struct Filled {
    tick_ms: Spanned<u64>,
    heartbeat_interval_ms: Spanned<u64>,
    election_timeout_min_ms: Spanned<u64>,
    election_timeout_max_ms: Spanned<u64>,
    data_dir: Spanned<String>,
    log_dir: Spanned<String>,
    max_value_bytes: Spanned<u64>,
    request_timeout_ms: Spanned<u64>,
    rest: RawCluster,
}

impl Filled {
    fn new(mut raw: RawCluster, header: std::ops::Range<usize>) -> (Filled, Vec<&'static str>) {
        let mut defaulted = Vec::new();
        let mut fill = |value: Option<Spanned<u64>>, name: &'static str, default: u64| {
            value.unwrap_or_else(|| {
                defaulted.push(name);
                Spanned::new(header.clone(), default)
            })
        };
        let tick_ms = fill(raw.tick_ms.take(), "tick_ms", super::DEFAULT_TICK_MS);
        let heartbeat_interval_ms = fill(
            raw.heartbeat_interval_ms.take(),
            "heartbeat_interval_ms",
            super::DEFAULT_HEARTBEAT_INTERVAL_MS,
        );
        let election_timeout_min_ms = fill(
            raw.election_timeout_min_ms.take(),
            "election_timeout_min_ms",
            super::DEFAULT_ELECTION_TIMEOUT_MS.0,
        );
        let election_timeout_max_ms = fill(
            raw.election_timeout_max_ms.take(),
            "election_timeout_max_ms",
            super::DEFAULT_ELECTION_TIMEOUT_MS.1,
        );
        let max_value_bytes = fill(
            raw.max_value_bytes.take(),
            "max_value_bytes",
            super::DEFAULT_MAX_VALUE_BYTES,
        );
        let request_timeout_ms = fill(
            raw.request_timeout_ms.take(),
            "request_timeout_ms",
            super::DEFAULT_REQUEST_TIMEOUT_MS,
        );
        let dir = |value: Option<Spanned<String>>, default: &str| {
            value.unwrap_or_else(|| Spanned::new(header.clone(), default.to_string()))
        };
        let data_dir = dir(raw.data_dir.take(), super::DEFAULT_DATA_DIR);
        let log_dir = dir(raw.log_dir.take(), super::DEFAULT_LOG_DIR);
        let filled = Filled {
            tick_ms,
            heartbeat_interval_ms,
            election_timeout_min_ms,
            election_timeout_max_ms,
            data_dir,
            log_dir,
            max_value_bytes,
            request_timeout_ms,
            rest: raw,
        };
        (filled, defaulted)
    }
}

/// `relative` resolved against `base` and cleaned lexically (`config/../data` is `data`), so
/// messages show the path a person would write; an absolute path is kept as it is.
pub(super) fn resolve(base: &Path, relative: &str) -> PathBuf {
    let joined = base.join(relative);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn check_cluster(
    check: &Checker<'_>,
    base: &Path,
    raw: Filled,
) -> Result<ClusterSettings, ConfigError> {
    let tick = *raw.tick_ms.get_ref();
    if tick == 0 {
        check.fail(&raw.tick_ms, "cluster.tick_ms", "must be at least 1".into())?;
    }
    let heartbeat = &raw.heartbeat_interval_ms;
    let min = &raw.election_timeout_min_ms;
    let max = &raw.election_timeout_max_ms;
    if *heartbeat.get_ref() < tick {
        let msg = format!("must be at least one tick (tick_ms = {tick})");
        check.fail(heartbeat, "cluster.heartbeat_interval_ms", msg)?;
    }
    if min.get_ref() <= heartbeat.get_ref() {
        let msg = format!(
            "must exceed heartbeat_interval_ms ({}), or followers time out between heartbeats",
            heartbeat.get_ref()
        );
        check.fail(min, "cluster.election_timeout_min_ms", msg)?;
    }
    if max.get_ref() <= min.get_ref() {
        let msg = format!("must exceed election_timeout_min_ms ({})", min.get_ref());
        check.fail(max, "cluster.election_timeout_max_ms", msg)?;
    }
    check_ticks(check, &raw)?;
    let max_value = &raw.max_value_bytes;
    if !(1..=MAX_VALUE_BYTES_LIMIT).contains(max_value.get_ref()) {
        let msg = format!("must be between 1 and {MAX_VALUE_BYTES_LIMIT}");
        check.fail(max_value, "cluster.max_value_bytes", msg)?;
    }
    if *raw.request_timeout_ms.get_ref() == 0 {
        let msg = "must be at least 1".to_string();
        check.fail(&raw.request_timeout_ms, "cluster.request_timeout_ms", msg)?;
    }
    for (dir, field) in [
        (&raw.data_dir, "cluster.data_dir"),
        (&raw.log_dir, "cluster.log_dir"),
    ] {
        if dir.get_ref().trim().is_empty() {
            check.fail(dir, field, "must name a directory".into())?;
        }
    }
    let data_dir = resolve(base, raw.data_dir.get_ref());
    let log_dir = resolve(base, raw.log_dir.get_ref());
    let rest = raw.rest;
    if let Some(file) = &rest.secret_file {
        if file.get_ref().trim().is_empty() {
            check.fail(file, "cluster.secret_file", "must name a file".into())?;
        }
    }
    let secret_file = rest.secret_file.as_ref().map_or_else(
        || data_dir.join(super::DEFAULT_SECRET_FILE_NAME),
        |file| resolve(base, file.get_ref()),
    );
    let secret_file_line = rest.secret_file.as_ref().map(|f| check.line(f));
    if let Some(limit) = &rest.max_in_flight_requests {
        if !(1..=super::MAX_IN_FLIGHT_REQUESTS_LIMIT).contains(limit.get_ref()) {
            let msg = format!(
                "must be between 1 and {}",
                super::MAX_IN_FLIGHT_REQUESTS_LIMIT
            );
            check.fail(limit, "cluster.max_in_flight_requests", msg)?;
        }
    }
    let max_in_flight_requests = rest
        .max_in_flight_requests
        .as_ref()
        .map_or(super::DEFAULT_MAX_IN_FLIGHT_REQUESTS, |limit| {
            *limit.get_ref() as usize
        });
    let snapshot_entries = bounded(
        check,
        &rest.snapshot_entries,
        "cluster.snapshot_entries",
        super::SNAPSHOT_ENTRIES_RANGE,
        super::DEFAULT_SNAPSHOT_ENTRIES,
    )?;
    let auto_compaction_retention = bounded(
        check,
        &rest.auto_compaction_retention,
        "cluster.auto_compaction_retention",
        0..=super::AUTO_COMPACTION_RETENTION_LIMIT,
        super::DEFAULT_AUTO_COMPACTION_RETENTION,
    )?;
    let snapshot_trailing_entries = bounded(
        check,
        &rest.snapshot_trailing_entries,
        "cluster.snapshot_trailing_entries",
        0..=*super::SNAPSHOT_ENTRIES_RANGE.end(),
        super::DEFAULT_SNAPSHOT_TRAILING_ENTRIES,
    )?;
    let txlog_rotate_bytes = rest
        .txlog_rotate_bytes
        .as_ref()
        .map(|v| {
            let range = crate::state::TxLogOptions::MIN_ROTATE_BYTES..=u64::MAX;
            bounded(
                check,
                &Some(v.clone()),
                "cluster.txlog_rotate_bytes",
                range,
                0,
            )
        })
        .transpose()?;
    let txlog_keep_files = rest
        .txlog_keep_files
        .as_ref()
        .map(|v| {
            bounded(
                check,
                &Some(v.clone()),
                "cluster.txlog_keep_files",
                1..=1_000_000,
                0,
            )
        })
        .transpose()?
        .map(|n| n as usize);
    let follower_requests = match &rest.follower_requests {
        None => super::FollowerRequests::default(),
        Some(v) => match super::FollowerRequests::from_name(v.get_ref()) {
            Some(mode) => mode,
            None => {
                let msg = format!("must be \"forward\" or \"redirect\", not {:?}", v.get_ref());
                return Err(ConfigError::at(
                    check.path,
                    check.text,
                    v.span(),
                    "cluster.follower_requests",
                    msg,
                ));
            }
        },
    };
    let lease_reads = match &rest.lease_reads {
        Some(flag) if *flag.get_ref() => {
            let min = ms_to_ticks(
                *raw.election_timeout_min_ms.get_ref(),
                *raw.tick_ms.get_ref(),
            );
            if crate::raft::Config::lease_ticks_for(min) == 0 {
                let msg = "needs an election_timeout_min_ms of at least 5 ticks".to_string();
                check.fail(flag, "cluster.lease_reads", msg)?;
            }
            true
        }
        _ => false,
    };
    let max_connections_per_listener = bounded(
        check,
        &rest.max_connections_per_listener,
        "cluster.max_connections_per_listener",
        1..=1_000_000,
        super::DEFAULT_MAX_CONNECTIONS_PER_LISTENER,
    )? as usize;
    let max_txn_ops = bounded(
        check,
        &rest.max_txn_ops,
        "cluster.max_txn_ops",
        1..=100_000,
        super::DEFAULT_MAX_TXN_OPS,
    )? as usize;
    let max_early_appends = bounded(
        check,
        &rest.max_early_appends,
        "cluster.max_early_appends",
        0..=MAX_EARLY_APPENDS,
        0,
    )? as usize;
    let auth_token_ttl_secs = bounded(
        check,
        &rest.auth_token_ttl_secs,
        "cluster.auth_token_ttl_secs",
        1..=30 * 24 * 3600,
        super::DEFAULT_AUTH_TOKEN_TTL_SECS,
    )?;
    let max_watches_per_stream = bounded(
        check,
        &rest.max_watches_per_stream,
        "cluster.max_watches_per_stream",
        1..=100_000,
        super::DEFAULT_MAX_WATCHES_PER_STREAM,
    )? as usize;
    let max_leases = bounded(
        check,
        &rest.max_leases,
        "cluster.max_leases",
        1..=super::MAX_LEASES_LIMIT,
        super::DEFAULT_MAX_LEASES,
    )? as usize;
    let max_key_bytes = bounded(
        check,
        &rest.max_key_bytes,
        "cluster.max_key_bytes",
        1..=super::MAX_KEY_BYTES_LIMIT,
        super::DEFAULT_MAX_KEY_BYTES,
    )? as usize;
    let cluster_token = rest.cluster_token.map_or_else(
        || super::DEFAULT_CLUSTER_TOKEN.to_string(),
        Spanned::into_inner,
    );
    Ok(ClusterSettings {
        max_early_appends,
        max_connections_per_listener,
        max_txn_ops,
        auth_token_ttl_secs,
        max_watches_per_stream,
        max_leases,
        max_key_bytes,
        max_in_flight_requests,
        snapshot_entries,
        snapshot_trailing_entries,
        auto_compaction_retention,
        txlog: crate::state::TxLogOptions {
            rotate_bytes: txlog_rotate_bytes,
            keep_files: txlog_keep_files,
        },
        secret_file,
        secret_file_line,
        cluster_token,
        follower_requests,
        tick_ms: tick,
        heartbeat_interval_ms: raw.heartbeat_interval_ms.into_inner(),
        election_timeout_min_ms: raw.election_timeout_min_ms.into_inner(),
        election_timeout_max_ms: raw.election_timeout_max_ms.into_inner(),
        data_dir,
        log_dir,
        max_value_bytes: raw.max_value_bytes.into_inner(),
        request_timeout_ms: raw.request_timeout_ms.into_inner(),
        test_faults: rest.test_faults,
        lease_reads,
    })
}

/// Upper bound on `max_early_appends`: each kept Append holds its entries in memory.
const MAX_EARLY_APPENDS: u64 = 64;

/// The core counts whole ticks: the strict order heartbeat < min < max must survive rounding down.
/// An optional integer field: its default when absent, an error naming it when outside `range`.
fn bounded(
    check: &Checker<'_>,
    value: &Option<Spanned<u64>>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(v) = value else {
        return Ok(default);
    };
    if !range.contains(v.get_ref()) {
        let msg = format!("must be between {} and {}", range.start(), range.end());
        check.fail(v, field, msg)?;
    }
    Ok(*v.get_ref())
}

fn check_ticks(check: &Checker<'_>, raw: &Filled) -> Result<(), ConfigError> {
    let tick = *raw.tick_ms.get_ref();
    let ticks = |v: &Spanned<u64>| ms_to_ticks(*v.get_ref(), tick);
    let (heartbeat, min, max) = (
        ticks(&raw.heartbeat_interval_ms),
        ticks(&raw.election_timeout_min_ms),
        ticks(&raw.election_timeout_max_ms),
    );
    if min <= heartbeat {
        let msg = format!(
            "is {min} whole ticks of {tick} ms, not more than the heartbeat's {heartbeat}; \
             use a smaller tick_ms or a longer timeout"
        );
        check.fail(
            &raw.election_timeout_min_ms,
            "cluster.election_timeout_min_ms",
            msg,
        )?;
    }
    if max <= min {
        let msg = format!("is {max} whole ticks of {tick} ms, not more than the minimum's {min}");
        check.fail(
            &raw.election_timeout_max_ms,
            "cluster.election_timeout_max_ms",
            msg,
        )?;
    }
    Ok(())
}

/// `[cluster] listen_host`: a host name or IP literal, no port.
fn check_listen_host(check: &Checker<'_>, host: &Spanned<String>) -> Result<(), ConfigError> {
    let text = host.get_ref();
    // A colon is only an IPv6 literal's (an address with a port is refused).
    let shaped = if text.contains(':') {
        text.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::Ipv6Addr>()
            .is_ok()
    } else {
        Address::parse(&format!("{text}:1")).is_ok()
    };
    match shaped {
        true => Ok(()),
        false => check.fail(
            host,
            "cluster.listen_host",
            format!(
                "expected a host name or IP address without a port (e.g. \"0.0.0.0\"), found {:?}",
                host.get_ref()
            ),
        ),
    }
}

/// An IPv6 literal in brackets, as an address writes it; anything else as it is.
fn bracketed(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Where a peer binds one door: its `listen_*` key, else the advertised port on `listen_host`,
/// else the advertised address itself.
fn listen_address(
    check: &Checker<'_>,
    field: String,
    explicit: Option<&Spanned<String>>,
    listen_host: Option<&str>,
    advertised: &Address,
) -> Result<Address, ConfigError> {
    match (explicit, listen_host) {
        (Some(value), _) => Address::parse(value.get_ref())
            .map_err(|msg| ConfigError::at(check.path, check.text, value.span(), &field, msg)),
        (None, Some(host)) => {
            // Checked by `check_listen_host`, and the port comes from a parsed address.
            Ok(
                Address::parse(&format!("{}:{}", bracketed(host), advertised.port()))
                    .expect("a checked listen_host and a valid port form an address"),
            )
        }
        (None, None) => Ok(advertised.clone()),
    }
}

/// Returns the peers in file order and the line of each one's `raft` address.
fn check_peers(
    check: &Checker<'_>,
    raw: &Spanned<Vec<Spanned<RawPeer>>>,
    listen_host: Option<&str>,
) -> Result<(Vec<PeerConfig>, Vec<usize>), ConfigError> {
    if raw.get_ref().is_empty() {
        check.fail(
            raw,
            "peers",
            "at least one [[peers]] entry is required".into(),
        )?;
    }
    let mut ids: BTreeMap<u64, usize> = BTreeMap::new();
    let mut addresses: BTreeMap<Address, String> = BTreeMap::new();
    let mut peers = Vec::with_capacity(raw.get_ref().len());
    let mut raft_lines = Vec::with_capacity(raw.get_ref().len());
    for (i, peer) in raw.get_ref().iter().enumerate() {
        let peer = peer.get_ref();
        let id = *peer.id.get_ref();
        let id_field = format!("peers[{i}].id");
        if id == 0 {
            check.fail(&peer.id, &id_field, "0 is reserved; ids start at 1".into())?;
        }
        if let Some(first) = ids.insert(id, i) {
            let msg = format!("duplicate id {id} (also peers[{first}].id)");
            check.fail(&peer.id, &id_field, msg)?;
        }
        let mut address = |value: &Spanned<String>, name: &str| {
            let field = format!("peers[{i}].{name}");
            let parsed = Address::parse(value.get_ref()).map_err(|msg| {
                ConfigError::at(check.path, check.text, value.span(), &field, msg)
            })?;
            if let Some(other) = addresses.insert(parsed.clone(), field.clone()) {
                let msg = format!("address {parsed} is already used by {other}");
                check.fail(value, &field, msg)?;
            }
            Ok::<Address, ConfigError>(parsed)
        };
        let raft = address(&peer.raft, "raft")?;
        let http = address(&peer.http, "http")?;
        let text = address(&peer.text, "text")?;
        let grpc = peer
            .grpc
            .as_ref()
            .map(|grpc| address(grpc, "grpc"))
            .transpose()?;
        if let (Some(listen), None) = (&peer.listen_grpc, &grpc) {
            let msg = "a peer without a grpc address serves no gRPC; set grpc too".to_string();
            check.fail(listen, &format!("peers[{i}].listen_grpc"), msg)?;
        }
        let listen = |name: &str, explicit: Option<&Spanned<String>>, advertised: &Address| {
            let field = format!("peers[{i}].listen_{name}");
            listen_address(check, field, explicit, listen_host, advertised)
        };
        let listen = Listen {
            raft: listen("raft", peer.listen_raft.as_ref(), &raft)?,
            http: listen("http", peer.listen_http.as_ref(), &http)?,
            text: listen("text", peer.listen_text.as_ref(), &text)?,
            grpc: grpc
                .as_ref()
                .map(|g| listen("grpc", peer.listen_grpc.as_ref(), g))
                .transpose()?,
        };
        peers.push(PeerConfig {
            id,
            raft,
            http,
            text,
            grpc,
            listen,
        });
        raft_lines.push(check.line(&peer.raft));
    }
    Ok((peers, raft_lines))
}
