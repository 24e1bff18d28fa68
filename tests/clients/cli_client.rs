//! The client commands against a real 3-node cluster, each sent to a follower so that the redirect
//! to the leader is followed by the CLI (the cluster runs `follower_requests = "redirect"`; with
//! the default a follower forwards instead, see tests/node/node_forwarding.rs). One cluster for the
//! whole file (it takes a second to start).

use std::time::Duration;

use base64::Engine;

use crate::support;
use crate::support::cli::{raftkv, raftkv_env, raftkv_stdin};
use crate::support::{free_ports, Cluster};

#[test]
fn client_commands_work_through_a_follower() {
    let c = Cluster::start_with(3, "follower_requests = \"redirect\"");
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let via_follower = c.endpoints(&[follower]);
    let cli = |args: &[&str]| {
        let mut all = vec!["--endpoints", via_follower.as_str()];
        all.extend_from_slice(args);
        raftkv(&all)
    };

    member_list_marks_the_leader(&c, leader, &cli);
    key_values(&c, &cli);
    students(&cli);
    stacks(&cli);
    a_dead_endpoint_is_skipped(&c, follower);
    flags_from_the_environment(&c, follower);
    put_reads_a_missing_value_from_stdin(&c, follower);
    status_lists_every_endpoint(&c, leader);
    bench_finds_the_leader_and_reports(&c, leader, &cli);
}

