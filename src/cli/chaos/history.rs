//! What a chaos run records: every client operation with its call and return times, and every
//! fault and leader change, on one clock (milliseconds since the run began).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use raftkv_lincheck::{KvInput, KvOutput, Operation};

/// How an operation ended, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered: its output is known.
    Ok,
    /// Refused before it could take effect (no leader, overloaded, connection refused).
    Failed,
    /// Timed out or lost: it may or may not have taken effect.
    Unknown,
}

/// One client operation.
#[derive(Clone, Debug)]
pub struct Op {
    pub client: u64,
    pub node: u64,
    /// Milliseconds since the run began.
    pub call_ms: f64,
    pub ret_ms: f64,
    pub input: KvInput<String, String>,
    /// `Some` exactly when the outcome is [`Outcome::Ok`].
    pub output: Option<KvOutput<String>>,
    pub outcome: Outcome,
    /// Why it failed or is unknown.
    pub error: Option<String>,
}

/// A fault or a leader change.
#[derive(Clone, Debug)]
pub struct Event {
    pub at_ms: f64,
    pub kind: EventKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A fault begins (the text names it).
    FaultStart,
    /// A fault ends.
    FaultEnd,
    /// A node reported a new leader or term.
    Leader,
}

#[derive(Default)]
struct Recorded {
    ops: Vec<Op>,
    events: Vec<Event>,
    faults: Vec<String>,
    leader_changes: u64,
    last_leader: Option<(u64, u64)>,
    active_fault: Option<String>,
}

/// Shared by the clients, the nemesis and the leader monitor.
#[derive(Clone)]
pub struct Recorder {
    epoch: Instant,
    inner: Arc<Mutex<Recorded>>,
}

impl Recorder {
    pub fn new(epoch: Instant) -> Recorder {
        Recorder {
            epoch,
            inner: Arc::default(),
        }
    }

    /// Milliseconds since the run began.
    pub fn now_ms(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64() * 1000.0
    }

    fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn op(&self, op: Op) {
        self.with(|r| r.ops.push(op));
    }

    pub fn fault_started(&self, text: String) {
        let at_ms = self.now_ms();
        self.with(|r| {
            r.faults.push(text.clone());
            r.active_fault = Some(text.clone());
            r.events.push(Event {
                at_ms,
                kind: EventKind::FaultStart,
                text,
            });
        });
    }

    pub fn fault_ended(&self, text: String) {
        let at_ms = self.now_ms();
        self.with(|r| {
            r.active_fault = None;
            r.events.push(Event {
                at_ms,
                kind: EventKind::FaultEnd,
                text,
            });
        });
    }

    /// Records `(leader, term)` if it differs from the last one seen.
    pub fn leader(&self, leader: Option<u64>, term: u64) {
        let at_ms = self.now_ms();
        self.with(|r| {
            let Some(leader) = leader else { return };
            if r.last_leader == Some((leader, term)) {
                return;
            }
            if r.last_leader.is_some_and(|(l, _)| l != leader) {
                r.leader_changes += 1;
            }
            r.last_leader = Some((leader, term));
            r.events.push(Event {
                at_ms,
                kind: EventKind::Leader,
                text: format!("node {leader} leads term {term}"),
            });
        });
    }

    pub fn ops(&self) -> Vec<Op> {
        self.with(|r| r.ops.clone())
    }

    pub fn events(&self) -> Vec<Event> {
        self.with(|r| r.events.clone())
    }

    pub fn leader_changes(&self) -> u64 {
        self.with(|r| r.leader_changes)
    }

    /// `3 × pause, 2 × partition, …`.
    pub fn fault_summary(&self) -> String {
        self.with(|r| {
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for fault in &r.faults {
                let kind = fault.split_whitespace().next().unwrap_or("");
                *counts.entry(kind).or_default() += 1;
            }
            if counts.is_empty() {
                return "none".to_string();
            }
            counts
                .iter()
                .map(|(kind, n)| format!("{n} × {kind}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// `t=12s ok=812 failed=31 unknown=4 | node 2 leads term 5 | fault: pause node 3`.
    pub fn progress_line(&self) -> String {
        let secs = self.now_ms() / 1000.0;
        self.with(|r| {
            let c = Counts::of(&r.ops);
            let leader = r.last_leader.map_or("no leader seen".into(), |(l, t)| {
                format!("node {l} leads term {t}")
            });
            let fault = r.active_fault.as_deref().unwrap_or("none");
            format!(
                "t={secs:.0}s ok={} failed={} unknown={} | {leader} | fault: {fault}",
                c.ok, c.failed, c.unknown
            )
        })
    }
}

/// Operations by outcome and by kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub ok: usize,
    pub failed: usize,
    pub unknown: usize,
    pub reads: usize,
    pub writes: usize,
    pub cas: usize,
}

impl Counts {
    pub fn of(ops: &[Op]) -> Counts {
        let mut c = Counts::default();
        for op in ops {
            match op.outcome {
                Outcome::Ok => c.ok += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Unknown => c.unknown += 1,
            }
            match op.input {
                KvInput::Get { .. } => c.reads += 1,
                KvInput::Put { .. } | KvInput::Delete { .. } => c.writes += 1,
                KvInput::Cas { .. } => c.cas += 1,
            }
        }
        c
    }
}

/// The operations the checker sees: every one that may have taken effect (failed ones did not,
/// and are left out), with times in microseconds.
pub fn checker_history(ops: &[Op]) -> Vec<Operation<KvInput<String, String>, KvOutput<String>>> {
    ops.iter()
        .filter(|op| op.outcome != Outcome::Failed)
        .map(|op| {
            let call = (op.call_ms * 1000.0) as u64;
            match &op.output {
                Some(output) => Operation::completed(
                    op.client,
                    call,
                    ((op.ret_ms * 1000.0) as u64).max(call),
                    op.input.clone(),
                    output.clone(),
                ),
                None => Operation::unknown(op.client, call, op.input.clone()),
            }
        })
        .collect()
}

/// For each operation given to the checker, its index in `ops` (the checker's indices are
/// positions in [`checker_history`]).
pub fn index_of_checked(ops: &[Op]) -> Vec<usize> {
    ops.iter()
        .enumerate()
        .filter(|(_, op)| op.outcome != Outcome::Failed)
        .map(|(i, _)| i)
        .collect()
}
