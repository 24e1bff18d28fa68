//! An in-memory cluster that runs in lockstep rounds: every node's output is taken, persisted at
//! once and applied, then every message is delivered. Nodes can be isolated (all their traffic is
//! dropped) to play the crashes and partitions of the paper's figures. Each round reports what
//! happened as [`Event`]s, so tests can assert the exact exchange.

use std::collections::BTreeSet;

use raftkv::raft::{
    Config, Entry, HardState, Message, NodeId, Raft, ReadState, Restored, Role, Status,
};

use super::{persist, restarted, voters};

/// One observable thing that happened during a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A node made a batch durable.
    Persisted {
        node: NodeId,
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
    },
    /// A node handed committed entries to its state machine.
    Applied { node: NodeId, entries: Vec<Entry> },
    /// A node answered (or failed) a read request.
    Read { node: NodeId, read: ReadState },
    /// A message reached its destination.
    Delivered {
        from: NodeId,
        to: NodeId,
        msg: Message,
    },
    /// A message was lost because its sender or receiver is isolated.
    Dropped {
        from: NodeId,
        to: NodeId,
        msg: Message,
    },
    /// A node's role, term or known leader changed.
    Became { node: NodeId, status: Status },
}

/// The nodes `1..=n`, stored at `id - 1`.
pub struct Cluster {
    nodes: Vec<Raft>,
    isolated: BTreeSet<NodeId>,
    /// Everything each node applied, in order.
    pub applied: Vec<Vec<Entry>>,
    /// Every read answer each node produced, in order.
    pub reads: Vec<Vec<ReadState>>,
    last_status: Vec<Status>,
}

impl Cluster {
    /// `n` fresh nodes whose paper configuration is adjusted by `tune`.
    pub fn new(n: u64, tune: impl Fn(Config) -> Config) -> Self {
        let restored = (0..n).map(|_| Restored::default()).collect();
        Self::restarted(n, tune, restored)
    }