fn member_list_marks_the_leader(
    c: &Cluster,
    leader: u64,
    cli: &dyn Fn(&[&str]) -> support::cli::Run,
) {
    let run = cli(&["member", "list"]);
    let out = run.ok();
    assert!(out.starts_with("+----"), "a table by default:\n{out}");
    // Each line's cells, borders dropped (an empty cell stays, so columns keep their place).
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_string()).collect()
    };
    let header = cells(out.lines().nth(1).expect("a header line"));
    assert_eq!(
        header,
        [
            "ID",
            "NAME",
            "RAFT ADDRS",
            "HTTP ADDRS",
            "TEXT ADDRS",
            "ROLE",
            "TERM",
            "IS LEADER",
            "IS LEARNER"
        ],
        "{out}"
    );
    let rows: Vec<Vec<String>> = out
        .lines()
        .skip(3)
        .filter(|l| l.starts_with('|'))
        .map(cells)
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    for row in &rows {
        let id: u64 = row[0].parse().expect("numeric id");
        assert_eq!(row[1], format!("node{id}"));
        // Each address with the scheme of its protocol: ZeroMQ and the text protocol are TCP.
        assert!(row[2].starts_with("tcp://127.0.0.1:"), "{out}");
        assert_eq!(row[3], format!("http://{}", c.http_addr(id)));
        assert!(row[4].starts_with("tcp://127.0.0.1:"), "{out}");
        let is_leader = id == leader;
        // The role a node reports (/v1/status) and the leader mark must agree: one spelling.
        assert_eq!(
            row[5],
            if is_leader { "leader" } else { "follower" },
            "{out}"
        );
        assert_eq!(row[7], is_leader.to_string(), "{out}");
    }

    let json = cli(&["member", "list", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(json.ok()).expect("JSON output");
    assert_eq!(v["leader"].as_u64(), Some(leader));
    let members = v["members"].as_array().expect("members");
    let marked: Vec<(u64, &str)> = members
        .iter()
        .filter(|m| m["is_leader"] == true)
        .map(|m| {
            (
                m["id"].as_u64().unwrap_or(0),
                m["role"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(marked, vec![(leader, "leader")], "{v}");
    let me = &members[0];
    let id = me["id"].as_u64().expect("an id");
    assert_eq!(me["http"], format!("http://{}", c.http_addr(id)), "{v}");
    assert!(
        me["raft"].as_str().is_some_and(|r| r.starts_with("tcp://")),
        "{v}"
    );
}

fn key_values(c: &Cluster, cli: &dyn Fn(&[&str]) -> support::cli::Run) {
    assert_eq!(cli(&["put", "mykey", "this is awesome"]).ok(), "OK\n");
    assert_eq!(cli(&["get", "mykey"]).ok(), "mykey\nthis is awesome\n");
    assert_eq!(
        cli(&["get", "mykey", "--print-value-only"]).ok(),
        "this is awesome\n"
    );
    // The write reached the leader and was replicated: every node serves it locally.
    for id in 1..=3 {
        let reply = support::wait_for("the value on every node", Duration::from_secs(5), || {
            c.request("GET", id, "/v1/kv/mykey?consistency=local", None)
                .ok()
                .filter(|r| r.status == 200)
        });
        assert_eq!(reply.body, "this is awesome");
    }
    // A key's version is the revision that last wrote it (its etcd mod_revision).
    let put = cli(&["put", "mykey", "this is awesome", "-w", "json"]);
    let put: serde_json::Value = serde_json::from_str(put.ok()).expect("JSON output");
    let json = cli(&["get", "mykey", "-w", "json", "--consistency", "log"]);
    let v: serde_json::Value = serde_json::from_str(json.ok()).expect("JSON output");
    // Like etcdctl's -w json: key and value in base64.
    assert_eq!(v["key"], base64("mykey".as_bytes()));
    assert_eq!(v["value"], base64(b"this is awesome"));
    assert!(v["version"].as_u64().is_some());
    assert_eq!(v["version"], put["version"]);
    // etcdctl's consistency names: s (serializable: the node's own state) and l (linearizable).
    for level in ["s", "serializable", "l"] {
        let out = cli(&["get", "mykey", &format!("--consistency={level}")]);
        assert_eq!(
            out.ok(),
            "mykey\nthis is awesome\n",
            "--consistency={level}"
        );
    }

    keys_survive_the_url(cli);

    assert_eq!(cli(&["del", "mykey"]).ok(), "1\n");
    assert_eq!(cli(&["del", "mykey"]).ok(), "0\n");
    let missing = cli(&["get", "mykey"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert_eq!(missing.stderr, "raftkv: key \"mykey\" not found\n");
    assert_eq!(missing.stdout, "");

    versions_ttl_and_cas(cli);
}

/// `put --ttl`, `get --meta` and `cas`: a swap at the current version wins and prints the new
/// one; a swap at an old version fails naming the current one; a swap on a missing key fails.
fn versions_ttl_and_cas(cli: &dyn Fn(&[&str]) -> support::cli::Run) {
    let meta = |key: &str| -> (String, u64, String) {
        let out = cli(&["get", key, "--meta"]).ok().to_string();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "key, value, version, expiry:\n{out}");
        assert_eq!(lines[0], key);
        let version = lines[2]
            .strip_prefix("version ")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("a version line:\n{out}"));
        let expires = lines[3]
            .strip_prefix("expires_in ")
            .expect("an expiry line");
        (lines[1].to_string(), version, expires.to_string())
    };

    assert_eq!(cli(&["put", "lease", "v1", "--ttl", "300"]).ok(), "OK\n");
    let (value, v1, expires) = meta("lease");
    assert_eq!(value, "v1");
    let secs: u64 = expires.parse().expect("a number of seconds");
    assert!((1..=300).contains(&secs), "expires in {secs}s");

    let swapped = cli(&["cas", "lease", &v1.to_string(), "v2"]);
    let v2: u64 = swapped
        .ok()
        .strip_prefix("OK ")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("OK and the new version: {swapped:?}"));
    assert!(
        v2 > v1,
        "a version is the revision that wrote it: {v2} after {v1}"
    );
    // The swap carried no --ttl: the key no longer expires.
    assert_eq!(meta("lease"), ("v2".to_string(), v2, "never".to_string()));

    let stale = cli(&["cas", "lease", &v1.to_string(), "v3"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert_eq!(
        stale.stderr,
        format!("raftkv: \"lease\" is at version {v2}, not {v1}\n")
    );
    assert_eq!(meta("lease").0, "v2", "a failed swap writes nothing");

    let absent = cli(&["cas", "no-such-key", "1", "x"]);
    assert_eq!(absent.code, 1, "{absent:?}");
    assert!(absent.stderr.contains("not found"), "{absent:?}");

    // --absent creates a missing key, and refuses an existing one naming its version.
    let created = cli(&["cas", "label-1", "--absent", "stack 1"]);
    let created: u64 = created
        .ok()
        .strip_prefix("OK ")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("OK and the new version: {created:?}"));
    assert_eq!(meta("label-1"), ("stack 1".into(), created, "never".into()));
    let refused = cli(&["cas", "label-1", "--absent", "stack 2"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(
        refused.stderr,
        format!("raftkv: \"label-1\" exists, at version {created}\n")
    );
    assert_eq!(
        meta("label-1").0,
        "stack 1",
        "a refused create writes nothing"
    );
    // Version 0 is the same compare: no key is ever at version 0.
    let zero = cli(&["cas", "label-1", "0", "stack 3"]);
    assert_eq!(zero.code, 1, "{zero:?}");
    assert_eq!(cli(&["del", "label-1"]).ok(), "1\n");
    assert!(cli(&["cas", "label-1", "0", "stack 4"])
        .ok()
        .starts_with("OK "));
    assert_eq!(meta("label-1").0, "stack 4");

    let json = cli(&["get", "lease", "--meta", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(json.ok()).expect("JSON output");
    assert_eq!(v["value"], base64(b"v2"));
    assert_eq!(v["version"].as_u64(), Some(v2));
    assert!(v["expires_in"].is_null(), "{v}");
}

/// Keys that need escaping in a URL are stored and read back as given.
fn keys_survive_the_url(cli: &dyn Fn(&[&str]) -> support::cli::Run) {
    for key in [
        "a dir/a key?",
        "100% sure",
        "what?x=1&y=2",
        "#hash",
        "a+b=c",
        "naïve/日本語/ключ",
        "semi;colon,comma:colon@at",
    ] {
        assert_eq!(cli(&["put", key, "x"]).ok(), "OK\n", "{key:?}");
        assert_eq!(cli(&["get", key]).ok(), format!("{key}\nx\n"), "{key:?}");
        let json = cli(&["get", key, "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(json.ok()).expect("JSON output");
        assert_eq!(v["key"], base64(key.as_bytes()), "{key:?}");
        assert_eq!(cli(&["del", key]).ok(), "1\n", "{key:?}");
    }
}

fn students(cli: &dyn Fn(&[&str]) -> support::cli::Run) {
    let put = |roll: &str, name: &str| {
        cli(&[
            "student",
            "put",
            roll,
            "--name",
            name,
            "--address",
            "1 Main St",
            "--phone",
            "555-0100",
        ])
    };
    assert_eq!(put("7", "Ann").ok(), "OK\n");
    assert_eq!(put("3", "Bob").ok(), "OK\n");
    assert_eq!(
        cli(&["student", "get", "7"]).ok(),
        "7, Ann, 1 Main St, 555-0100\n"
    );
    assert_eq!(
        cli(&["student", "list"]).lines(),
        vec!["3, Bob, 1 Main St, 555-0100", "7, Ann, 1 Main St, 555-0100"]
    );
    let table = cli(&["student", "list", "-w", "table"]);
    assert!(table.ok().contains("| ROLL NO | NAME |"), "{table:?}");
    assert_eq!(cli(&["student", "del", "3"]).ok(), "1\n");
    assert_eq!(
        cli(&["student", "list"]).lines(),
        vec!["7, Ann, 1 Main St, 555-0100"]
    );
    let gone = cli(&["student", "get", "3"]);
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("student 3 not found"), "{gone:?}");
}

fn stacks(cli: &dyn Fn(&[&str]) -> support::cli::Run) {
    let id = cli(&["stack", "create", "1"]).ok().trim().to_string();
    assert_eq!(cli(&["stack", "id", "1"]).ok().trim(), id);
    assert_eq!(
        cli(&["stack", "create", "1"]).ok().trim(),
        id,
        "a label keeps its id"
    );
    assert_eq!(cli(&["stack", "push", &id, "10"]).ok(), "1\n");
    assert_eq!(cli(&["stack", "push", &id, "-20"]).ok(), "2\n");
    assert_eq!(cli(&["stack", "top", &id]).ok(), "-20\n");
    assert_eq!(cli(&["stack", "size", &id]).ok(), "2\n");
    assert_eq!(cli(&["stack", "pop", &id]).ok(), "-20\n");
    assert_eq!(cli(&["stack", "pop", &id]).ok(), "10\n");
    let empty = cli(&["stack", "pop", &id]);
    assert_eq!(
        (empty.code, empty.stderr.as_str()),
        (1, "raftkv: the stack is empty\n")
    );
    let unknown = cli(&["stack", "id", "999"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
}

/// The first endpoint refuses connections: the CLI moves on to the next.
fn a_dead_endpoint_is_skipped(c: &Cluster, follower: u64) {
    let dead = format!("127.0.0.1:{}", free_ports(1)[0]);
    let endpoints = format!("{dead},{}", c.http_addr(follower));
    let run = raftkv(&["--endpoints", &endpoints, "put", "k2", "v2"]);
    assert_eq!(run.ok(), "OK\n");
    let run = raftkv(&["--endpoints", &endpoints, "get", "k2"]);
    assert_eq!(run.ok(), "k2\nv2\n");
}

/// `RAFTKV_<FLAG>` stands in for a global flag; the flag on the command line wins.
fn flags_from_the_environment(c: &Cluster, follower: u64) {
    let endpoint = c.http_addr(follower);
    let vars = [("RAFTKV_ENDPOINTS", endpoint.as_str())];
    assert_eq!(raftkv_env(&["put", "env", "v"], &vars).ok(), "OK\n");
    assert_eq!(raftkv_env(&["get", "env"], &vars).ok(), "env\nv\n");
    let json = [
        ("RAFTKV_ENDPOINTS", endpoint.as_str()),
        ("RAFTKV_WRITE_OUT", "json"),
    ];
    let run = raftkv_env(&["status"], &json);
    let v: serde_json::Value = serde_json::from_str(run.ok()).expect("JSON output");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    // A dead endpoint in the environment, a live one on the command line: the flag wins.
    let dead = format!("127.0.0.1:{}", free_ports(1)[0]);
    let run = raftkv_env(
        &["--endpoints", &endpoint, "get", "env"],
        &[("RAFTKV_ENDPOINTS", dead.as_str())],
    );
    assert_eq!(run.ok(), "env\nv\n");
}

/// `put KEY` without VALUE stores standard input as read, newline included (as etcdctl does).
fn put_reads_a_missing_value_from_stdin(c: &Cluster, follower: u64) {
    let endpoint = c.http_addr(follower);
    let put = raftkv_stdin(&["--endpoints", &endpoint, "put", "piped"], b"v\n");
    assert_eq!(put.ok(), "OK\n");
    let get = raftkv(&[
        "--endpoints",
        &endpoint,
        "get",
        "piped",
        "--print-value-only",
    ]);
    assert_eq!(get.ok(), "v\n\n");
    let put = raftkv_stdin(&["--endpoints", &endpoint, "put", "piped"], b"two\nlines");
    assert_eq!(put.ok(), "OK\n");
    let get = raftkv(&[
        "--endpoints",
        &endpoint,
        "get",
        "piped",
        "--print-value-only",
    ]);
    assert_eq!(get.ok(), "two\nlines\n");

    // Every byte value, through stdin and back through -w json (base64): nothing is lost.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let put = raftkv_stdin(&["--endpoints", &endpoint, "put", "binary"], &bytes);
    assert_eq!(put.ok(), "OK\n");
    for extra in [&[][..], &["--meta"][..]] {
        let mut args = vec![
            "--endpoints",
            endpoint.as_str(),
            "get",
            "binary",
            "-w",
            "json",
        ];
        args.extend_from_slice(extra);
        let get = raftkv(&args);
        let v: serde_json::Value = serde_json::from_str(get.ok()).expect("JSON output");
        let value = v["value"].as_str().expect("a base64 value");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .expect("valid base64");
        assert_eq!(decoded, bytes, "{extra:?}");
    }
}

fn status_lists_every_endpoint(c: &Cluster, leader: u64) {
    let run = raftkv(&[
        "--endpoints",
        &c.endpoints(&[1, 2, 3]),
        "status",
        "-w",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(run.ok()).expect("JSON output");
    let rows = v.as_array().expect("one entry per endpoint");
    assert_eq!(rows.len(), 3);
    let leaders: Vec<u64> = rows
        .iter()
        .filter(|r| r["status"]["role"] == "leader")
        .filter_map(|r| r["status"]["id"].as_u64())
        .collect();
    assert_eq!(leaders, vec![leader]);
}

/// A short mixed run through a follower's address: the bench finds the leader, preloads its keys,
/// and every request succeeds.
fn bench_finds_the_leader_and_reports(
    c: &Cluster,
    leader: u64,
    cli: &dyn Fn(&[&str]) -> support::cli::Run,
) {
    let run = cli(&[
        "bench",
        "--clients",
        "2",
        "--duration",
        "1s",
        "--op",
        "mixed",
        "--keys",
        "20",
        "--value-size",
        "64",
        "-w",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(run.ok()).expect("JSON summary");
    assert_eq!(v["leader"].as_str(), Some(c.http_addr(leader).as_str()));
    assert!(v["ok"].as_u64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    let p50 = v["latency_ms"]["p50"].as_f64().expect("p50");
    let max = v["latency_ms"]["max"].as_f64().expect("max");
    assert!(0.0 < p50 && p50 <= max, "{v}");
    assert!(
        run.stderr.contains("ops/s"),
        "progress lines go to stderr: {}",
        run.stderr
    );
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
