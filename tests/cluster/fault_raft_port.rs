//! The raft port, attacked as an outsider would, against a running 3-node cluster: the two
//! attacks that used to kill or hijack a node (a 64 GiB frame header; a heartbeat and a vote
//! request at term 1,000,000 claiming to come from a member), then 10,000 connections that
//! never finish the greeting, random bytes after a valid greeting and frames just over the
//! limit. No node dies, no term moves, and the cluster serves a write and a read right after.
//! A node given another cluster's secret is refused by its peers, and says why.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::zmtp::{frame, frame_header, greeting, RawPeer};
use crate::support::{wait_for, Cluster};
use raftkv::cluster::seal::{cluster_id, Kind, PeerKeys, Sealer, Secret};
use raftkv::cluster::{wire, Limits};
use raftkv::raft::{Body, Message};

const CLOSE: Duration = Duration::from_secs(3);

fn raft_addr(c: &Cluster, id: u64) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], c.ports[id as usize - 1].0))
}

fn terms(c: &Cluster, ids: &[u64]) -> Vec<u64> {
    ids.iter()
        .map(|&id| {
            let status = c.status(id).unwrap_or_else(|| panic!("node {id} answers"));
            status["term"].as_u64().expect("a term")
        })
        .collect()
}

/// The hijack: a heartbeat, then a vote request, at term 1,000,000 from `from`.
fn hijack_frames(from: u64) -> Vec<Vec<u8>> {
    let heartbeat = Message {
        term: 1_000_000,
        body: Body::Heartbeat {
            commit: 0,
            read_seq: 0,
        },
    };
    let vote = Message {
        term: 1_000_001,
        body: Body::Vote {
            last_log_index: 1_000_000,
            last_log_term: 1_000_000,
            transfer: true,
        },
    };
    [heartbeat, vote]
        .iter()
        .map(|m| wire::encode(from, 1, m).unwrap().to_vec())
        .collect()
}

fn put_then_read_everywhere(c: &Cluster, key: &str, ids: &[u64]) {
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let path = format!("/v1/kv/{key}");
    let put = c.request("PUT", leader, &path, Some(b"v")).unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    for &id in ids {
        let read = c.request_follow("GET", id, &path, None).unwrap();
        assert_eq!((read.status, read.body.as_str()), (200, "v"), "node {id}");
    }
}

