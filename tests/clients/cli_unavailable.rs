//! When nothing answers, every command fails fast with exit code 3 and one line naming each endpoint
//! and what went wrong; `raftkv cluster stop` without a supervisor says so.

use std::time::{Duration, Instant};

use crate::support::cli::raftkv;
use crate::support::{free_ports, Cluster};

#[test]
fn every_endpoint_down_is_one_line_and_exit_code_3() {
    let ports = free_ports(3);
    let endpoints: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let joined = endpoints.join(",");
    for args in [
        vec!["get", "mykey"],
        vec!["put", "mykey", "v"],
        vec!["stack", "push", "1", "10"],
        vec!["member", "list"],
    ] {
        let started = Instant::now();
        let mut all = vec!["--endpoints", joined.as_str()];
        all.extend(args.iter().copied());
        let run = raftkv(&all);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{args:?} took {:?}: it must not hang",
            started.elapsed()
        );
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("raftkv: no endpoint answered ("),
            "{}",
            run.stderr
        );
        for e in &endpoints {
            assert!(
                run.stderr.contains(&format!("{e}: connection refused")),
                "{e} missing from {}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_config_s_endpoints_are_the_default() {
    // Nothing runs on the config's ports: the error names them, so they were the ones tried.
    let c = Cluster::configure(3, "");
    let config = c.config_path.to_str().expect("utf-8 temp path");
    let run = raftkv(&["--config", config, "get", "k"]);
    assert_eq!(run.code, 3, "{run:?}");
    for id in 1..=3 {
        assert!(run.stderr.contains(&c.http_addr(id)), "{}", run.stderr);
    }
}

#[test]
fn cluster_control_without_a_supervisor_says_so() {
    let c = Cluster::configure(3, "");
    let config = c.config_path.to_str().expect("utf-8 temp path");
    let run = raftkv(&["cluster", "stop", "2", "--config", config]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("no `raftkv cluster` supervisor answers"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_usage_exits_2() {
    let run = raftkv(&["--endpoints", "nonsense", "get", "k"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("nonsense"), "{}", run.stderr);
    let run = raftkv(&["stack", "push", "1"]);
    assert_eq!(run.code, 2, "clap's usage error: {run:?}");
}
