//! Three `Replicator` actors in one process (one actix system, real ZeroMQ on loopback, real
//! files): the envelope path, replication into the transaction logs, restart from the data dir,
//! hostile frames on the raft port, a peer restarted on the same address, and the state-machine
//! file written on stop.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::inproc::InProcCluster;
use bytes::Bytes;
use raftkv::cluster::{wire, Envelope};
use raftkv::metrics::NodeMetrics;
use raftkv::raft::{Body, Message, NodeId, Role};
use raftkv::state::{ApplyResult, Command};
use tokio::sync::broadcast;
use zeromq::{DealerSocket, Socket, SocketSend, ZmqMessage};

/// Bounds waits for conditions; generous because the machine is shared.
const DEADLINE: Duration = Duration::from_secs(10);

fn student(roll_no: u64, name: &str) -> Command {
    Command::StudentPut {
        roll_no,
        name: name.to_string(),
        address: "1 Main St".to_string(),
        phone: "555".to_string(),
    }
}

/// A message no node ever sends on its own (term 0 is below every live term), so the core
/// ignores it and a test can pick it out of the traffic.
fn marker_message() -> Message {
    Message {
        term: 0,
        body: Body::HeartbeatResponse { read_seq: 0 },
    }
}

/// The next envelope on `tap` from `from`, or `None` at `deadline`.
async fn next_from(
    tap: &mut broadcast::Receiver<Envelope<Message>>,
    from: NodeId,
    deadline: Instant,
) -> Option<Envelope<Message>> {
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, tap.recv()).await {
            Ok(Ok(envelope)) if envelope.pid == from => return Some(envelope),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
        }
    }
}

/// Waits until every node in `ids` has applied the leader's commit index, with all three equal.
async fn wait_until_applied_everywhere(c: &InProcCluster, ids: &[NodeId]) -> u64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut applied = BTreeSet::new();
        let mut committed = BTreeSet::new();
        for &id in ids {
            let s = c.status(id).await;
            applied.insert(s.applied_index);
            committed.insert(s.commit_index);
        }
        if applied.len() == 1 && applied == committed {
            return *applied.first().expect("one value");
        }
        assert!(Instant::now() < deadline, "applied indexes never met");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `raftkv_network_messages_dropped_total` for `reason`, read from the exposition.
fn dropped(m: &NodeMetrics, reason: &str) -> u64 {
    let series = format!("raftkv_network_messages_dropped_total{{reason=\"{reason}\"}} ");
    m.encode()
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or_else(|| panic!("no {series}"))
}

/// How many fsyncs the log writer made: the count of its fsync histogram in the exposition.
fn fsyncs(m: &NodeMetrics) -> u64 {
    m.encode()
        .lines()
        .find_map(|l| {
            l.strip_prefix("raftkv_disk_wal_fsync_duration_seconds_count ")?
                .parse()
                .ok()
        })
        .expect("an fsync count")
}

fn assert_contiguous(lines: &[String]) {
    let indexes: Vec<u64> = lines
        .iter()
        .map(|l| l[..12].parse().expect("an index"))
        .collect();
    let expected: Vec<u64> = (1..=indexes.len() as u64).collect();
    assert_eq!(indexes, expected, "one line per index, in order");
}

#[actix_rt::test]
async fn an_envelope_put_on_an_outbox_arrives_on_the_addressed_peers_inbox() {
    let mut c = InProcCluster::start(3);
    c.wait_for_leader(DEADLINE).await;
    let mut tap = c.tap(2);
    let marker_id = u64::MAX - 7;
    let envelope = Envelope {
        pid: 2,
        msg_id: marker_id,
        msg: marker_message(),
    };
    // Delivery is best effort (as Raft assumes); resend until it arrives.
    let deadline = Instant::now() + DEADLINE;
    let got = loop {
        c.outbox(1)
            .send(envelope.clone())
            .expect("node 2 is a peer");
        let soon = Instant::now() + Duration::from_millis(50);
        let next = loop {
            match next_from(&mut tap, 1, soon).await {
                Some(e) if e.msg_id == marker_id => break Some(e),
                Some(_) => {}
                None => break None,
            }
        };
        if let Some(e) = next {
            break e;
        }
        assert!(Instant::now() < deadline, "the envelope never arrived");
    };
    assert_eq!(got.pid, 1, "pid on the inbox is the sender");
    assert_eq!(got.msg, marker_message());
    c.stop_all().await;
}

