//! Overload costs latency, never leadership: a leader flooded with proposals keeps its
//! followers, and no follower starts a campaign. Each round puts tens of megabytes of new keys
//! in flight at once, so applying, writing the transaction logs and refreshing the state-file
//! keep every node busy while the test election timeouts (150–300 ms) keep running. A follower
//! stopped for several election timeouts does not campaign when it resumes either.

use std::time::Duration;

use crate::support::inproc::InProcCluster;
use crate::support::machine;
use bytes::Bytes;
use raftkv::replicator::{ClientError, Propose};
use raftkv::state::{Command, Request};

use crate::support::config::ELECTION_TIMEOUT_MAX_MS;

const DEADLINE: Duration = Duration::from_secs(20);
const ROUNDS: usize = 3;
const PROPOSALS_PER_ROUND: usize = 10_000;
const VALUE_BYTES: usize = 1024;

/// Both tests load the machine on purpose; beside another test (each other, or any other of the
/// `node` target, which shares their process) each would measure the other's load as much as its
/// own. The guard holds the whole machine (`support::machine`): no other test's cluster runs
/// meanwhile.
fn alone() -> machine::Whole {
    machine::whole()
}

/// Three nodes, each on a thread of its own as separate processes would be, and their leader.
async fn three_threaded_nodes() -> (InProcCluster, u64) {
    let mut c = InProcCluster::configure(3, "");
    c.threads = true;
    c.taps = false;
    for id in 1..=3 {
        c.start_node(id);
    }
    let leader = c.wait_for_leader(DEADLINE).await;
    (c, leader)
}

#[actix_rt::test]
async fn a_flood_of_proposals_starts_no_election_and_moves_no_term() {
    let _alone = alone();
    let _ = env_logger::builder()
        .is_test(true)
        .format_timestamp_millis()
        .try_init();
    let (mut c, leader) = three_threaded_nodes().await;
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

/// A follower whose thread stops for several election timeouts while the leader keeps writing
/// finds the leader's messages waiting in its inbox when it resumes. It must read them before it
/// judges its election timer: a campaign here would be a node paused by the machine (a stopped
/// process, a swap storm) unseating a healthy leader.
#[actix_rt::test]
async fn a_paused_follower_reads_its_inbox_before_it_judges_its_election_timer() {
    let _alone = alone();
    let (mut c, leader) = three_threaded_nodes().await;
    let follower = (1..=3).find(|&id| id != leader).expect("three nodes");
    let term = c.status(leader).await.term;
    let campaigns = c.metrics(follower).await.elections_started.get();
    let value = Bytes::from(vec![b'p'; VALUE_BYTES]);

    for round in 0..3 {
        c.pause(follower, Duration::from_millis(4 * ELECTION_TIMEOUT_MAX_MS))
            .await;
        // Writes during the pause: the leader's appends and heartbeats pile up in the inbox.
        for i in 0..200 {
            let key = format!("pause-{round}-{i}");
            c.propose(
                leader,
                Command::KvPut {
                    key,
                    value: value.clone(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("round {round}: write {i} failed with {e}"));
        }
        let committed = c.status(leader).await.commit_index;
        // The follower answers once its pause ends; wait until it has caught up.
        let deadline = std::time::Instant::now() + DEADLINE;
        while c.status(follower).await.applied_index < committed {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: node {follower} did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = c.status(follower).await;
        assert_eq!(
            c.metrics(follower).await.elections_started.get(),
            campaigns,
            "round {round}: the paused node {follower} started a campaign"
        );
        assert_eq!(
            status.term, term,
            "round {round}: node {follower} moved the term"
        );
        assert_eq!(status.leader, Some(leader), "round {round}");
    }
    c.stop_all().await;
}
