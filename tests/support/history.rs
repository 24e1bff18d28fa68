//! Recording what clients did, for the linearizability checker: each operation with its call and
//! return time on one shared clock, its input, and its output — or no output when the outcome is
//! unknown (a timeout, a lost connection: it may or may not have taken effect).
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// One operation as a client saw it. Times are nanoseconds since the recorder's epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op<I, O> {
    pub client: u64,
    pub call: u64,
    /// `None` when no answer came.
    pub ret: Option<u64>,
    pub input: I,
    /// `None`: the outcome is unknown.
    pub output: Option<O>,
}

impl<I, O> Op<I, O> {
    pub fn is_unknown(&self) -> bool {
        self.output.is_none()
    }

    /// The return time, +∞ (`u64::MAX`) for an unknown outcome: it may take effect any time later.
    pub fn ret_or_infinity(&self) -> u64 {
        match self.output {
            Some(_) => self.ret.unwrap_or(u64::MAX),
            None => u64::MAX,
        }
    }
}

/// A key-value request (students by roll number, or `/v1/kv` keys, both as strings).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvIn {
    Put {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    Delete {
        key: String,
    },
    /// A swap conditional on the key's version, recorded by the value that version holds: the
    /// workload writes unique values, so "at the version I read" is "holds the value I read".
    Cas {
        key: String,
        expected: String,
        new: String,
    },
}

impl KvIn {
    pub fn key(&self) -> &str {
        match self {
            KvIn::Put { key, .. }
            | KvIn::Get { key }
            | KvIn::Delete { key }
            | KvIn::Cas { key, .. } => key,
        }
    }

    pub fn is_write(&self) -> bool {
        !matches!(self, KvIn::Get { .. })
    }
}

/// A key-value answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOut {
    /// A put, or a delete of a key that existed.
    Done,
    /// A delete of an absent key.
    NotFound,
    /// A get: the value or absent.
    Value(Option<String>),
    /// A compare-and-swap: whether it wrote.
    Swapped(bool),
}

/// A stack request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackIn {
    Push { stack: u64, item: i64 },
    Pop { stack: u64 },
    Top { stack: u64 },
    Size { stack: u64 },
}

impl StackIn {
    pub fn stack(&self) -> u64 {
        match *self {
            StackIn::Push { stack, .. }
            | StackIn::Pop { stack }
            | StackIn::Top { stack }
            | StackIn::Size { stack } => stack,
        }
    }
}

/// A stack answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackOut {
    Done,
    /// Pop or top: the item, `None` for an empty stack.
    Item(Option<i64>),
    Size(u64),
}

pub type KvOp = Op<KvIn, KvOut>;
pub type StackOp = Op<StackIn, StackOut>;

/// Collects operations from many client threads on one clock.
pub struct Recorder<I, O> {
    epoch: Instant,
    ops: Mutex<Vec<Op<I, O>>>,
}

impl<I, O> Recorder<I, O> {
    /// A recorder whose clock starts at `epoch` (share one epoch between recorders of a test).
    pub fn new(epoch: Instant) -> Arc<Self> {
        Arc::new(Recorder {
            epoch,
            ops: Mutex::new(Vec::new()),
        })
    }

    /// Nanoseconds since the epoch.
    pub fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).expect("a test lasts less than 500 years")
    }

    pub fn record(&self, op: Op<I, O>) {
        self.ops.lock().expect("a client panicked").push(op);
    }

    /// Everything recorded so far.
    pub fn ops(&self) -> Vec<Op<I, O>>
    where
        I: Clone,
        O: Clone,
    {
        self.ops.lock().expect("a client panicked").clone()
    }
}

/// Counts of a history, for the report.
pub fn summary<I, O>(ops: &[Op<I, O>]) -> String {
    let unknown = ops.iter().filter(|o| o.is_unknown()).count();
    format!("{} ops ({} unknown outcome)", ops.len(), unknown)
}

/// Writes `ops` as JSON to `<$RAFTKV_HISTORY_DIR>/<name>.json` when that variable is set, so a
/// history can be kept, read, or checked again offline; returns the path written.
pub fn dump<I: Serialize, O: Serialize>(name: &str, ops: &[Op<I, O>]) -> Option<String> {
    let dir = std::env::var("RAFTKV_HISTORY_DIR").ok()?;
    std::fs::create_dir_all(&dir).expect("create the history dir");
    let path = Path::new(&dir).join(format!("{name}.json"));
    let json = serde_json::to_vec(ops).expect("a history encodes");
    std::fs::write(&path, json).expect("write the history");
    Some(path.display().to_string())
}
