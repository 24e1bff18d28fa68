//! Every bad file is refused with the file name, the line and the field in the message, so the
//! person editing it can go straight to the mistake.

use raftkv::config::Config;

/// A valid three-node file; each case below edits one line of it.
const GOOD: &str = r#"[cluster]
tick_ms = 10
heartbeat_interval_ms = 50
election_timeout_min_ms = 300
election_timeout_max_ms = 600
data_dir = "data"
log_dir = "logs"
max_value_bytes = 1048576
request_timeout_ms = 3000

[[peers]]
id = 1
raft = "127.0.0.1:12382"
http = "127.0.0.1:12380"
text = "127.0.0.1:12381"

[[peers]]
id = 2
raft = "127.0.0.1:22382"
http = "127.0.0.1:22380"
text = "127.0.0.1:22381"

[[peers]]
id = 3
raft = "127.0.0.1:32382"
http = "127.0.0.1:32380"
text = "127.0.0.1:32381"
"#;

/// `GOOD` with line `line` (1-based) replaced by `with`.
fn edit(line: usize, with: &str) -> String {
    let mut lines: Vec<&str> = GOOD.lines().collect();
    lines[line - 1] = with;
    lines.join("\n") + "\n"
}

/// Asserts that `text` is refused with `file:line: field` in the message and `detail` after it.
fn assert_refused(case: &str, text: &str, line: usize, field: &str, detail: &str) {
    let path = "config/x.toml";
    let err = match Config::parse(text, path) {
        Ok(_) => panic!("{case}: accepted"),
        Err(e) => e.to_string(),
    };
    let location = format!("{path}:{line}: {field}:");
    assert!(
        err.starts_with(&location),
        "{case}: {err:?} does not start with {location:?}"
    );
    assert!(
        err.contains(detail),
        "{case}: {err:?} does not mention {detail:?}"
    );
}

#[test]
fn the_template_is_valid() {
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    assert_eq!(config.ids(), vec![1, 2, 3]);
    // `grpc` is optional: a peer without it serves no gRPC.
    assert_eq!(config.node(1).unwrap().grpc, None);
}

#[test]
fn a_grpc_address_is_checked_like_the_others() {
    let text = edit(15, "text = \"127.0.0.1:12381\"\ngrpc = \"127.0.0.1:2379\"");
    let config = Config::parse(&text, "config/x.toml").unwrap();
    let grpc = config
        .node(1)
        .unwrap()
        .grpc
        .as_ref()
        .map(ToString::to_string);
    assert_eq!(grpc.as_deref(), Some("127.0.0.1:2379"));

    let text = edit(15, "text = \"127.0.0.1:12381\"\ngrpc = \"127.0.0.1\"");
    assert_refused(
        "no grpc port",
        &text,
        16,
        "peers[0].grpc",
        "expected host:port",
    );
    let text = edit(15, "text = \"127.0.0.1:12381\"\ngrpc = 2379");
    assert_refused(
        "integer for grpc",
        &text,
        16,
        "peers[0].grpc",
        "expected a string",
    );
    let text = edit(27, "text = \"127.0.0.1:32381\"\ngrpc = \"127.0.0.1:22380\"");
    assert_refused(
        "grpc duplicating an http port",
        &text,
        28,
        "peers[2].grpc",
        "already used by peers[1].http",
    );
    // A later address duplicating a grpc one names the grpc field.
    let text = edit(15, "text = \"127.0.0.1:12381\"\ngrpc = \"127.0.0.1:2379\"")
        .replace("raft = \"127.0.0.1:22382\"", "raft = \"127.0.0.1:2379\"");
    assert_refused(
        "raft duplicating a grpc port",
        &text,
        20,
        "peers[1].raft",
        "already used by peers[0].grpc",
    );
}

