//! A lossless, synchronous three-node cluster: the shortest path from election to commit.

use bytes::Bytes;
use raftkv::raft::{Config, Entry, NodeId, Payload, Raft, Restored, Role};
use rand::{rngs::StdRng, SeedableRng};

struct Node {
    raft: Raft,
    applied: Vec<Entry>,
}

fn cluster(n: u64) -> Vec<Node> {
    let voters: Vec<NodeId> = (1..=n).collect();
    voters
        .iter()
        .map(|&id| Node {
            raft: Raft::new(
                Config::new(id, voters.clone()),
                Restored::default(),
                Box::new(StdRng::seed_from_u64(id)),
            )
            .unwrap(),
            applied: Vec::new(),
        })
        .collect()
}

/// Delivers every message until the cluster is quiet, persisting each batch at once.
fn settle(nodes: &mut [Node]) {
    loop {
        let mut sent = Vec::new();
        for i in 0..nodes.len() {
            let node = &mut nodes[i];
            let out = node.raft.take_output();
            if let Some(last) = out.entries.last() {
                node.raft.persisted(last.index, last.term);
            }
            node.applied.extend(out.committed);
            let from = i as NodeId + 1;
            for (to, m) in out.messages.into_iter().chain(out.messages_after_persist) {
                sent.push((from, to, m));
            }
        }
        if sent.is_empty() {
            return;
        }
        for (from, to, m) in sent {
            nodes[to as usize - 1].raft.step(from, m);
        }
    }
}

#[test]
fn three_nodes_elect_a_leader_and_commit_a_proposal() {
    let mut nodes = cluster(3);
    let leader = (0..100)
        .find_map(|_| {
            for n in nodes.iter_mut() {
                n.raft.tick();
            }
            settle(&mut nodes);
            nodes
                .iter()
                .position(|n| n.raft.status().role == Role::Leader)
        })
        .expect("a leader within 100 ticks");
    let (index, term) = nodes[leader]
        .raft
        .propose(Bytes::from_static(b"x"))
        .unwrap();
    for _ in 0..5 {
        for n in nodes.iter_mut() {
            n.raft.tick();
        }
        settle(&mut nodes);
    }
    for n in &nodes {
        let last = n.applied.last().expect("something applied");
        assert_eq!((last.index, last.term), (index, term));
        assert_eq!(last.payload, Payload::Command(Bytes::from_static(b"x")));
        assert_eq!(n.applied.len(), 2, "the leader's no-op, then the command");
    }
}