#[actix_rt::test]
async fn a_student_put_reaches_all_three_transaction_logs() {
    let mut c = InProcCluster::start(3);
    let leader = c.wait_for_leader(DEADLINE).await;
    let answer = c
        .propose(leader, student(7, "Ada"))
        .await
        .expect("the leader commits");
    assert_eq!(answer.result, ApplyResult::Written);
    // The leader's clock stamp (` at=<ms>`) sits between the arguments and the result.
    let expected = "student.put roll=7 name=\"Ada\" address=\"1 Main St\" phone=\"555\" at=";
    wait_until_applied_everywhere(&c, &[1, 2, 3]).await;
    let logs: Vec<Vec<String>> = (1..=3).map(|id| c.txlog(id)).collect();
    for (i, log) in logs.iter().enumerate() {
        let line = log
            .iter()
            .find(|l| l.contains(expected) && l.ends_with(" -> ok"))
            .unwrap_or_else(|| panic!("node {} lacks the put: {log:?}", i + 1));
        assert!(line.starts_with(&format!("{:012} ", answer.index)));
        assert_eq!(*log, logs[0], "node {} differs from node 1", i + 1);
    }
    c.stop_all().await;
}

#[actix_rt::test]
async fn a_replicator_rebuilt_from_its_data_dir_keeps_its_log_and_state() {
    let mut c = InProcCluster::start(3);
    let leader = c.wait_for_leader(DEADLINE).await;
    for roll_no in 1..=5 {
        c.propose(leader, student(roll_no, &format!("s{roll_no}")))
            .await
            .expect("committed");
    }
    c.propose(leader, Command::StackCreate { label: 1 })
        .await
        .expect("committed");
    c.propose(
        leader,
        Command::StackPush {
            stack_id: 1,
            item: 42,
        },
    )
    .await
    .expect("committed");
    wait_until_applied_everywhere(&c, &[1, 2, 3]).await;
    let node = (1..=3).find(|&id| id != leader).expect("a follower");
    let before = c.status(node).await;
    let state_before = c.state(node).await;
    let txlog_before = c.txlog(node);
    assert_contiguous(&txlog_before);

    c.stop_node(node).await;
    c.start_node(node);
    let recovered = c.status(node).await;
    assert!(
        recovered.last_log_index >= before.last_log_index,
        "the log came back from disk: {recovered:?} vs {before:?}"
    );
    assert_eq!(recovered.term, before.term, "the term came back from disk");

    let applied = wait_until_applied_everywhere(&c, &[1, 2, 3]).await;
    assert!(applied >= before.applied_index);
    let after = c.txlog(node);
    assert_eq!(
        after[..txlog_before.len()],
        txlog_before[..],
        "the old lines are untouched"
    );
    assert_contiguous(&after);
    let state_after = c.state(node).await;
    assert_eq!(
        state_after,
        c.state(leader).await,
        "same state as the leader"
    );
    if applied == before.applied_index {
        // Nothing was committed meanwhile (the usual case): byte-for-byte the state it had.
        assert_eq!(state_after, state_before);
        assert_eq!(after, txlog_before);
    }
    assert_eq!(state_after["students"].as_array().map(Vec::len), Some(5));
    c.stop_all().await;
}

