//! Determinism: replicas fed the same committed entries end in the same state, give the same
//! results and write the same transaction log, however the entries are batched.

use crate::support::state::apply_in_batches;
use bytes::Bytes;
use proptest::prelude::*;
use raftkv::raft::{Entry, Payload};
use raftkv::state::{encode, Command, Request, StateConfig, StateMachine, TxLog};

/// Small domains, so that commands hit the same students, keys and stacks often.
fn command() -> impl Strategy<Value = Command> {
    let roll = 0u64..6;
    let key = prop::sample::select(vec!["a", "b", "c", ""]).prop_map(String::from);
    let text = "[a-zA-Z \"\\n]{0,8}";
    let stack = 0u64..5;
    let label = -2i64..3;
    prop_oneof![
        (roll.clone(), text, text, text).prop_map(|(roll_no, name, address, phone)| {
            Command::StudentPut {
                roll_no,
                name,
                address,
                phone,
            }
        }),
        roll.clone()
            .prop_map(|roll_no| Command::StudentDelete { roll_no }),
        roll.prop_map(|roll_no| Command::StudentGet { roll_no }),
        (key.clone(), prop::collection::vec(any::<u8>(), 0..6)).prop_map(|(key, v)| {
            Command::KvPut {
                key,
                value: Bytes::from(v),
            }
        }),
        key.clone().prop_map(|key| Command::KvDelete { key }),
        key.prop_map(|key| Command::KvGet { key }),
        label
            .clone()
            .prop_map(|label| Command::StackCreate { label }),
        label.prop_map(|label| Command::StackId { label }),
        (stack.clone(), any::<i64>())
            .prop_map(|(stack_id, item)| Command::StackPush { stack_id, item }),
        stack
            .clone()
            .prop_map(|stack_id| Command::StackPop { stack_id }),
        stack
            .clone()
            .prop_map(|stack_id| Command::StackTop { stack_id }),
        stack.prop_map(|stack_id| Command::StackSize { stack_id }),
    ]
}

/// A payload: mostly requests (half with a session, seqs that repeat and go back), some no-ops,
/// some garbage.
fn payload() -> impl Strategy<Value = Payload> {
    let session = prop::option::of((0u64..5, 0u64..4));
    prop_oneof![
        8 => (session, command()).prop_map(|(session, command)| {
            let request = match session {
                Some((client_id, seq)) => Request::with_session(client_id, seq, command),
                None => Request::new(command),
            };
            Payload::Command(encode(&request))
        }),
        1 => Just(Payload::Noop),
        1 => prop::collection::vec(any::<u8>(), 0..10)
            .prop_map(|garbage| Payload::Command(Bytes::from(garbage))),
    ]
}

/// Numbers the payloads as a log; the term grows now and then.
fn entries(payloads: Vec<(Payload, bool)>) -> Vec<Entry> {
    let mut term = 1;
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, (payload, new_term))| {
            term += u64::from(new_term);
            Entry {
                index: i as u64 + 1,
                term,
                payload,
            }
        })
        .collect()
}

fn machine() -> StateMachine {
    // Three sessions for five clients: eviction happens all the time.
    StateMachine::new(StateConfig { max_sessions: 3 }).expect("valid config")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn replicas_agree_on_state_results_and_transaction_log(
        payloads in prop::collection::vec((payload(), prop::bool::weighted(0.05)), 0..120),
        cut_points in prop::collection::vec(0usize..120, 0..6),
    ) {
        let entries = entries(payloads);
        let dir = tempfile::tempdir().expect("temp dir");

        // Replica 1: one entry at a time through `apply`, the log in one batch.
        let mut one = machine();
        let results_one: Vec<_> = entries
            .iter()
            .map(|e| one.apply(e.index, e.term, &e.payload))
            .collect();
        let mut log_one = TxLog::open(dir.path(), 1).expect("open");
        machine().apply_batch(&entries, &mut log_one).expect("batch");

        // Replica 2: batches cut at random points.
        let mut two = machine();
        let mut log_two = TxLog::open(dir.path(), 2).expect("open");
        let results_two = apply_in_batches(&mut two, &entries, cut_points, &mut log_two);

        prop_assert_eq!(one.applied_index(), entries.len() as u64);
        prop_assert_eq!(&results_one, &results_two);
        let json_one = serde_json::to_string(&one.to_json()).expect("json");
        let json_two = serde_json::to_string(&two.to_json()).expect("json");
        prop_assert_eq!(json_one, json_two);
        let text_one = std::fs::read_to_string(log_one.path()).expect("read");
        let text_two = std::fs::read_to_string(log_two.path()).expect("read");
        prop_assert_eq!(text_one.lines().count(), entries.len());
        prop_assert_eq!(text_one, text_two);
    }
}
