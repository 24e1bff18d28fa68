//! Fault scenario 2 — repeated leader kills under load (five `raftkv node` processes, ~30 s),
//! once as shipped and once with a snapshot every 100 entries:
//! eight clients write and read student records, stacks and compare-and-swap registers (`/v1/kv`
//! keys read with their version, written, and swapped conditional on the version read) against
//! random nodes while a timer SIGKILLs the leader every 5–7 s and restarts the node killed
//! before. Afterwards the transaction logs, the final state and the clients' history must agree,
//! and every version a client was told must name one value.
//!
//! `RAFTKV_FAULT_SECONDS` changes the length of the load (default 30: five rounds of 5–7 s, each
//! ending in a kill); `RAFTKV_FAULT_SEED` the seed of the clients and the timer (printed on every
//! run); `RAFTKV_HISTORY_DIR` keeps the recorded histories as JSON.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::checks::{
    acked, assert_acked_writes_survive, assert_stacks_accounted, kv_of, stacks_of, students_of,
};
use crate::support::client::Client;
use crate::support::history::summary;
use crate::support::history::KvOut;
use crate::support::linearizable::{assert_kv_linearizable, assert_stacks_linearizable};
use crate::support::txlog::assert_prefixes_of_longest;
use crate::support::workload::{run_mixed_client, Histories, Mix, Tally, Versions};
use crate::support::{Cluster, StopOnDrop};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const BOUND: Duration = Duration::from_secs(15);
const CLIENTS: u64 = 8;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn repeated_leader_kills_under_load() {
    scenario("", false);
}

/// The same with a snapshot every 100 entries: nodes are killed while snapshots are written, and
/// a killed leader that comes back behind the others' compacted logs installs a snapshot.
#[test]
fn repeated_leader_kills_while_snapshots_are_written_and_installed() {
    scenario(
        "snapshot_entries = 100\nsnapshot_trailing_entries = 20",
        true,
    );
}