#[test]
fn hostile_bytes_on_every_raft_port_kill_no_node_and_move_no_term() {
    let mut c = Cluster::start(3);
    let ids = [1, 2, 3];
    put_then_read_everywhere(&c, "before", &ids);
    let before = terms(&c, &ids);
    let wrong = PeerKeys::new(cluster_id("raftkv"), vec![Secret::generate()]).unwrap();

    for &id in &ids {
        let addr = raft_addr(&c, id);
        let other = if id == 1 { 2 } else { 1 };
        // The kill: 21 bytes after the handshake declare a 64 GiB frame.
        let mut kill = RawPeer::handshaken(addr);
        kill.send(&frame_header(64 << 30));
        assert!(kill.closed_within(CLOSE), "node {id} kept the 64 GiB frame");
        // A frame one byte over the limit, before and after a valid greeting only.
        let mut over = RawPeer::handshaken(addr);
        over.send(&frame_header(Limits::default().max_frame_bytes as u64 + 1));
        assert!(
            over.closed_within(CLOSE),
            "node {id} kept an oversized frame"
        );
        // The hijack, as plain MessagePack (what worked before) ...
        let mut hijack = RawPeer::handshaken(addr);
        for f in hijack_frames(other) {
            hijack.send(&frame(&f));
        }
        assert!(
            hijack.closed_within(CLOSE),
            "node {id} kept a forged heartbeat"
        );
        // ... and sealed with a secret that is not the cluster's.
        let mut sealer = Sealer::new(&wrong, other, id, u64::MAX / 2, 7);
        let mut sealed = RawPeer::handshaken(addr);
        sealed.send(&frame(&sealer.seal(Kind::Hello, &[])));
        for f in hijack_frames(other) {
            sealed.send(&frame(&sealer.seal(Kind::Data, &f)));
        }
        assert!(
            sealed.closed_within(CLOSE),
            "node {id} admitted a wrong secret"
        );
        // Another security mechanism than the NULL one raftkv peers speak.
        let mut plain = RawPeer::connect(addr);
        let mut g = greeting();
        g[12..17].copy_from_slice(b"PLAIN");
        plain.send(&g);
        assert!(
            plain.closed_within(CLOSE),
            "node {id} kept a PLAIN greeting"
        );
        // Random bytes after a valid greeting.
        let mut noise = RawPeer::connect(addr);
        let mut bytes = greeting();
        bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        noise.send(&bytes);
        assert!(noise.closed_within(CLOSE), "node {id} kept random bytes");
    }

    // 10,000 connections that never finish the greeting, in waves across the three nodes:
    // half say nothing, half send the first 10 bytes of a greeting and stop.
    for wave in 0..20 {
        let open: Vec<RawPeer> = (0..500)
            .map(|i| {
                let mut raw = RawPeer::connect(raft_addr(&c, ids[(wave + i) % 3]));
                if i % 2 == 0 {
                    raw.send(&greeting()[..10]);
                }
                raw
            })
            .collect();
        drop(open);
    }

    for &id in &ids {
        assert!(!c.has_exited(id), "node {id} died:\n{}", c.output(id));
    }
    assert_eq!(terms(&c, &ids), before, "a term moved");
    put_then_read_everywhere(&c, "after", &ids);
    assert_eq!(terms(&c, &ids), before, "a term moved");
    for &id in &ids {
        let metrics = c.request("GET", id, "/metrics", None).unwrap().body;
        let count = |name: &str, reason: &str| -> u64 {
            let prefix = format!("{name}{{reason=\"{reason}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
                .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{metrics}"))
        };
        let dropped = "raftkv_network_messages_dropped_total";
        let closed = "raftkv_network_raft_port_connections_closed_total";
        // The 64 GiB and just-over headers, the plain and the wrongly sealed hijack: each came
        // where a hello must, from a connection that never authenticated.
        assert!(
            count(dropped, "auth") >= 4,
            "node {id}: auth refusals not counted"
        );
        assert!(
            count(closed, "protocol") >= 1,
            "node {id}: protocol breaks not counted"
        );
        let out = c.output(id);
        assert!(
            out.contains("closed a raft connection that broke the protocol")
                || out.contains("refused a raft connection"),
            "node {id} logged nothing about the attacks:\n{out}"
        );
    }
}

#[test]
fn a_node_with_another_clusters_secret_is_refused_and_says_so() {
    let mut c = Cluster::configure(3, "");
    c.start_node(1);
    c.start_node(2);
    c.wait_for_leader_among(&[1, 2], Duration::from_secs(10));
    let before = terms(&c, &[1, 2]);

    let other_secret = c.dir.path().join("other.secret");
    raftkv::config::secret::write_new_secret(&other_secret).unwrap();
    let text = std::fs::read_to_string(&c.config_path).unwrap().replacen(
        "[cluster]\n",
        &format!("[cluster]\nsecret_file = {other_secret:?}\n"),
        1,
    );
    let other_config = c.dir.path().join("other.toml");
    std::fs::write(&other_config, text).unwrap();
    c.start_node_with(3, &other_config);

    let says_wrong_secret = |out: &str| {
        out.contains("refused a raft connection") && out.contains("different cluster secret")
    };
    wait_for(
        "node 3 and its peers to name the wrong secret",
        Duration::from_secs(10),
        || {
            (says_wrong_secret(&c.output(3))
                && (says_wrong_secret(&c.output(1)) || says_wrong_secret(&c.output(2))))
            .then_some(())
        },
    );
    let leader = c.wait_for_leader_among(&[1, 2], Duration::from_secs(10));
    let put = c.request("PUT", leader, "/v1/kv/k", Some(b"v")).unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(terms(&c, &[1, 2]), before, "the refused node moved a term");
    let status3 = c.status(3).expect("node 3 answers");
    assert_ne!(status3["role"], "leader");

    // With the cluster's secret it joins and catches up.
    c.kill(3);
    c.start_node(3);
    wait_for("node 3 to catch up", Duration::from_secs(10), || {
        let r = c
            .request("GET", 3, "/v1/kv/k?consistency=local", None)
            .ok()?;
        (r.status == 200 && r.body == "v").then_some(())
    });
}

#[test]
fn a_node_refuses_to_start_with_a_secret_file_others_can_read_or_none_at_all() {
    use std::os::unix::fs::PermissionsExt;
    let c = Cluster::configure(1, "");
    let secret = c.dir.path().join("data").join("cluster.secret");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_raftkv"))
            .args(["node", "--id", "1", "--config"])
            .arg(&c.config_path)
            .output()
            .expect("run raftkv node")
    };
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = run();
    let stderr = String::from_utf8_lossy(&open.stderr);
    assert_eq!(open.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cluster.secret_file") && stderr.contains("chmod 600"),
        "{stderr}"
    );

    // `raftkv secret` refuses to replace a secret, accepts one with --if-missing, and shows it.
    let secret_cmd = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_raftkv"))
            .arg("secret")
            .args(args)
            .arg(&secret)
            .output()
            .expect("run raftkv secret")
    };
    let show = secret_cmd(&["show"]);
    assert_eq!(show.status.code(), Some(2), "show accepted an open mode");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let show = secret_cmd(&["show"]);
    let stdout = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success() && stdout.starts_with("key "),
        "{stdout}"
    );
    let again = secret_cmd(&["new"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not replaced"));
    assert!(secret_cmd(&["new", "--if-missing"]).status.success());
    assert_eq!(
        secret_cmd(&["show"]).stdout,
        show.stdout,
        "the secret changed"
    );

    std::fs::remove_file(&secret).unwrap();
    let missing = run();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("raftkv secret new"), "{stderr}");
}
