//! Overload costs latency, never leadership: a leader flooded with proposals keeps its
//! followers, and no follower starts a campaign. Each round puts tens of megabytes of new keys
//! in flight at once, so applying, writing the transaction logs and refreshing the state-file
//! keep every node busy while the test election timeouts (150–300 ms) keep running.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::inproc::InProcCluster;
use raftkv::replicator::{ClientError, Propose};
use raftkv::state::{Command, Request};

const DEADLINE: Duration = Duration::from_secs(20);
const ROUNDS: usize = 3;
const PROPOSALS_PER_ROUND: usize = 10_000;
const VALUE_BYTES: usize = 1024;

// Flaky on a 2-core machine: ticks and heartbeats wait behind applying a flood (issue 12, item 1),
// and the MVCC write path made that likelier (8 of 14 local runs passed, 11 of 14 before it).
// Run it with `cargo test --test node_overload -- --ignored` until issue 12's item 1 lands.
#[actix_rt::test]
#[ignore = "flaky until issue 12 item 1: raft ticks still wait behind applying a flood"]
async fn a_flood_of_proposals_starts_no_election_and_moves_no_term() {
    let _ = env_logger::builder()
        .is_test(true)
        .format_timestamp_millis()
        .try_init();
    let mut c = InProcCluster::configure(3, "");
    // One thread per node, as separate processes would have.
    c.threads = true;
    c.taps = false;
    for id in 1..=3 {
        c.start_node(id);
    }
    let leader = c.wait_for_leader(DEADLINE).await;
    let term = c.status(leader).await.term;
    // The first election's campaigns are counted too: compare against the counts after it.
    let mut campaigns = Vec::new();
    for id in 1..=3 {
        campaigns.push(c.metrics(id).await.elections_started.get());
    }
    let value = Bytes::from(vec![b'v'; VALUE_BYTES]);

    for round in 0..ROUNDS {
        let addr = c.addr(leader);
        let flood: Vec<_> = (0..PROPOSALS_PER_ROUND)
            .map(|i| {
                addr.send(Propose(Request::new(Command::KvPut {
                    key: format!("flood-{round}-{i}"),
                    value: value.clone(),
                })))
            })
            .collect();
        let answers = futures::future::join_all(flood).await;
        let mut written = 0;
        for answer in answers {
            match answer.expect("the leader's mailbox is open") {
                Ok(_) => written += 1,
                // Refusing part of a flood is allowed; losing the leader is not.
                Err(ClientError::Busy) => {}
                Err(e) => panic!("round {round}: a proposal failed with {e}"),
            }
        }
        assert!(written > 0, "round {round}: nothing was written");
        for id in 1..=3 {
            let metrics = c.metrics(id).await;
            let status = c.status(id).await;
            assert_eq!(
                metrics.elections_started.get(),
                campaigns[id as usize - 1],
                "round {round}: node {id} started a campaign"
            );
            assert_eq!(status.term, term, "round {round}: node {id} moved the term");
            assert_eq!(status.leader, Some(leader), "round {round}: node {id}");
        }
    }
    c.stop_all().await;
}
