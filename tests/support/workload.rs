//! Client operations on students, keys and stacks, each performed through [`Client`] and recorded
//! in a history with its outcome.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngExt;
use serde_json::json;

use super::client::{Attempt, Call, Client, Outcome};
use super::history::{KvIn, KvOut, Op, Recorder, StackIn, StackOut};
use super::Reply;

/// How long one operation is retried before its outcome is left as it stands: long enough to
/// ride out an election and a request timeout.
pub const PATIENCE: Duration = Duration::from_secs(6);

/// The histories of one test, on one clock.
#[derive(Clone)]
pub struct Histories {
    pub students: Arc<Recorder<KvIn, KvOut>>,
    pub kv: Arc<Recorder<KvIn, KvOut>>,
    pub stacks: Arc<Recorder<StackIn, StackOut>>,
    /// Which version each register value was seen at.
    pub versions: Arc<Versions>,
}

impl Histories {
    pub fn new() -> Histories {
        let epoch = std::time::Instant::now();
        Histories {
            students: Recorder::new(epoch),
            kv: Recorder::new(epoch),
            stacks: Recorder::new(epoch),
            versions: Arc::default(),
        }
    }
}

/// Every (value, version) pair a client was told, from writes, swaps and reads on any node.
/// Since each value is written once and a version is the log index of the write, the pairs
/// must form a one-to-one map: a value seen at two versions, or two values at one version,
/// means nodes disagree about which entry wrote what.
#[derive(Default)]
pub struct Versions(Mutex<BTreeMap<String, u64>>);

impl Versions {
    fn saw(&self, value: &str, version: u64) {
        let mut seen = self.0.lock().unwrap();
        let known = *seen.entry(value.to_string()).or_insert(version);
        assert_eq!(
            known, version,
            "value {value:?} was reported at version {known} and at {version}"
        );
    }

    /// The version `value` was reported at, if any client saw it.
    pub fn of(&self, value: &str) -> Option<u64> {
        self.0.lock().unwrap().get(value).copied()
    }

    /// Asserts that no version was reported for two values; returns the number of values seen.
    pub fn assert_one_to_one(&self) -> usize {
        let seen = self.0.lock().unwrap();
        let mut by_version: BTreeMap<u64, &str> = BTreeMap::new();
        for (value, &version) in seen.iter() {
            if let Some(other) = by_version.insert(version, value) {
                panic!("version {version} was reported for {other:?} and for {value:?}");
            }
        }
        seen.len()
    }
}

/// Counts of operations by outcome, shared by the clients of a test.
#[derive(Default)]
pub struct Tally {
    pub done: AtomicU64,
    pub unknown: AtomicU64,
    pub no_effect: AtomicU64,
}

impl Tally {
    fn count(&self, outcome: &Outcome) {
        let cell = match outcome {
            Outcome::Done(_) => &self.done,
            Outcome::Unknown(_) => &self.unknown,
            Outcome::NoEffect(_) => &self.no_effect,
        };
        cell.fetch_add(1, Ordering::Relaxed);
    }

    pub fn describe(&self) -> String {
        format!(
            "{} answered, {} unknown outcome, {} without effect",
            self.done.load(Ordering::Relaxed),
            self.unknown.load(Ordering::Relaxed),
            self.no_effect.load(Ordering::Relaxed)
        )
    }
}

/// Performs `call` and records it as `input` with the output `parse` reads from the answer.
/// A definite "no effect" is left out: an operation that did not happen has no place in the
/// history.
fn record<I, O>(
    client: &mut Client,
    nodes: &[u64],
    recorder: &Recorder<I, O>,
    tally: &Tally,
    input: I,
    call: Call,
    parse: impl FnOnce(&Reply) -> O,
) -> Option<O>
where
    O: Clone,
{
    let invoked = recorder.now();
    let outcome = client.perform(nodes, &call, PATIENCE);
    let returned = recorder.now();
    tally.count(&outcome);
    let output = match &outcome {
        Outcome::Done(reply) => Some(parse(reply)),
        Outcome::Unknown(_) => None,
        Outcome::NoEffect(_) => return None,
    };
    recorder.record(Op {
        client: client.id,
        call: invoked,
        ret: output.as_ref().map(|_| returned),
        input,
        output: output.clone(),
    });
    output
}

fn status_is(reply: &Reply, expected: &[u16], what: &str) {
    assert!(
        expected.contains(&reply.status),
        "{what}: unexpected {reply:?}"
    );
}

/// Puts student `roll_no` with a name unique to this client and request.
pub fn student_put(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, roll_no: u64) {
    let session = c.next_session();
    let name = format!("c{}-s{}", session.0, session.1);
    let body = json!({ "name": name, "address": "1 Main St", "phone": "555" });
    let mut call = Call::write(
        "PUT",
        format!("/v1/students/{roll_no}"),
        Some(body.to_string().into_bytes()),
    );
    call.session = Some(session);
    let input = KvIn::Put {
        key: roll_no.to_string(),
        value: name,
    };
    record(c, nodes, &h.students, t, input, call, |r| {
        status_is(r, &[200], "student put");
        KvOut::Done
    });
}

