//! Snapshots and compaction on three `raftkv node` processes, with snapshots every 100 entries:
//! the log is compacted behind them, a follower that was down catches up by InstallSnapshot, a
//! restarted node starts from its snapshot, the transaction logs still agree, and a damaged
//! snapshot file is refused by its checksum.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support;
use crate::support::{wait_for, Cluster};

const WAIT: Duration = Duration::from_secs(30);

fn put_many(c: &Cluster, leader: u64, prefix: &str, n: usize) {
    for i in 0..n {
        let reply = c
            .request_follow(
                "PUT",
                leader,
                &format!("/v1/kv/{prefix}-{}", i % 50),
                Some(format!("value {i}").as_bytes()),
            )
            .expect("the leader answers");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

fn status_field(c: &Cluster, id: u64, field: &str) -> u64 {
    c.status(id)
        .and_then(|s| s[field].as_u64())
        .unwrap_or_else(|| panic!("node {id} has no {field}"))
}

fn snapshot_files(c: &Cluster, id: u64) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(c.data_dir(id).join("snapshots"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "snap"));
    files.sort();
    files
}

fn raftkv(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_follower_behind_the_compacted_log_catches_up_from_a_snapshot() {
    catch_up("", false);
}

/// When the sender's transaction log rotated the lines away, the follower writes one marker.
#[test]
fn lines_the_sender_no_longer_holds_become_one_marker_line() {
    catch_up("txlog_rotate_bytes = 4096\ntxlog_keep_files = 1", true);
}

fn catch_up(extra: &str, expect_marker: bool) {
    let config = format!("snapshot_entries = 100\nsnapshot_trailing_entries = 10\n{extra}");
    let mut c = Cluster::start_with(3, &config);
    let leader = c.wait_for_leader(WAIT);
    let behind = (1..=3).find(|&id| id != leader).unwrap();
    c.kill(behind);
    put_many(&c, leader, "k", 450);
    // The others snapshot and compact: their logs no longer start at 1.
    let others: Vec<u64> = (1..=3).filter(|&id| id != behind).collect();
    for &id in &others {
        wait_for("a snapshot and compaction", WAIT, || {
            (status_field(&c, id, "snapshot_index") >= 300
                && status_field(&c, id, "first_log_index") > 1)
                .then_some(())
        });
        assert!(
            snapshot_files(&c, id).len() <= 2,
            "at most two snapshots kept"
        );
    }

    c.restart(behind);
    let state = if expect_marker {
        // Rotated files: the active files start at different indexes, so compare states only.
        let target = status_field(&c, leader, "commit_index");
        wait_for("the follower to catch up", WAIT, || {
            (c.status(behind)?["applied_index"].as_u64()? >= target).then_some(())
        });
        let state = c.state_without_volatile(behind).unwrap();
        assert_eq!(state, c.state_without_volatile(leader).unwrap());
        state
    } else {
        c.wait_converged(&[1, 2, 3], WAIT)
    };
    assert_eq!(state["kv"].as_object().map(|o| o.len()), Some(50));
    assert!(
        c.output(behind).contains("installed a snapshot"),
        "{}",
        c.output(behind)
    );
    let logs = c.dir.path().join("logs").display().to_string();
    let (code, out) = raftkv(&["txlog", "verify", &logs]);
    assert_eq!(code, 0, "{out}");
    // The node's files, rotated ones included.
    let marked = std::fs::read_dir(c.dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("node-{behind}.log")) && !name.ends_with(".json")
        })
        .any(|p| {
            support::read_lines(&p)
                .iter()
                .any(|l| l.contains(" snapshot -- "))
        });
    if expect_marker {
        assert!(
            marked,
            "lines rotated away on the sender: a marker stands for them"
        );
    } else {
        assert!(!marked, "the lines were fetched from the sender: no marker");
        assert_eq!(
            c.txlog(behind),
            c.txlog(leader),
            "the same history, line for line"
        );
    }

    // Killed and restarted, a node starts from its newest snapshot and the log after it.
    let applied = status_field(&c, behind, "applied_index");
    c.kill(behind);
    c.restart(behind);
    wait_for(
        "the restarted node to serve its applied index",
        WAIT,
        || (c.status(behind)?["applied_index"].as_u64()? >= applied).then_some(()),
    );
    put_many(&c, leader, "after", 20);
    if !expect_marker {
        c.wait_converged(&[1, 2, 3], WAIT);
    }
}