#[test]
fn a_node_binds_its_advertised_addresses_unless_told_where_to_listen() {
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    let one = config.node(1).unwrap();
    assert_eq!(one.listen.raft, one.raft);
    assert_eq!(one.listen.http, one.http);

    // `listen_host` binds every door on that host at the advertised port; a peer's own
    // `listen_*` wins over it. Advertised names may repeat ports across hosts.
    let text = GOOD
        .replace(
            "request_timeout_ms = 3000",
            "request_timeout_ms = 3000\nlisten_host = \"0.0.0.0\"",
        )
        .replace(
            "127.0.0.1:12382\"",
            "node1:2380\"\nlisten_raft = \"10.0.0.1:7000\"",
        )
        .replace("\"127.0.0.1:22382\"", "\"node2:2380\"");
    let config = Config::parse(&text, "config/x.toml").unwrap();
    let one = config.node(1).unwrap();
    assert_eq!(one.raft.to_string(), "node1:2380");
    assert_eq!(one.listen.raft.to_string(), "10.0.0.1:7000");
    assert_eq!(one.listen.http.to_string(), "0.0.0.0:12380");
    assert_eq!(one.listen.grpc, None);
    let two = config.node(2).unwrap();
    assert_eq!(two.listen.raft.to_string(), "0.0.0.0:2380");
    let v6 = GOOD.replace(
        "request_timeout_ms = 3000",
        "request_timeout_ms = 3000\nlisten_host = \"::\"",
    );
    let config = Config::parse(&v6, "config/x.toml").unwrap();
    assert_eq!(
        config.node(3).unwrap().listen.text.to_string(),
        "[::]:32381"
    );

    assert_refused(
        "a port in listen_host",
        &edit(9, "request_timeout_ms = 3000\nlisten_host = \"0.0.0.0:80\""),
        10,
        "cluster.listen_host",
        "without a port",
    );
    assert_refused(
        "a malformed listen address",
        &edit(15, "text = \"127.0.0.1:12381\"\nlisten_text = \"0.0.0.0\""),
        16,
        "peers[0].listen_text",
        "expected host:port",
    );
    assert_refused(
        "listen_grpc without grpc",
        &edit(
            15,
            "text = \"127.0.0.1:12381\"\nlisten_grpc = \"0.0.0.0:2379\"",
        ),
        16,
        "peers[0].listen_grpc",
        "set grpc too",
    );
}

#[test]
fn a_node_is_found_by_its_host_name() {
    let text = GOOD
        .replace("127.0.0.1:12382", "raftkv-0.raftkv.default.svc:2380")
        .replace("127.0.0.1:22382", "raftkv-1.raftkv.default.svc:2380")
        .replace("127.0.0.1:32382", "node3:2380");
    let config = Config::parse(&text, "config/x.toml").unwrap();
    assert_eq!(config.node_named("raftkv-1").unwrap(), 2);
    assert_eq!(config.node_named("raftkv-0.raftkv.default.svc").unwrap(), 1);
    assert_eq!(config.node_named("NODE3").unwrap(), 3);
    let none = config.node_named("raftkv").unwrap_err().to_string();
    assert!(none.contains("no peer's raft address"), "{none}");
    let twice = GOOD
        .replace("127.0.0.1:12382", "db.a:1")
        .replace("127.0.0.1:22382", "db.b:1");
    let config = Config::parse(&twice, "config/x.toml").unwrap();
    let both = config.node_named("db").unwrap_err().to_string();
    assert!(both.contains("[1, 2]"), "{both}");
}