pub fn student_get(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, roll_no: u64) {
    let call = Call::get(format!("/v1/students/{roll_no}"));
    let input = KvIn::Get {
        key: roll_no.to_string(),
    };
    record(c, nodes, &h.students, t, input, call, |r| {
        status_is(r, &[200, 404], "student get");
        KvOut::Value((r.status == 200).then(|| r.json()["name"].as_str().unwrap().to_string()))
    });
}

pub fn student_delete(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, roll_no: u64) {
    let mut call = Call::write("DELETE", format!("/v1/students/{roll_no}"), None);
    call.session = Some(c.next_session());
    let input = KvIn::Delete {
        key: roll_no.to_string(),
    };
    record(c, nodes, &h.students, t, input, call, |r| {
        status_is(r, &[200], "student delete");
        if r.json()["deleted"] == true {
            KvOut::Done
        } else {
            KvOut::NotFound
        }
    });
}

/// Pushes an item unique to this client and request; returns it.
pub fn stack_push(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, stack: u64) -> i64 {
    let session = c.next_session();
    let item = (session.0 * 1_000_000 + session.1) as i64;
    let mut call = Call::write(
        "POST",
        format!("/v1/stacks/{stack}/push"),
        Some(json!({ "item": item }).to_string().into_bytes()),
    );
    call.session = Some(session);
    record(
        c,
        nodes,
        &h.stacks,
        t,
        StackIn::Push { stack, item },
        call,
        |r| {
            status_is(r, &[200], "stack push");
            StackOut::Done
        },
    );
    item
}

/// The item of a pop or top answer (409 stack_empty: none).
fn item_of(r: &Reply, what: &str) -> StackOut {
    status_is(r, &[200, 409], what);
    StackOut::Item((r.status == 200).then(|| r.json()["item"].as_i64().unwrap()))
}

pub fn stack_pop(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, stack: u64) {
    let mut call = Call::write("POST", format!("/v1/stacks/{stack}/pop"), None);
    call.session = Some(c.next_session());
    record(c, nodes, &h.stacks, t, StackIn::Pop { stack }, call, |r| {
        item_of(r, "stack pop")
    });
}

pub fn stack_top(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, stack: u64) {
    let call = Call::get(format!("/v1/stacks/{stack}/top"));
    record(c, nodes, &h.stacks, t, StackIn::Top { stack }, call, |r| {
        item_of(r, "stack top")
    });
}

pub fn stack_size(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, stack: u64) {
    let call = Call::get(format!("/v1/stacks/{stack}/size"));
    record(c, nodes, &h.stacks, t, StackIn::Size { stack }, call, |r| {
        status_is(r, &[200], "stack size");
        StackOut::Size(r.json()["size"].as_u64().unwrap())
    });
}

pub fn kv_get(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, key: &str) {
    let call = Call::get(format!("/v1/kv/{key}"));
    let input = KvIn::Get {
        key: key.to_string(),
    };
    record(c, nodes, &h.kv, t, input, call, |r| {
        status_is(r, &[200, 404], "kv get");
        KvOut::Value((r.status == 200).then(|| r.body.clone()))
    });
}

/// Reads register `key` with its version (`?meta=true`); records the read and returns what it
/// saw: the value and the version that wrote it, or `None` (absent or unknown).
pub fn register_read(
    c: &mut Client,
    nodes: &[u64],
    h: &Histories,
    t: &Tally,
    key: &str,
) -> Option<(String, u64)> {
    use base64::Engine;
    let call = Call::get(format!("/v1/kv/{key}?meta=true"));
    let input = KvIn::Get {
        key: key.to_string(),
    };
    let mut seen = None;
    record(c, nodes, &h.kv, t, input, call, |r| {
        status_is(r, &[200, 404], "register read");
        if r.status == 404 {
            return KvOut::Value(None);
        }
        let meta = r.json();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(meta["value_base64"].as_str().expect("value_base64"))
            .expect("base64");
        let value = String::from_utf8(bytes).expect("the workload writes text");
        let version = meta["version"].as_u64().expect("version");
        h.versions.saw(&value, version);
        seen = Some((value.clone(), version));
        KvOut::Value(Some(value))
    });
    seen
}

/// Puts `/v1/kv/{key}` = a value unique to this client and request, and notes the version the
/// answer names.
pub fn kv_put(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, key: &str) {
    let session = c.next_session();
    let value = format!("c{}-v{}", session.0, session.1);
    let mut call = Call::write(
        "PUT",
        format!("/v1/kv/{key}"),
        Some(value.clone().into_bytes()),
    );
    call.session = Some(session);
    let input = KvIn::Put {
        key: key.to_string(),
        value: value.clone(),
    };
    record(c, nodes, &h.kv, t, input, call, |r| {
        status_is(r, &[200], "kv put");
        h.versions
            .saw(&value, r.json()["version"].as_u64().expect("version"));
        KvOut::Done
    });
}