fn scenario(extra_config: &str, expect_installs: bool) {
    let seconds = env_u64("RAFTKV_FAULT_SECONDS", 30);
    let rounds = (seconds / 6).max(1);
    let seed = env_u64("RAFTKV_FAULT_SEED", rand::random::<u32>() as u64);
    eprintln!("scenario 2: seed {seed} (RAFTKV_FAULT_SEED={seed} replays the choices)");
    let mut c = Cluster::start_with(5, extra_config);
    let all: Vec<u64> = (1..=5).collect();
    let (first_leader, _) = c.wait_for_leader_above(&all, 0, BOUND);

    // Six stacks to contend on (few enough for contention, enough to keep each stack's history
    // small for the checker).
    let mut setup = Client::new(1, &c.http_addrs(), seed);
    let stacks: Vec<u64> = (1..=6)
        .map(|label| {
            let call = support::client::Call::write(
                "POST",
                "/v1/stacks",
                Some(format!("{{\"label\":{label}}}").into_bytes()),
            );
            match setup.perform(&all, &call, BOUND) {
                support::client::Outcome::Done(r) => r.json()["stack_id"].as_u64().unwrap(),
                other => panic!("cannot create stack {label}: {other:?}"),
            }
        })
        .collect();
    let mix = Mix {
        roll_numbers: 20,
        stacks,
        registers: (1..=4).map(|r| format!("register-{r}")).collect(),
    };

    let histories = Histories::new();
    let tally = Tally::default();
    let stop = Arc::new(AtomicBool::new(false));
    let guard = StopOnDrop(Arc::clone(&stop));
    let addrs = c.http_addrs();
    let mut leaders = vec![first_leader];
    let mut kills = 0;
    let mut last_killed: Option<u64> = None;
    let load_started = Instant::now();
    std::thread::scope(|s| {
        for k in 0..CLIENTS {
            let client = Client::new(100 + k, &addrs, seed.wrapping_add(k + 1));
            let (all, mix, histories, tally, stop) = (&all, &mix, &histories, &tally, &stop);
            s.spawn(move || run_mixed_client(client, all, mix, histories, tally, stop));
        }
        // The killer: a timer, part of the workload (not a wait for anything). A fixed number
        // of rounds of 5-7 s each, so a slow machine stretches the run instead of killing less.
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..rounds {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(rng.random_range(5000..7000)));
            let (leader, term) = c.wait_for_leader_above(&c.running(), 0, BOUND);
            c.kill(leader);
            kills += 1;
            if let Some(previous) = last_killed {
                c.start_node(previous);
            }
            last_killed = Some(leader);
            eprintln!("scenario 2: killed leader {leader} (term {term}) at kill #{kills}");
            let (next, _) = c.wait_for_leader_above(&c.running(), term, BOUND);
            leaders.push(next);
        }
        drop(guard);
    });
    let load = load_started.elapsed();

    // Transaction logs: each a prefix of the longest, even with a node down and one behind.
    let logs: Vec<(u64, Vec<String>)> = all.iter().map(|&id| (id, c.txlog(id))).collect();
    assert_prefixes_of_longest(&logs);

    // Bring the last killed node back; every node converges to one state and one log.
    if let Some(id) = last_killed {
        c.start_node(id);
    }
    let converge_started = Instant::now();
    let state = c.wait_converged(&all, BOUND);
    let converged_in = converge_started.elapsed();
    let longest = assert_prefixes_of_longest(&logs_of(&c, &all));

    let students = histories.students.ops();
    let stacks = histories.stacks.ops();
    let registers = histories.kv.ops();
    support::history::dump("scenario2-students", &students);
    support::history::dump("scenario2-stacks", &stacks);
    support::history::dump("scenario2-registers", &registers);
    assert_acked_writes_survive(&students, &students_of(&state));
    assert_acked_writes_survive(&registers, &kv_of(&state));
    let ledger = assert_stacks_accounted(&stacks, &longest, &stacks_of(&state));
    let versions_seen = histories.versions.assert_one_to_one();
    assert_final_versions_match_what_clients_saw(&state, &histories.versions);

    let students_check = assert_kv_linearizable("students", &students);
    let stacks_check = assert_stacks_linearizable(&stacks);
    let registers_check = assert_kv_linearizable("registers", &registers);
    let swaps = |won: bool| {
        registers
            .iter()
            .filter(|op| op.output == Some(KvOut::Swapped(won)))
            .count()
    };

    let final_term = c.status(1).expect("node 1 answers")["term"]
        .as_u64()
        .unwrap();
    eprintln!(
        "scenario 2: {:.1?}, {kills} leader kills, leaders in order {leaders:?}, final term \
         {final_term}; clients: {}; students {} (acked {}), stacks {} (acked {}); {} entries, \
         {} pushes, {} pops in the log; registers {} (acked {}, {} swaps won, {} lost, {} \
         values with versions); converged {converged_in:?} after the last restart; \
         linearizability checked in {students_check:?} (students), {stacks_check:?} (stacks) \
         and {registers_check:?} (registers)",
        load,
        tally.describe(),
        summary(&students),
        acked(&students),
        summary(&stacks),
        acked(&stacks),
        longest.len(),
        ledger.pushed.len(),
        ledger.popped.len(),
        summary(&registers),
        acked(&registers),
        swaps(true),
        swaps(false),
        versions_seen,
    );
    assert_eq!(kills, rounds, "every round killed a leader");
    if expect_installs {
        let installs = all
            .iter()
            .filter(|&&id| c.output(id).contains("installed a snapshot"))
            .count();
        assert!(
            installs > 0,
            "no node caught up by a snapshot: the scenario tested nothing new"
        );
    }
    assert!(
        acked(&students) + acked(&stacks) > 100,
        "too little work got through to mean anything"
    );
    assert!(
        swaps(true) > 0 && swaps(false) > 0,
        "the registers saw no contention: no swap both won and lost"
    );
}

/// Each register's final version is the one clients were told for its final value.
fn assert_final_versions_match_what_clients_saw(state: &serde_json::Value, versions: &Versions) {
    for (key, entry) in state["kv"].as_object().expect("kv") {
        let value = entry["value"].as_str().expect("text value");
        let version = entry["version"].as_u64().expect("version");
        if let Some(told) = versions.of(value) {
            assert_eq!(
                told, version,
                "{key} holds {value:?} at version {version}, but a client was told {told}"
            );
        }
    }
}

fn logs_of(c: &Cluster, ids: &[u64]) -> Vec<(u64, Vec<String>)> {
    ids.iter().map(|&id| (id, c.txlog(id))).collect()
}