#[test]
fn wrong_types_name_what_was_expected() {
    let text = edit(3, r#"heartbeat_interval_ms = "fast""#);
    assert_refused(
        "string for integer",
        &text,
        3,
        "cluster.heartbeat_interval_ms",
        "expected an integer, found a string",
    );
    let text = edit(19, "raft = 22382");
    assert_refused(
        "integer for address",
        &text,
        19,
        "peers[1].raft",
        "expected a string",
    );
    let text = edit(2, "tick_ms = -5");
    assert_refused("negative integer", &text, 2, "cluster.tick_ms", "-5");
}

#[test]
fn unknown_fields_are_named() {
    let text = edit(9, "request_timeout_ms = 3000\nheartbeat_ms = 5");
    assert_refused(
        "unknown cluster field",
        &text,
        10,
        "cluster.heartbeat_ms",
        "unknown field",
    );
    let text = edit(24, "id = 3\nweight = 2");
    assert_refused(
        "unknown peer field",
        &text,
        25,
        "peers[2].weight",
        "unknown field",
    );
    let text = format!("{GOOD}\n[extra]\nx = 1\n");
    assert_refused("unknown table", &text, 29, "extra", "unknown field");
}

#[test]
fn missing_fields_are_named() {
    // `[cluster]` keys all have defaults (see `a_minimal_file_is_only_the_peers`); peer fields not.
    let text = edit(15, "");
    assert_refused(
        "missing text",
        &text,
        11,
        "peers[0].text",
        "missing field `text`",
    );
    let peers_cut: String = GOOD.lines().take(9).collect::<Vec<_>>().join("\n");
    assert_refused(
        "missing peers",
        &peers_cut,
        1,
        "peers",
        "missing field `peers`",
    );
}

#[test]
fn an_empty_peer_list_is_refused() {
    let text = "peers = []\n".to_string() + &GOOD.lines().take(9).collect::<Vec<_>>().join("\n");
    assert_refused("empty peers", &text, 1, "peers", "at least one");
}

#[test]
fn ids_must_be_unique_and_non_zero() {
    let text = edit(18, "id = 1");
    assert_refused("duplicate id", &text, 18, "peers[1].id", "duplicate id 1");
    let text = edit(12, "id = 0");
    assert_refused("zero id", &text, 12, "peers[0].id", "reserved");
}

#[test]
fn addresses_must_be_unique_and_well_formed() {
    let text = edit(21, r#"text = "127.0.0.1:12382""#);
    assert_refused(
        "duplicate port",
        &text,
        21,
        "peers[1].text",
        "already used by peers[0].raft",
    );
    let text = edit(26, r#"http = "127.0.0.1""#);
    assert_refused("no port", &text, 26, "peers[2].http", "expected host:port");
    let text = edit(13, r#"raft = "127.0.0.1:99999""#);
    assert_refused(
        "port out of range",
        &text,
        13,
        "peers[0].raft",
        "expected host:port",
    );
}

#[test]
fn timeouts_must_be_ordered() {
    let text = edit(3, "heartbeat_interval_ms = 300");
    assert_refused(
        "heartbeat = election timeout",
        &text,
        4,
        "cluster.election_timeout_min_ms",
        "must exceed heartbeat_interval_ms (300)",
    );
    let text = edit(5, "election_timeout_max_ms = 300");
    assert_refused(
        "min = max",
        &text,
        5,
        "cluster.election_timeout_max_ms",
        "must exceed election_timeout_min_ms (300)",
    );
    let text = edit(2, "tick_ms = 0");
    assert_refused("zero tick", &text, 2, "cluster.tick_ms", "at least 1");
    let text = edit(2, "tick_ms = 100");
    assert_refused(
        "heartbeat under a tick",
        &text,
        3,
        "cluster.heartbeat_interval_ms",
        "at least one tick",
    );
    let text = edit(2, "tick_ms = 40");
    let text = text.replace(
        "election_timeout_min_ms = 300",
        "election_timeout_min_ms = 70",
    );
    assert_refused(
        "timeouts equal after rounding to ticks",
        &text,
        4,
        "cluster.election_timeout_min_ms",
        "whole ticks",
    );
}

#[test]
fn other_limits_are_checked() {
    let text = edit(8, "max_value_bytes = 0");
    assert_refused(
        "zero value size",
        &text,
        8,
        "cluster.max_value_bytes",
        "between 1 and",
    );
    let text = edit(9, "request_timeout_ms = 0");
    assert_refused(
        "zero request timeout",
        &text,
        9,
        "cluster.request_timeout_ms",
        "at least 1",
    );
    let text = edit(6, r#"data_dir = """#);
    assert_refused(
        "empty data dir",
        &text,
        6,
        "cluster.data_dir",
        "must name a directory",
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let text = edit(14, "http = 127.0.0.1:12380");
    let err = Config::parse(&text, "config/x.toml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("config/x.toml:14: "), "{err}");
    let text = edit(24, "id = 3\nid = 4");
    assert_refused("duplicate key", &text, 25, "id", "duplicate key");
}

#[test]
fn an_absent_node_id_is_named() {
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    let err = config.node(7).unwrap_err().to_string();
    assert!(err.starts_with("config/x.toml:11: peers:"), "{err}");
    assert!(
        err.contains("no node with id 7") && err.contains("[1, 2, 3]"),
        "{err}"
    );
}

#[test]
fn the_file_name_comes_from_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, edit(3, r#"heartbeat_interval_ms = "x""#)).unwrap();
    let err = Config::load(&path).unwrap_err().to_string();
    let expected = format!("{}:3: cluster.heartbeat_interval_ms:", path.display());
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn the_secret_file_and_the_request_limit_are_checked_and_defaulted() {
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    let cluster = config.cluster();
    assert_eq!(
        cluster.secret_file,
        std::path::Path::new("config/data").join("cluster.secret")
    );
    assert_eq!(cluster.cluster_token, "raftkv");
    assert_eq!(cluster.max_in_flight_requests, 8192);

    let text = edit(9, "request_timeout_ms = 3000\nsecret_file = \"  \"");
    assert_refused(
        "empty secret file",
        &text,
        10,
        "cluster.secret_file",
        "must name a file",
    );
    let text = edit(9, "request_timeout_ms = 3000\nmax_in_flight_requests = 0");
    assert_refused(
        "zero request limit",
        &text,
        10,
        "cluster.max_in_flight_requests",
        "must be between 1 and",
    );
    // A secret file that does not exist is named with the config line that names it.
    let text = edit(
        9,
        "request_timeout_ms = 3000\nsecret_file = \"/nonexistent/s\"",
    );
    let err = Config::parse(&text, "config/x.toml")
        .unwrap()
        .peer_keys()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("config/x.toml:10: cluster.secret_file:") && err.contains("/nonexistent/s"),
        "{err}"
    );
}

/// A file that is only its peers: every `[cluster]` key takes its documented default.
#[test]
fn a_minimal_file_is_only_the_peers() {
    use raftkv::config::{
        DEFAULT_ELECTION_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_MAX_IN_FLIGHT_REQUESTS,
        DEFAULT_MAX_VALUE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SNAPSHOT_ENTRIES,
        DEFAULT_TICK_MS,
    };
    let peers = &GOOD[GOOD.find("[[peers]]").unwrap()..];
    for text in [peers.to_string(), format!("[cluster]\n\n{peers}")] {
        let config = Config::parse(&text, "/etc/raftkv/cluster.toml").unwrap();
        let c = config.cluster();
        assert_eq!(c.tick_ms, DEFAULT_TICK_MS);
        assert_eq!(c.heartbeat_interval_ms, DEFAULT_HEARTBEAT_INTERVAL_MS);
        assert_eq!(
            (c.election_timeout_min_ms, c.election_timeout_max_ms),
            DEFAULT_ELECTION_TIMEOUT_MS
        );
        assert_eq!(c.max_value_bytes, DEFAULT_MAX_VALUE_BYTES);
        assert_eq!(c.request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
        assert_eq!(c.max_in_flight_requests, DEFAULT_MAX_IN_FLIGHT_REQUESTS);
        assert_eq!(c.snapshot_entries, DEFAULT_SNAPSHOT_ENTRIES);
        assert_eq!(c.cluster_token, "raftkv");
        // Default directories sit beside the file, like relative ones.
        assert_eq!(
            config.data_dir_for(2).to_str(),
            Some("/etc/raftkv/data/node-2")
        );
        assert_eq!(
            config.log_file_for(2).to_str(),
            Some("/etc/raftkv/logs/node-2.log")
        );
        assert_eq!(
            c.secret_file.to_str(),
            Some("/etc/raftkv/data/cluster.secret")
        );
        assert_eq!(config.ids(), vec![1, 2, 3]);
    }
}

/// Relative directories resolve against the config file's directory, not the current one;
/// absolute ones are kept.
#[test]
fn relative_directories_resolve_against_the_file() {
    let text = GOOD
        .replace("data_dir = \"data\"", "data_dir = \"../state\"")
        .replace("log_dir = \"logs\"", "log_dir = \"/var/log/raftkv\"")
        .replace(
            "request_timeout_ms = 3000",
            "request_timeout_ms = 3000\nsecret_file = \"./keys/secret\"",
        );
    let config = Config::parse(&text, "deploy/conf/x.toml").unwrap();
    assert_eq!(config.data_dir_for(1).to_str(), Some("deploy/state/node-1"));
    assert_eq!(
        config.log_file_for(1).to_str(),
        Some("/var/log/raftkv/node-1.log")
    );
    assert_eq!(
        config.cluster().secret_file.to_str(),
        Some("deploy/conf/keys/secret")
    );
    // Loaded from disk: the same rule, whatever the current directory is.
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("etc");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("cluster.toml");
    std::fs::write(&path, GOOD).unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.data_dir_for(3), sub.join("data/node-3"));
    assert_eq!(config.log_file_for(3), sub.join("logs/node-3.log"));
}

/// A check that fails because of a default says so, and names the key that was left out.
#[test]
fn an_error_about_a_default_says_the_default_applied() {
    let peers = &GOOD[GOOD.find("[[peers]]").unwrap()..];
    let text = format!("[cluster]\nheartbeat_interval_ms = 400\n\n{peers}");
    let err = Config::parse(&text, "config/x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("config/x.toml:1: cluster.election_timeout_min_ms:"),
        "{err}"
    );
    assert!(
        err.contains("must exceed heartbeat_interval_ms (400)"),
        "{err}"
    );
    assert!(err.contains("its default applies"), "{err}");
}

#[test]
fn follower_requests_default_to_forward_and_take_one_of_two_names() {
    use raftkv::config::FollowerRequests;
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    assert_eq!(
        config.cluster().follower_requests,
        FollowerRequests::Forward
    );
    for (value, mode) in [
        ("forward", FollowerRequests::Forward),
        ("redirect", FollowerRequests::Redirect),
    ] {
        let text = edit(
            9,
            &format!("request_timeout_ms = 3000\nfollower_requests = \"{value}\""),
        );
        let config = Config::parse(&text, "config/x.toml").unwrap();
        assert_eq!(config.cluster().follower_requests, mode, "{value}");
    }
    let text = edit(
        9,
        "request_timeout_ms = 3000\nfollower_requests = \"proxy\"",
    );
    assert_refused(
        "unknown follower_requests",
        &text,
        10,
        "cluster.follower_requests",
        "must be \"forward\" or \"redirect\", not \"proxy\"",
    );
}

#[test]
fn lease_reads_are_off_by_default_and_need_five_ticks_of_election_timeout() {
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    assert!(!config.cluster().lease_reads);
    assert!(!config.raft_core_config(1).unwrap().lease_reads);
    let text = edit(9, "request_timeout_ms = 3000\nlease_reads = true");
    let config = Config::parse(&text, "config/x.toml").unwrap();
    assert!(config.raft_core_config(1).unwrap().lease_reads);
    // 40 ms of 10 ms ticks: 4 ticks leave no lease at all.
    let text = edit(4, "election_timeout_min_ms = 40\nlease_reads = true");
    let text = text.replace("heartbeat_interval_ms = 50", "heartbeat_interval_ms = 20");
    assert_refused(
        "lease without room",
        &text,
        5,
        "cluster.lease_reads",
        "at least 5 ticks",
    );
}

/// Issue 15's client limits: watches per gRPC stream, leases, key size. Each has its documented
/// default, takes a value in its bounds, and refuses one outside them naming the line and field.
#[test]
fn client_limits_are_defaulted_and_bounded() {
    use raftkv::config::{
        DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_LEASES, DEFAULT_MAX_WATCHES_PER_STREAM,
        MAX_KEY_BYTES_LIMIT, MAX_LEASES_LIMIT,
    };
    let peers = &GOOD[GOOD.find("[[peers]]").unwrap()..];
    for text in [GOOD, peers] {
        let config = Config::parse(text, "config/x.toml").unwrap();
        let c = config.cluster();
        assert_eq!(
            c.max_watches_per_stream as u64,
            DEFAULT_MAX_WATCHES_PER_STREAM
        );
        assert_eq!(c.max_leases as u64, DEFAULT_MAX_LEASES);
        assert_eq!(c.max_key_bytes as u64, DEFAULT_MAX_KEY_BYTES);
    }
    assert_eq!(
        (
            DEFAULT_MAX_WATCHES_PER_STREAM,
            DEFAULT_MAX_LEASES,
            DEFAULT_MAX_KEY_BYTES
        ),
        (1024, 10_000, 8192)
    );

    let set = "request_timeout_ms = 3000\nmax_watches_per_stream = 1\nmax_leases = 3\n\
               max_key_bytes = 16";
    let config = Config::parse(&edit(9, set), "config/x.toml").unwrap();
    let c = config.cluster();
    assert_eq!(
        (c.max_watches_per_stream, c.max_leases, c.max_key_bytes),
        (1, 3, 16)
    );

    let cases = [
        ("max_watches_per_stream", 0, 100_000),
        ("max_watches_per_stream", 100_001, 100_000),
        ("max_leases", 0, MAX_LEASES_LIMIT),
        ("max_leases", MAX_LEASES_LIMIT + 1, MAX_LEASES_LIMIT),
        ("max_key_bytes", 0, MAX_KEY_BYTES_LIMIT),
        (
            "max_key_bytes",
            MAX_KEY_BYTES_LIMIT + 1,
            MAX_KEY_BYTES_LIMIT,
        ),
    ];
    for (field, value, max) in cases {
        let text = edit(9, &format!("request_timeout_ms = 3000\n{field} = {value}"));
        assert_refused(
            &format!("{field} = {value}"),
            &text,
            10,
            &format!("cluster.{field}"),
            &format!("must be between 1 and {max}"),
        );
    }
    let text = edit(9, "request_timeout_ms = 3000\nmax_key_bytes = \"8k\"");
    assert_refused(
        "a size with a unit",
        &text,
        10,
        "cluster.max_key_bytes",
        "integer",
    );
}

/// Early Appends (issue 16) are off unless set; the core gets the value; 65 is refused by name.
#[test]
fn early_appends_are_off_by_default_and_bounded() {
    let config = Config::parse(GOOD, "config/x.toml").unwrap();
    assert_eq!(config.cluster().max_early_appends, 0);
    assert_eq!(config.raft_core_config(2).unwrap().max_early_appends, 0);
    let text = edit(9, "request_timeout_ms = 3000\nmax_early_appends = 8");
    let config = Config::parse(&text, "config/x.toml").unwrap();
    assert_eq!(config.raft_core_config(2).unwrap().max_early_appends, 8);
    let text = edit(9, "request_timeout_ms = 3000\nmax_early_appends = 65");
    assert_refused(
        "too many early appends",
        &text,
        10,
        "cluster.max_early_appends",
        "must be between 0 and 64",
    );
}
