//! The shipped config files load, follow the Procfile port convention, and convert to ticks.

use raftkv::config::Config;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn load(name: &str) -> Config {
    let path = format!("{ROOT}/config/{name}");
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Node N serves gRPC where etcd's Procfile puts its client port (127.0.0.1:2379 for node 1,
/// N2379 for the others), HTTP on N2380, text on N2381 and raft on N2382.
fn assert_procfile_ports(config: &Config, nodes: u64) {
    assert_eq!(config.ids(), (1..=nodes).collect::<Vec<_>>());
    for peer in config.peers() {
        let base = peer.id as u16 * 10_000;
        let grpc = if peer.id == 1 { 2379 } else { base + 2379 };
        let shown = peer.grpc.as_ref().map(ToString::to_string);
        assert_eq!(shown, Some(format!("127.0.0.1:{grpc}")), "node {}", peer.id);
        assert_eq!(peer.http.to_string(), format!("127.0.0.1:{}", base + 2380));
        assert_eq!(peer.text.to_string(), format!("127.0.0.1:{}", base + 2381));
        assert_eq!(peer.raft.to_string(), format!("127.0.0.1:{}", base + 2382));
    }
}

#[test]
fn shipped_files_load_with_the_procfile_ports() {
    assert_procfile_ports(&load("cluster.toml"), 5);
    assert_procfile_ports(&load("three.toml"), 3);
    assert_procfile_ports(&load("four.toml"), 4);
    assert_procfile_ports(&load("single.toml"), 1);
}

#[test]
fn default_cluster_is_the_embedded_five_node_file() {
    let embedded = Config::default_cluster();
    // Loaded through the same relative path the embedded copy stands for, so the relative
    // directories resolve alike (tests run from the package root).
    let on_disk = Config::load("config/cluster.toml").unwrap();
    assert_eq!(embedded.cluster(), on_disk.cluster());
    assert_eq!(embedded.peers(), on_disk.peers());
    assert_eq!(embedded.path(), "config/cluster.toml");
}

#[test]
fn milliseconds_become_ticks_for_the_core() {
    let config = Config::default_cluster();
    let settings = config.cluster();
    assert_eq!(settings.tick_ms, 10);
    assert_eq!(config.heartbeat_interval_ticks(), 5);
    assert_eq!(config.election_timeout_ticks_min(), 30);
    assert_eq!(config.election_timeout_ticks_max(), 60);
    assert_eq!(config.ms_to_ticks(3000), 300);
    let core = config.raft_core_config(3).unwrap();
    assert_eq!(core.id, 3);
    assert_eq!(core.voters, vec![1, 2, 3, 4, 5]);
    assert_eq!(core.heartbeat_interval_ticks, 5);
    assert_eq!(core.election_timeout_ticks_min, 30);
    assert_eq!(core.election_timeout_ticks_max, 60);
    assert!(core.validate().is_ok());
    assert!(config.raft_core_config(9).is_err());
}

#[test]
fn paths_are_per_node_at_the_repository_root() {
    // The shipped files say `../data` and `../logs`: relative to `config/`, so the repository's
    // `data/` and `logs/` whichever file is used and wherever raftkv is started from.
    let config = Config::default_cluster();
    assert_eq!(config.data_dir_for(2), std::path::Path::new("data/node-2"));
    assert_eq!(
        config.log_file_for(2),
        std::path::Path::new("logs/node-2.log")
    );
    assert!(!config.cluster().test_faults);
    let three = load("three.toml");
    assert_eq!(
        three.data_dir_for(1),
        std::path::Path::new(ROOT).join("data/node-1")
    );
    assert_eq!(
        three.log_file_for(1),
        std::path::Path::new(ROOT).join("logs/node-1.log")
    );
}

#[test]
fn node_lookup_and_raft_addresses() {
    let config = load("three.toml");
    assert_eq!(config.node(2).unwrap().http.port(), 22380);
    assert_eq!(
        config.node(1).unwrap().grpc.as_ref().map(|a| a.port()),
        Some(2379)
    );
    let addrs = config.raft_addrs().unwrap();
    assert_eq!(addrs.len(), 3);
    assert_eq!(addrs[&3], "127.0.0.1:32382".parse().unwrap());
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load("config/does-not-exist.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("config/does-not-exist.toml"), "{err}");
}