    /// `n` nodes restarted from `restored[id - 1]`, with configurations adjusted by `tune`.
    pub fn restarted(n: u64, tune: impl Fn(Config) -> Config, restored: Vec<Restored>) -> Self {
        assert_eq!(restored.len() as u64, n);
        let nodes: Vec<Raft> = voters(n)
            .into_iter()
            .zip(restored)
            .map(|(id, r)| restarted(tune(Config::new(id, voters(n))), r))
            .collect();
        let last_status = nodes.iter().map(Raft::status).collect();
        Cluster {
            applied: vec![Vec::new(); n as usize],
            reads: vec![Vec::new(); n as usize],
            nodes,
            isolated: BTreeSet::new(),
            last_status,
        }
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Raft {
        &self.nodes[id as usize - 1]
    }

    /// The node `id`, to propose, read or transfer through.
    pub fn node_mut(&mut self, id: NodeId) -> &mut Raft {
        &mut self.nodes[id as usize - 1]
    }

    /// The ids of all nodes.
    pub fn ids(&self) -> Vec<NodeId> {
        (1..=self.nodes.len() as NodeId).collect()
    }

    /// Cuts `id` off: from now on every message to or from it is dropped.
    pub fn isolate(&mut self, id: NodeId) {
        self.isolated.insert(id);
    }

    /// Reconnects `id`.
    pub fn heal(&mut self, id: NodeId) {
        self.isolated.remove(&id);
    }

    /// The current leader, if exactly one node that is not isolated believes it leads.
    pub fn leader(&self) -> Option<NodeId> {
        let leaders: Vec<NodeId> = self
            .ids()
            .into_iter()
            .filter(|&id| {
                !self.isolated.contains(&id) && self.node(id).status().role == Role::Leader
            })
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Advances node `id`'s clock by one tick.
    pub fn tick(&mut self, id: NodeId) -> Vec<Event> {
        self.node_mut(id).tick();
        self.status_changes()
    }

    /// Runs one round: take, persist and apply every node's output, then deliver its messages.
    pub fn round(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let mut sent = Vec::new();
        for id in self.ids() {
            let i = id as usize - 1;
            let raft = &mut self.nodes[i];
            let out = raft.take_output();
            persist(raft, &out);
            if out.needs_persist() {
                events.push(Event::Persisted {
                    node: id,
                    hard_state: out.hard_state,
                    entries: out.entries.clone(),
                });
            }
            if !out.committed.is_empty() {
                self.applied[i].extend_from_slice(&out.committed);
                events.push(Event::Applied {
                    node: id,
                    entries: out.committed,
                });
            }
            for read in out.reads {
                self.reads[i].push(read);
                events.push(Event::Read { node: id, read });
            }
            let messages = out.messages.into_iter().chain(out.messages_after_persist);
            sent.extend(messages.map(|(to, msg)| (id, to, msg)));
        }
        for (from, to, msg) in sent {
            if self.isolated.contains(&from) || self.isolated.contains(&to) {
                events.push(Event::Dropped { from, to, msg });
            } else {
                self.node_mut(to).step(from, msg.clone());
                events.push(Event::Delivered { from, to, msg });
            }
        }
        events.extend(self.status_changes());
        events
    }

    /// Runs rounds until one has nothing left to persist, apply or send; returns every event.
    pub fn stabilize(&mut self) -> Vec<Event> {
        let mut all = Vec::new();
        for _ in 0..1000 {
            let events = self.round();
            let quiet = events.iter().all(|e| matches!(e, Event::Became { .. }));
            all.extend(events);
            if quiet {
                return all;
            }
        }
        panic!("the cluster did not settle within 1000 rounds");
    }

    /// Ticks only `id` until its election timeout fires (its role, term or leader changes, or a
    /// whole maximum timeout passes), then stabilizes. No other clock moves, so nobody competes.
    pub fn campaign(&mut self, id: NodeId) -> Vec<Event> {
        let mut events = Vec::new();
        let before = self.node(id).status();
        for _ in 0..self.node(id).config().election_timeout_ticks_max {
            events.extend(self.tick(id));
            let now = self.node(id).status();
            if (now.role, now.term, now.leader) != (before.role, before.term, before.leader) {
                break;
            }
        }
        events.extend(self.stabilize());
        events
    }

    /// Campaigns with `id` until it wins; panics if ten elections in a row fail.
    pub fn elect(&mut self, id: NodeId) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..10 {
            events.extend(self.campaign(id));
            if self.node(id).status().role == Role::Leader {
                return events;
            }
        }
        let transcript: Vec<String> = events.iter().map(super::describe::event).collect();
        panic!(
            "node {id} could not win an election:\n{}",
            transcript.join("\n")
        );
    }

    /// Ticks every node that is not isolated once, then stabilizes.
    pub fn tick_all_and_stabilize(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for id in self.ids() {
            if !self.isolated.contains(&id) {
                events.extend(self.tick(id));
            }
        }
        events.extend(self.stabilize());
        events
    }

    /// Each node's log, entries only.
    pub fn logs(&self) -> Vec<Vec<Entry>> {
        self.nodes
            .iter()
            .map(|n| {
                n.log()
                    .slice(n.log().first_index(), n.log().last_index())
                    .to_vec()
            })
            .collect()
    }

    fn status_changes(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for (i, raft) in self.nodes.iter().enumerate() {
            let now = raft.status();
            let was = self.last_status[i];
            if (now.role, now.term, now.leader) != (was.role, was.term, was.leader) {
                events.push(Event::Became {
                    node: now.id,
                    status: now,
                });
            }
            self.last_status[i] = now;
        }
        events
    }
}

/// The messages delivered among `events`, as `(from, to, message)`.
pub fn delivered(events: &[Event]) -> Vec<(NodeId, NodeId, Message)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { from, to, msg } => Some((*from, *to, msg.clone())),
            _ => None,
        })
        .collect()
}
