//! Feeding recorded histories to the linearizability checker (`raftkv_lincheck`, crates/lincheck).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use raftkv_lincheck::{
    check, Budget, KvInput, KvModel, KvOutput, Model, Operation, StackInput, StackModel,
    StackOutput, Verdict,
};

use super::history::{KvIn, KvOp, KvOut, Op, StackIn, StackOp, StackOut};

/// Steps per partition: a correct history of this suite's size (a few thousand operations per
/// key or stack, at most eight concurrent) needs under 50,000 (measured on scenario 2's stacks),
/// so this leaves a wide margin. It also bounds memory: the search caches one entry per step,
/// a bitset of the partition's operations plus the model state, a few hundred MB at most here.
const STEPS_PER_PARTITION: u64 = 1_000_000;
/// A wall-clock bound, so a pathological history fails the test instead of hanging the suite.
const CHECK_TIME_MAX: Duration = Duration::from_secs(60);

fn operation<I, O, J, P>(
    op: &Op<I, O>,
    input: impl Fn(&I) -> J,
    output: impl Fn(&O) -> P,
) -> Operation<J, P> {
    Operation {
        client: op.client,
        call: op.call,
        ret: op.ret,
        input: input(&op.input),
        output: op.output.as_ref().map(output),
    }
}

/// A key-value history in the checker's terms.
pub fn kv_history(ops: &[KvOp]) -> Vec<Operation<KvInput<String, String>, KvOutput<String>>> {
    ops.iter()
        .map(|op| {
            operation(
                op,
                |i| match i {
                    KvIn::Put { key, value } => KvInput::Put {
                        key: key.clone(),
                        value: value.clone(),
                    },
                    KvIn::Get { key } => KvInput::Get { key: key.clone() },
                    KvIn::Delete { key } => KvInput::Delete { key: key.clone() },
                    KvIn::Cas { key, expected, new } => KvInput::Cas {
                        key: key.clone(),
                        expected: Some(expected.clone()),
                        new: new.clone(),
                    },
                },
                |o| match o {
                    KvOut::Done => KvOutput::Done,
                    KvOut::NotFound => KvOutput::NotFound,
                    KvOut::Value(v) => KvOutput::Value(v.clone()),
                    KvOut::Swapped(swapped) => KvOutput::Swapped(*swapped),
                },
            )
        })
        .collect()
}

/// A stack history in the checker's terms.
pub fn stack_history(ops: &[StackOp]) -> Vec<Operation<StackInput, StackOutput>> {
    ops.iter()
        .map(|op| {
            operation(
                op,
                |i| match *i {
                    StackIn::Push { stack, item } => StackInput::Push { stack, item },
                    StackIn::Pop { stack } => StackInput::Pop { stack },
                    StackIn::Top { stack } => StackInput::Top { stack },
                    StackIn::Size { stack } => StackInput::Size { stack },
                },
                |o| match *o {
                    StackOut::Done => StackOutput::Done,
                    StackOut::Item(item) => StackOutput::Item(item),
                    StackOut::Size(n) => StackOutput::Size(n),
                },
            )
        })
        .collect()
}

/// Checks `history` against model `M`; panics unless it is linearizable. Returns the time the
/// check took.
pub fn assert_linearizable<M: Model>(
    what: &str,
    history: &[Operation<M::Input, M::Output>],
) -> Duration {
    let started = Instant::now();
    let budget = Budget::steps(STEPS_PER_PARTITION).with_duration(CHECK_TIME_MAX);
    let verdict = check::<M>(history, budget)
        .unwrap_or_else(|e| panic!("{what}: the recorded history is malformed: {e}"));
    let took = started.elapsed();
    match verdict {
        Verdict::Ok => took,
        Verdict::Illegal(violation) => panic!("{what}: {violation}"),
        // A correct history of this size is decided in a small fraction of the budget; an
        // exhausted search is what a violation the checker cannot pin down quickly looks like
        // (a wrong stack answer deep in a history sends it backtracking through every order).
        Verdict::Unknown(unfinished) => panic!(
            "{what}: no linearization found within the budget after {took:?} ({unfinished:?}); \
             most likely a violation (or the workload outgrew what can be checked)"
        ),
    }
}

/// Checks a key-value history.
pub fn assert_kv_linearizable(what: &str, ops: &[KvOp]) -> Duration {
    assert_linearizable::<KvModel<String, String>>(what, &kv_history(ops))
}

/// Checks a stack history.
pub fn assert_stacks_linearizable(ops: &[StackOp]) -> Duration {
    assert_linearizable::<StackModel>("stacks", &stack_history(ops))
}