/// Reads register `key`, then swaps in a unique value conditional on the version read (a write
/// if the key is still absent). The swap is recorded as conditional on the value read, which
/// is the same condition because every value is written once.
pub fn register_cas(c: &mut Client, nodes: &[u64], h: &Histories, t: &Tally, key: &str) {
    let Some((expected, version)) = register_read(c, nodes, h, t, key) else {
        return kv_put(c, nodes, h, t, key);
    };
    let session = c.next_session();
    let new = format!("c{}-v{}", session.0, session.1);
    let mut call = Call::write(
        "PUT",
        format!("/v1/kv/{key}?if_version={version}"),
        Some(new.clone().into_bytes()),
    );
    call.session = Some(session);
    let input = KvIn::Cas {
        key: key.to_string(),
        expected,
        new: new.clone(),
    };
    record(c, nodes, &h.kv, t, input, call, |r| {
        status_is(r, &[200, 409], "register cas");
        let answer = r.json();
        let current = answer["version"].as_u64().expect("version");
        if r.status == 200 {
            h.versions.saw(&new, current);
            KvOut::Swapped(true)
        } else {
            assert_eq!(answer["error"], "version_mismatch", "register cas: {r:?}");
            assert_ne!(current, version, "a mismatch names another version: {r:?}");
            KvOut::Swapped(false)
        }
    });
}

/// One kv request sent once to `node` (redirects followed, no retry), recorded like the others;
/// returns the HTTP status (`None`: no answer) so a test can assert on it.
pub fn kv_once(c: &mut Client, node: u64, h: &Histories, input: KvIn) -> (Option<u16>, Duration) {
    let (call, session) = match &input {
        KvIn::Put { key, value } => {
            let session = c.next_session();
            let mut call = Call::write(
                "PUT",
                format!("/v1/kv/{key}"),
                Some(value.clone().into_bytes()),
            );
            call.session = Some(session);
            (call, true)
        }
        KvIn::Get { key } => (Call::get(format!("/v1/kv/{key}")), false),
        KvIn::Delete { .. } | KvIn::Cas { .. } => unimplemented!("not used"),
    };
    let started = std::time::Instant::now();
    let invoked = h.kv.now();
    let got = c.once(node, &call);
    let returned = h.kv.now();
    let elapsed = started.elapsed();
    let (status, output) = match &got {
        Attempt::Answer(r) => match (r.status, session) {
            (200, true) => (Some(200), Some(KvOut::Done)),
            (200 | 404, false) => (
                Some(r.status),
                Some(KvOut::Value((r.status == 200).then(|| r.body.clone()))),
            ),
            // Refused before it could take effect: not in the history.
            (503, _) if r.json()["error"] == "no_leader" => return (Some(503), elapsed),
            (status, _) => (Some(status), None),
        },
        Attempt::Refused => return (None, elapsed),
        Attempt::Lost(_) => (None, None),
    };
    h.kv.record(Op {
        client: c.id,
        call: invoked,
        ret: output.as_ref().map(|_| returned),
        input,
        output,
    });
    (status, elapsed)
}

/// The scenario-2 mix: students (put, get, delete), stacks (push, pop, top, size) and CAS
/// registers (read, write, compare-and-swap), on few enough keys and stacks that clients contend.
pub struct Mix {
    pub roll_numbers: u64,
    pub stacks: Vec<u64>,
    /// `/v1/kv` keys used as registers.
    pub registers: Vec<String>,
}

/// Runs random operations of `mix` against random nodes of `nodes` until `stop` is set.
pub fn run_mixed_client(
    mut c: Client,
    nodes: &[u64],
    mix: &Mix,
    h: &Histories,
    t: &Tally,
    stop: &Arc<AtomicBool>,
) {
    // A client that panics stops the others (and the test's timer) instead of leaving them
    // running until the end of the load.
    let _stop_all_if_i_panic = super::StopOnDrop(Arc::clone(stop));
    while !stop.load(Ordering::SeqCst) {
        let dice = c.rng.random_range(0..100);
        if dice < 30 {
            let roll_no = c.rng.random_range(1..=mix.roll_numbers);
            match dice {
                0..=12 => student_put(&mut c, nodes, h, t, roll_no),
                13..=24 => student_get(&mut c, nodes, h, t, roll_no),
                _ => student_delete(&mut c, nodes, h, t, roll_no),
            }
        } else if dice < 70 {
            let stack = mix.stacks[c.rng.random_range(0..mix.stacks.len())];
            match dice {
                30..=47 => {
                    stack_push(&mut c, nodes, h, t, stack);
                }
                48..=58 => stack_pop(&mut c, nodes, h, t, stack),
                59..=64 => stack_top(&mut c, nodes, h, t, stack),
                _ => stack_size(&mut c, nodes, h, t, stack),
            }
        } else {
            let key = &mix.registers[c.rng.random_range(0..mix.registers.len())];
            match dice {
                70..=79 => {
                    register_read(&mut c, nodes, h, t, key);
                }
                80..=86 => kv_put(&mut c, nodes, h, t, key),
                _ => register_cas(&mut c, nodes, h, t, key),
            }
        }
    }
}