#[actix_rt::test]
async fn garbage_on_the_raft_port_is_dropped_and_the_cluster_still_commits() {
    let mut c = InProcCluster::start(3);
    let leader = c.wait_for_leader(DEADLINE).await;
    let target = (1..=3).find(|&id| id != leader).expect("a follower");
    let addr = format!("127.0.0.1:{}", c.ports[target as usize - 1].raft);

    // Plain TCP: not even a ZeroMQ greeting.
    let mut tcp = TcpStream::connect(&addr).expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n\x00\xff\xfe garbage")
        .expect("write");
    drop(tcp);

    // A well-behaved ZeroMQ peer sending unsealed frames: refused at its first.
    let mut dealer = DealerSocket::new();
    dealer
        .connect(&format!("tcp://{addr}"))
        .await
        .expect("zmq connect");
    let valid = wire::encode(leader, 1, &marker_message()).expect("encode");
    let frames = [
        Bytes::from_static(b"\xc1\xc1 not messagepack"),
        valid.slice(..valid.len() - 2),
        wire::encode(99, 1, &marker_message()).expect("encode"),
    ];
    for frame in frames {
        // The node closes the connection at the first frame; later sends may fail.
        let _ = dealer.send(ZmqMessage::from(frame)).await;
    }

    let deadline = Instant::now() + DEADLINE;
    loop {
        let m = c.metrics(target).await;
        if dropped(&m, "auth") >= 1 {
            assert_eq!(dropped(&m, "decode"), 0, "an unsealed frame was decoded");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "drops not counted:\n{}",
            m.encode()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = c
        .propose(leader, student(1, "after garbage"))
        .await
        .expect("still commits");
    assert_eq!(answer.result, ApplyResult::Written);
    wait_until_applied_everywhere(&c, &[1, 2, 3]).await;
    assert_eq!(
        c.state(target).await["students"][0]["name"],
        "after garbage"
    );
    c.stop_all().await;
}

#[actix_rt::test]
async fn a_peer_restarted_on_the_same_address_hears_the_leader_within_a_second() {
    let mut c = InProcCluster::start(3);
    let leader = c.wait_for_leader(DEADLINE).await;
    let peer = (1..=3).find(|&id| id != leader).expect("a follower");
    c.stop_node(peer).await;
    // The leader keeps trying to reach it while it is down (its backoff grows meanwhile).
    c.propose(leader, student(3, "while down"))
        .await
        .expect("two of three commit");

    // Starting again on the very same address proves the stop freed the port.
    c.start_node(peer);
    let restarted = Instant::now();
    let mut tap = c.tap(peer);
    let got = next_from(&mut tap, leader, restarted + Duration::from_secs(1)).await;
    let elapsed = restarted.elapsed();
    assert!(
        got.is_some(),
        "nothing from the leader within a second ({elapsed:?})"
    );
    eprintln!("restarted peer heard the leader after {elapsed:?}");
    wait_until_applied_everywhere(&c, &[1, 2, 3]).await;
    assert_eq!(c.state(peer).await, c.state(leader).await);
    assert_eq!(c.status(peer).await.role, Role::Follower);
    c.stop_all().await;
}

#[actix_rt::test]
async fn a_lone_commit_costs_the_leader_one_fsync_not_two() {
    let mut c = InProcCluster::start(3);
    let leader = c.wait_for_leader(DEADLINE).await;
    wait_until_applied_everywhere(&c, &[1, 2, 3]).await;
    let before = fsyncs(&c.metrics(leader).await);
    let proposals = 20;
    for i in 0..proposals {
        c.propose(leader, student(i, "one at a time"))
            .await
            .expect("committed");
    }
    let fsyncs = fsyncs(&c.metrics(leader).await) - before;
    // One for each entry; the commit index that follows each one is only a hint and rides along
    // with the next entry instead of costing a sync of its own.
    assert!(
        fsyncs <= proposals + 2,
        "{fsyncs} fsyncs for {proposals} sequential commits"
    );
    c.stop_all().await;
}

#[actix_rt::test]
async fn on_stop_the_state_file_shows_the_last_applied_state() {
    let mut c = InProcCluster::start(1);
    let node = c.wait_for_leader(DEADLINE).await;
    // Applied just before the stop: the periodic rewrite (once a second) has almost surely not
    // run since, so the file shows it only if the stop writes it.
    c.propose(node, student(9, "Grace"))
        .await
        .expect("a lone node commits");
    let state = c.state(node).await;
    assert_eq!(state["students"].as_array().map(Vec::len), Some(1));
    c.stop_node(node).await;
    let path = raftkv::replicator::state_file_path(&c.dir.path().join("logs"), node);
    let text = std::fs::read_to_string(&path).expect("the state file exists after the stop");
    let file: serde_json::Value = serde_json::from_str(&text).expect("the file is JSON");
    assert_eq!(file, state);
}

/// With `lease_reads = true` every node still answers a linearizable read with the last write
/// acknowledged before it: on the leader from its lease, on a follower through the leader.
#[actix_rt::test]
async fn lease_reads_see_every_acknowledged_write_on_every_node() {
    use raftkv::replicator::{Consistency, Read};
    let mut c = InProcCluster::configure(3, "lease_reads = true\n");
    for id in 1..=3 {
        c.start_node(id);
    }
    let leader = c.wait_for_leader(DEADLINE).await;
    for round in 0..20u32 {
        let value = Bytes::from(format!("v{round}"));
        c.propose(
            leader,
            Command::KvPut {
                key: "lease".into(),
                value: value.clone(),
            },
        )
        .await
        .expect("write");
        for id in 1..=3 {
            let answer = c
                .addr(id)
                .send(Read {
                    command: Command::KvGet {
                        key: "lease".into(),
                    },
                    consistency: Consistency::Linearizable,
                })
                .await
                .expect("node answers")
                .unwrap_or_else(|e| panic!("round {round}: read on node {id}: {e}"));
            match answer.result {
                ApplyResult::Value(Some(v)) => {
                    assert_eq!(
                        v.value, value,
                        "round {round}: node {id} read a stale value"
                    )
                }
                other => panic!("round {round}: node {id} answered {other:?}"),
            }
        }
    }
    c.stop_all().await;
}