#[test]
fn snapshot_status_reports_a_good_file_and_refuses_a_damaged_one() {
    let c = Cluster::start_with(3, "snapshot_entries = 100");
    let leader = c.wait_for_leader(WAIT);
    put_many(&c, leader, "s", 150);
    let file = wait_for("a snapshot file", WAIT, || snapshot_files(&c, leader).pop());
    let path = file.display().to_string();
    let (code, out) = raftkv(&["snapshot", "status", &path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checksum: ok"), "{out}");
    assert!(out.contains("keys"), "{out}");

    let bytes = std::fs::read(&file).unwrap();
    let damaged = c.dir.path().join("damaged.snap");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&damaged, &flipped).unwrap();
    let (code, out) = raftkv(&["snapshot", "status", &damaged.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED"), "{out}");

    let truncated = c.dir.path().join("truncated.snap");
    std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
    let (code, out) = raftkv(&["snapshot", "status", &truncated.display().to_string()]);
    assert_ne!(code, 0, "{out}");

    // The lines a follower fetches when it installs: as written, 404 when not held, 400 on a
    // bad range.
    let lines = c
        .request("GET", leader, "/v1/txlog?from=2&to=4", None)
        .unwrap();
    assert_eq!(lines.status, 200, "{}", lines.body);
    let want: Vec<String> = c.txlog(leader)[1..4].to_vec();
    assert_eq!(lines.body.lines().collect::<Vec<_>>(), want);
    let missing = c.request("GET", leader, "/v1/txlog?from=999999&to=1000000", None);
    assert_eq!(missing.unwrap().status, 404);
    let bad = c.request("GET", leader, "/v1/txlog?from=x", None).unwrap();
    assert_eq!(bad.status, 400, "{}", bad.body);

    // A backup through a follower (forwarded to the leader) holds every key written.
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    let saved = c.dir.path().join("backup.snap");
    let (code, out) = raftkv(&[
        "--endpoints",
        &c.http_addr(follower),
        "snapshot",
        "save",
        &saved.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = raftkv(&["snapshot", "status", &saved.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("50 keys"), "{out}");

    // Restore seeds a new node's data dir from the good file, and refuses an occupied one.
    let fresh = c.dir.path().join("restored");
    let (code, out) = raftkv(&[
        "snapshot",
        "restore",
        &saved.display().to_string(),
        "--data-dir",
        &fresh.display().to_string(),
        "--id",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = raftkv(&[
        "snapshot",
        "restore",
        &path,
        "--data-dir",
        &fresh.display().to_string(),
        "--id",
        "1",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("already holds data"), "{out}");

    // A new cluster seeded from the backup on every node starts with the backed-up state.
    let mut seeded = Cluster::configure(3, "");
    let data = seeded.dir.path().join("data").display().to_string();
    for id in ["1", "2", "3"] {
        let args = [
            "snapshot",
            "restore",
            &saved.display().to_string(),
            "--data-dir",
            &data,
            "--id",
            id,
        ];
        let (code, out) = raftkv(&args);
        assert_eq!(code, 0, "{out}");
    }
    for id in 1..=3 {
        seeded.start_node(id);
    }
    let state = seeded.wait_converged(&[1, 2, 3], WAIT);
    let original = c.state_without_volatile(leader).unwrap();
    assert_eq!(
        state["kv"], original["kv"],
        "the seeded cluster holds the backup"
    );
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_older_one_and_the_log() {
    let mut c = Cluster::start_with(3, "snapshot_entries = 100\nsnapshot_trailing_entries = 10");
    let leader = c.wait_for_leader(WAIT);
    let victim = (1..=3).find(|&id| id != leader).unwrap();
    put_many(&c, leader, "d", 350);
    wait_for("two snapshots on the victim", WAIT, || {
        (snapshot_files(&c, victim).len() == 2).then_some(())
    });
    let applied = status_field(&c, victim, "applied_index");
    c.stop(victim);
    let newest = snapshot_files(&c, victim).pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&newest, &bytes).unwrap();

    c.restart(victim);
    wait_for("the victim to serve its applied index again", WAIT, || {
        (c.status(victim)?["applied_index"].as_u64()? >= applied).then_some(())
    });
    let out = c.output(victim);
    assert!(out.contains("falling back to an older snapshot"), "{out}");
    assert!(
        newest.with_extension("snap.damaged").exists(),
        "the damaged file is kept aside for a person to look at"
    );
    put_many(&c, leader, "after", 10);
    c.wait_converged(&[1, 2, 3], WAIT);
}

/// With auth on, the transaction log (every value ever written) is for root and members only: a
/// follower installing a snapshot still fetches the lines it missed, with its member credential,
/// while a client without credentials, or with a forged one, is refused.
#[test]
fn with_auth_on_only_root_and_members_read_the_transaction_log() {
    use base64::Engine;
    let mut c = Cluster::start_with(3, "snapshot_entries = 100\nsnapshot_trailing_entries = 10");
    let leader = c.wait_for_leader(WAIT);
    for (path, body) in [
        (
            "/v3/auth/user/add",
            r#"{"name":"root","password":"rootpw"}"#,
        ),
        ("/v3/auth/role/add", r#"{"name":"root"}"#),
        ("/v3/auth/user/grant", r#"{"user":"root","role":"root"}"#),
        ("/v3/auth/enable", "{}"),
    ] {
        let reply = c.request_follow("POST", leader, path, Some(body.as_bytes()));
        let reply = reply.expect("the leader answers");
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("root:rootpw")
    );
    let root = [("authorization", basic.as_str())];

    let behind = (1..=3).find(|&id| id != leader).unwrap();
    c.kill(behind);
    for i in 0..450 {
        let url = c.url(leader, &format!("/v1/kv/k-{}", i % 50));
        let body = format!("value {i}");
        let reply = c.request_with("PUT", &url, Some(body.as_bytes()), &root);
        let reply = reply.expect("the leader answers");
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    wait_for("the leader to compact its log", WAIT, || {
        (status_field(&c, leader, "first_log_index") > 1).then_some(())
    });
    c.restart(behind);
    let target = status_field(&c, leader, "commit_index");
    wait_for("the follower to catch up", WAIT, || {
        (c.status(behind)?["applied_index"].as_u64()? >= target).then_some(())
    });
    assert!(
        c.output(behind).contains("installed a snapshot"),
        "{}",
        c.output(behind)
    );
    let lines = c.txlog(behind);
    assert!(
        !lines.iter().any(|l| l.contains(" snapshot -- ")),
        "the missed lines were fetched, not marked"
    );
    assert_eq!(lines[..450], c.txlog(leader)[..450], "the same history");

    let keys = raftkv::config::Config::load(&c.config_path)
        .unwrap()
        .peer_keys()
        .unwrap();
    let member = keys.member_credential(raftkv::api::TXLOG_PURPOSE);
    let forged = "0".repeat(member.len());
    let url = c.url(leader, "/v1/txlog?from=2&to=4");
    let ask = |headers: &[(&str, &str)]| c.request_with("GET", &url, None, headers).unwrap();
    let header = raftkv::api::MEMBER_CREDENTIAL_HEADER;
    assert_eq!(ask(&[]).status, 401, "no credentials");
    assert_eq!(ask(&[(header, &forged)]).status, 401, "a forged credential");
    let other = keys.member_credential("GET /v1/snapshot");
    assert_eq!(
        ask(&[(header, &other)]).status,
        401,
        "another route's credential"
    );
    for headers in [&[(header, member.as_str())][..], &root[..]] {
        let reply = ask(headers);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body.lines().count(), 3);
    }
}
