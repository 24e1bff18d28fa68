//! raftkv across hosts: three containers of the shipped image (`deploy/image/build.sh`) on a
//! private Docker network, each with its own address, reaching its peers by host name through
//! the image's own config; the faults are Docker's (a network disconnect, `docker kill`, a
//! restart at another IP, `docker stop` one by one) and every check is made from the host
//! through the published ports, as a user would. One cluster serves every phase (forming one
//! takes seconds); each phase's time is printed at the end.
//!
//! Skipped, saying so, where no Docker Engine answers; `.ci/run` sets `RAFTKV_REQUIRE_DOCKER=1`,
//! which makes that a failure.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::client::{Call, Client, Outcome};
use crate::support::docker::{Project, HEALTHY_WITHIN};
use crate::support::{docker, machine, txlog, wait_for};

const NODES: [u64; 3] = [1, 2, 3];
/// How long one client write may keep retrying (across nodes) before it counts as failed.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long an election or a catch-up may take here: a few election timeouts, generously.
const SETTLE: Duration = Duration::from_secs(30);

#[test]
fn three_containers_by_host_name_survive_partition_kill_new_ip_and_rolling_restart() {
    if !docker::engine_or_skip("hosts_containers") {
        return;
    }
    let _share = machine::share();
    let mut timings: Vec<(&str, Duration)> = Vec::new();

    // 1. Three containers form a cluster by host name, and Docker calls them healthy (the
    //    image's health check asks /readyz).
    let t = Instant::now();
    let mut p = Project::new(&NODES);
    for id in NODES {
        p.run(id, host_part(id));
    }
    let leader = wait_leader(&p, &NODES);
    wait_for("three healthy containers", HEALTHY_WITHIN, || {
        NODES
            .iter()
            .all(|&id| p.health(id) == "healthy")
            .then_some(())
    });
    timings.push((
        "build the image, form a cluster by host name, healthy",
        t.elapsed(),
    ));

    // 2. Writes through any node, linearizable reads through every node, from the host.
    let t = Instant::now();
    let mut client = Client::new(1, &addresses(&p), 1);
    for i in 0..20 {
        put(&mut client, &NODES, &format!("host-{i}"), &format!("v{i}"));
    }
    for id in NODES {
        for i in 0..20 {
            let got = read(&p, id, &format!("host-{i}"), "");
            assert_eq!(got.as_deref(), Some(format!("v{i}").as_str()), "node {id}");
        }
    }
    timings.push((
        "20 writes, 60 linearizable reads from the host",
        t.elapsed(),
    ));

    // 3. A follower cut off the network: it serves no write, the majority goes on, and it
    //    catches up once it is back.
    let t = Instant::now();
    let cut = *NODES.iter().find(|&&id| id != leader).unwrap();
    let majority: Vec<u64> = NODES.iter().copied().filter(|&id| id != cut).collect();
    p.disconnect(cut);
    for i in 0..10 {
        put(&mut client, &majority, &format!("split-{i}"), "majority");
    }
    let (ok, said) = p.exec(cut, &["put", "minority", "lost", "--command-timeout", "5s"]);
    assert!(!ok, "the cut-off node {cut} took a write: {said}");
    assert_eq!(read(&p, leader, "minority", ""), None, "{said}");
    p.connect(cut, host_part(cut));
    wait_for("the cut-off node to catch up", SETTLE, || {
        (read(&p, cut, "split-9", "?consistency=local").as_deref() == Some("majority"))
            .then_some(())
    });
    timings.push((
        "partition a follower, write to the majority, heal, catch up",
        t.elapsed(),
    ));

    // 4. `docker kill` the leader while a client writes: a new leader, and every acknowledged
    //    write is there once the old leader is back.
    let t = Instant::now();
    let leader = wait_leader(&p, &NODES);
    let (stop, acked, writer) = background_writer(&p, 100, 2, "kill");
    wait_for("writes acknowledged before the kill", SETTLE, || {
        (acked.load(Ordering::Relaxed) >= 10).then_some(())
    });
    p.lifecycle("kill", leader);
    let others: Vec<u64> = NODES.iter().copied().filter(|&id| id != leader).collect();
    let new_leader = wait_leader(&p, &others);
    assert_ne!(new_leader, leader);
    let before = acked.load(Ordering::Relaxed);
    wait_for("writes acknowledged under the new leader", SETTLE, || {
        (acked.load(Ordering::Relaxed) >= before + 10).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("the writer thread");
    p.lifecycle("start", leader);
    wait_leader(&p, &NODES);
    for (key, value) in &written {
        for id in NODES {
            wait_for("an acknowledged write on every node", SETTLE, || {
                (read(&p, id, key, "").as_deref() == Some(value.as_str())).then_some(())
            });
        }
    }
    assert!(!written.is_empty(), "the writer acknowledged nothing");
    timings.push((
        "docker kill the leader under writes, restart it",
        t.elapsed(),
    ));

    // 5. A node restarted at another IP: its peers find it again by name.
    let t = Instant::now();
    let moved = leader;
    let before = p.ip(moved);
    p.lifecycle("stop", moved);
    p.disconnect(moved);
    p.connect(moved, host_part(moved) + 100);
    p.lifecycle("start", moved);
    let after = p.ip(moved);
    assert_ne!(before, after, "node {moved} kept its address");
    let others: Vec<u64> = NODES.iter().copied().filter(|&id| id != moved).collect();
    put(&mut client, &others, "after-move", "found");
    wait_for("the moved node to hear from its peers", SETTLE, || {
        (read(&p, moved, "after-move", "?consistency=local").as_deref() == Some("found"))
            .then_some(())
    });
    timings.push((
        "restart a node at a new IP; peers find it by name",
        t.elapsed(),
    ));

    // 6. A rolling restart (SIGTERM, one node at a time) under a write load: no write fails.
    let t = Instant::now();
    wait_leader(&p, &NODES);
    let (stop, _, writer) = background_writer(&p, 200, 3, "roll");
    for id in NODES {
        p.lifecycle("stop", id);
        p.lifecycle("start", id);
        wait_for("the restarted node to be ready", SETTLE, || {
            ready(&p, id).then_some(())
        });
    }
    stop.store(true, Ordering::Relaxed);
    let rolled = writer.join().expect("the writer thread");
    assert!(
        rolled.len() > 10,
        "only {} writes during the roll",
        rolled.len()
    );
    timings.push(("rolling restart under writes, none failed", t.elapsed()));

    // 7. The three transaction logs agree: each is a prefix of the longest.
    let t = Instant::now();
    let leader = wait_leader(&p, &NODES);
    put(&mut client, &[leader], "last", "1");
    wait_for("every node to apply the last write", SETTLE, || {
        NODES
            .iter()
            .all(|&id| read(&p, id, "last", "?consistency=local").as_deref() == Some("1"))
            .then_some(())
    });
    let logs: Vec<(u64, Vec<String>)> = NODES.iter().map(|&id| (id, p.txlog(id))).collect();
    let longest = txlog::assert_prefixes_of_longest(&logs);
    assert!(longest.len() > 50, "{} lines", longest.len());
    timings.push(("compare the three transaction logs", t.elapsed()));

    eprintln!(
        "hosts_containers: {} acknowledged writes during the kill, {} during the roll",
        written.len(),
        rolled.len()
    );
    for (phase, took) in &timings {
        eprintln!("hosts_containers: {took:>8.1?}  {phase}");
    }
}

/// The last octet of node `id`'s first address on the test network.
fn host_part(id: u64) -> u8 {
    10 + id as u8
}

/// The host addresses of the nodes' HTTP doors, node 1 first.
fn addresses(p: &Project) -> Vec<String> {
    NODES.iter().map(|&id| p.http(id)).collect()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// Node `id`'s `/v1/status`, if it answers.
fn status(p: &Project, id: u64) -> Option<serde_json::Value> {
    let url = format!("http://{}/v1/status", p.http(id));
    let mut reply = agent().get(&url).call().ok()?;
    let body = reply.body_mut().read_to_string().ok()?;
    serde_json::from_str(&body).ok()
}

/// Whether node `id` answers `/readyz` with 200.
fn ready(p: &Project, id: u64) -> bool {
    let url = format!("http://{}/readyz", p.http(id));
    agent()
        .get(&url)
        .call()
        .is_ok_and(|r| r.status().as_u16() == 200)
}

/// The leader every node of `among` follows.
fn wait_leader(p: &Project, among: &[u64]) -> u64 {
    wait_for("one leader that every node follows", SETTLE, || {
        let statuses: Vec<serde_json::Value> =
            among.iter().filter_map(|&id| status(p, id)).collect();
        let leader = statuses
            .iter()
            .find(|s| s["role"] == "leader")
            .and_then(|s| s["id"].as_u64())?;
        let agreed = statuses.len() == among.len()
            && statuses
                .iter()
                .all(|s| s["leader"].as_u64() == Some(leader));
        agreed.then_some(leader)
    })
}

/// `GET /v1/kv/<key><query>` on node `id`: the value, or `None` for 404; panics otherwise.
fn read(p: &Project, id: u64, key: &str, query: &str) -> Option<String> {
    let url = format!("http://{}/v1/kv/{key}{query}", p.http(id));
    let mut reply = agent().get(&url).call().ok()?;
    match reply.status().as_u16() {
        200 => Some(reply.body_mut().read_to_string().expect("a value")),
        _ => None,
    }
}

/// Writes `key = value` through `nodes` (retrying under one exactly-once session); panics
/// unless it is acknowledged.
fn put(client: &mut Client, nodes: &[u64], key: &str, value: &str) {
    let mut call = Call::write(
        "PUT",
        format!("/v1/kv/{key}"),
        Some(value.as_bytes().to_vec()),
    );
    call.session = Some(client.next_session());
    match client.perform(nodes, &call, PATIENCE) {
        Outcome::Done(reply) if reply.status == 200 => {}
        other => panic!("writing {key} through {nodes:?}: {other:?}"),
    }
}

/// The writer threads, joined: every write they had acknowledged.
type Writers = std::thread::JoinHandle<Vec<(String, String)>>;

/// `clients` threads writing distinct keys through every node until `stop` is set (the second
/// value counts the writes acknowledged so far), as the
/// exactly-once clients `first_id`, `first_id + 1`, … (ids not used before: a session's
/// numbers only rise); returns the writes acknowledged. A write that is not acknowledged within
/// [`PATIENCE`] fails the test.
fn background_writer(
    p: &Project,
    first_id: u64,
    clients: u64,
    tag: &'static str,
) -> (Arc<AtomicBool>, Arc<AtomicUsize>, Writers) {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&acked);
    let addrs = addresses(p);
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (addrs, flag) = (addrs.clone(), Arc::clone(&flag));
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let mut client = Client::new(first_id + c, &addrs, first_id + c);
                    let mut written = Vec::new();
                    let mut i = 0;
                    while !flag.load(Ordering::Relaxed) {
                        let (key, value) = (format!("{tag}-{c}-{i}"), format!("{i}"));
                        put(&mut client, &NODES, &key, &value);
                        written.push((key, value));
                        counter.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                    written
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a writer"))
            .collect()
    });
    (stop, acked, handle)
}
