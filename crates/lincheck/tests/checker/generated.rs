//! Generated histories: recorded from a real sequential execution with random overlapping
//! intervals (so they must pass), then mutated (so they must fail); a brute-force cross-check
//! on tiny random histories; and a timing run on a few thousand operations.

use std::collections::BTreeMap;
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use raftkv_lincheck::{
    check, Budget, KvInput, KvModel, KvOperation, KvOutput, Model, Operation, StackInput,
    StackModel, StackOperation, StackOutput, Verdict,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

type Kv = KvModel<u8, i64>;
type KvOp = KvOperation<u8, i64>;

/// A value no generated write uses: reading it is always a violation.
const NEVER_WRITTEN: i64 = 1_000;

/// What became of an operation in the execution the history is recorded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Answered: the client saw the output.
    Known,
    /// Applied, but the client timed out.
    TookEffect,
    /// Never applied, and the client timed out.
    Lost,
}

/// When an operation ran, relative to its client's previous one.
#[derive(Clone, Copy, Debug)]
struct Timing {
    client: usize,
    gap_ns: u64,
    duration_ns: u64,
    /// Where inside `[call, ret]` the operation took effect.
    point_percent: u64,
    fate: Fate,
}

/// `(call, ret, point)` per operation; each client runs its operations one after the other.
fn schedule(timings: &[Timing]) -> Vec<(u64, u64, u64)> {
    let mut clock_ns: BTreeMap<usize, u64> = BTreeMap::new();
    timings
        .iter()
        .map(|t| {
            let call = clock_ns.get(&t.client).copied().unwrap_or(0) + t.gap_ns;
            let ret = call + t.duration_ns;
            clock_ns.insert(t.client, ret);
            (call, ret, call + t.duration_ns * t.point_percent / 100)
        })
        .collect()
}

/// Records a history: runs the applied operations in order of their points through `apply`
/// (a reference implementation, independent of the models under test).
fn record<I: Clone, O: Clone, S: Default>(
    specs: &[(Timing, I)],
    apply: impl Fn(&mut S, &I) -> O,
) -> Vec<Operation<I, O>> {
    let timings: Vec<Timing> = specs.iter().map(|(t, _)| *t).collect();
    let times = schedule(&timings);
    let mut order: Vec<usize> = (0..specs.len())
        .filter(|&i| timings[i].fate != Fate::Lost)
        .collect();
    order.sort_by_key(|&i| (times[i].2, i));
    let mut state = S::default();
    let mut outputs: Vec<Option<O>> = vec![None; specs.len()];
    for i in order {
        outputs[i] = Some(apply(&mut state, &specs[i].1));
    }
    specs
        .iter()
        .zip(outputs)
        .enumerate()
        .map(|(i, ((timing, input), output))| {
            let (call, ret, _) = times[i];
            let client = timing.client as u64;
            match timing.fate {
                Fate::Known => {
                    Operation::completed(client, call, ret, input.clone(), output.expect("applied"))
                }
                Fate::TookEffect | Fate::Lost => Operation::unknown(client, call, input.clone()),
            }
        })
        .collect()
}

fn apply_kv(map: &mut BTreeMap<u8, i64>, input: &KvInput<u8, i64>) -> KvOutput<i64> {
    match input {
        KvInput::Put { key, value } => {
            map.insert(*key, *value);
            KvOutput::Done
        }
        KvInput::Get { key } => KvOutput::Value(map.get(key).copied()),
        KvInput::Delete { key } => match map.remove(key) {
            Some(_) => KvOutput::Done,
            None => KvOutput::NotFound,
        },
        KvInput::Cas { key, expected, new } => {
            let swapped = map.get(key) == expected.as_ref();
            if swapped {
                map.insert(*key, *new);
            }
            KvOutput::Swapped(swapped)
        }
    }
}

fn apply_stack(stacks: &mut BTreeMap<u64, Vec<i64>>, input: &StackInput) -> StackOutput {
    let items = stacks.entry(input.stack()).or_default();
    match *input {
        StackInput::Push { item, .. } => {
            items.push(item);
            StackOutput::Done
        }
        StackInput::Pop { .. } => StackOutput::Item(items.pop()),
        StackInput::Top { .. } => StackOutput::Item(items.last().copied()),
        StackInput::Size { .. } => StackOutput::Size(items.len() as u64),
    }
}

/// One operation in five with an unknown outcome: enough to exercise them everywhere.
fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![8 => Just(Fate::Known), 1 => Just(Fate::TookEffect), 1 => Just(Fate::Lost)]
}

fn timing(clients: usize, fate: impl Strategy<Value = Fate>) -> impl Strategy<Value = Timing> {
    (0..clients, 0..20u64, 1..80u64, 0..=100u64, fate).prop_map(
        |(client, gap_ns, duration_ns, point_percent, fate)| Timing {
            client,
            gap_ns,
            duration_ns,
            point_percent,
            fate,
        },
    )
}

fn kv_input(keys: u8, values: i64) -> impl Strategy<Value = KvInput<u8, i64>> {
    let key = 0..keys;
    prop_oneof![
        3 => (key.clone(), 0..values).prop_map(|(key, value)| KvInput::Put { key, value }),
        3 => key.clone().prop_map(|key| KvInput::Get { key }),
        1 => key.clone().prop_map(|key| KvInput::Delete { key }),
        2 => (key, proptest::option::of(0..values), 0..values)
            .prop_map(|(key, expected, new)| KvInput::Cas { key, expected, new }),
    ]
}

fn stack_input() -> impl Strategy<Value = StackInput> {
    let stack = 0..2u64;
    prop_oneof![
        3 => (stack.clone(), 0..10i64).prop_map(|(stack, item)| StackInput::Push { stack, item }),
        3 => stack.clone().prop_map(|stack| StackInput::Pop { stack }),
        1 => stack.clone().prop_map(|stack| StackInput::Top { stack }),
        1 => stack.prop_map(|stack| StackInput::Size { stack }),
    ]
}

fn verdict<M: Model>(history: &[Operation<M::Input, M::Output>]) -> Verdict {
    check::<M>(history, Budget::default()).expect("generated histories are well-formed")
}

/// Positions of the operations `is_read` selects among those with a known output.
fn known_reads<I, O>(history: &[Operation<I, O>], is_read: impl Fn(&I) -> bool) -> Vec<usize> {
    (0..history.len())
        .filter(|&i| !history[i].is_unknown() && is_read(&history[i].input))
        .collect()
}

proptest! {
    // Failures print their shrunk input; there is no regression file to keep next to the tests.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn kv_histories_of_a_sequential_execution_pass(
        specs in prop::collection::vec((timing(5, fate()), kv_input(3, 5)), 1..60),
    ) {
        let history = record(&specs, apply_kv);
        prop_assert_eq!(verdict::<Kv>(&history), Verdict::Ok);
    }

    #[test]
    fn kv_histories_with_a_read_of_a_value_never_written_fail(
        specs in prop::collection::vec((timing(5, fate()), kv_input(3, 5)), 1..60),
        pick in any::<Index>(),
    ) {
        let mut history = record(&specs, apply_kv);
        let reads = known_reads(&history, |input| matches!(input, KvInput::Get { .. }));
        if reads.is_empty() {
            return Ok(()); // nothing to mutate (rare: counting these as rejects would cap the cases)
        }
        let mutated = *pick.get(&reads);
        history[mutated].output = Some(KvOutput::Value(Some(NEVER_WRITTEN)));
        prop_assert!(verdict::<Kv>(&history).is_illegal(), "mutated read #{} accepted", mutated);
    }

    #[test]
    fn stack_histories_of_a_sequential_execution_pass(
        specs in prop::collection::vec((timing(5, fate()), stack_input()), 1..60),
    ) {
        let history = record(&specs, apply_stack);
        prop_assert_eq!(verdict::<StackModel>(&history), Verdict::Ok);
    }

    // Shorter than the others: refuting means exploring every order of concurrent pushes that
    // the stack's contents can tell apart, which grows fast with the history's length (the
    // module docs discuss this).
    #[test]
    fn stack_histories_with_a_pop_of_an_item_never_pushed_fail(
        specs in prop::collection::vec((timing(5, fate()), stack_input()), 1..30),
        pick in any::<Index>(),
    ) {
        let mut history = record(&specs, apply_stack);
        let reads = known_reads(&history, |input| {
            matches!(input, StackInput::Pop { .. } | StackInput::Top { .. })
        });
        if reads.is_empty() {
            return Ok(()); // nothing to mutate (rare: counting these as rejects would cap the cases)
        }
        let mutated = *pick.get(&reads);
        history[mutated].output = Some(StackOutput::Item(Some(NEVER_WRITTEN)));
        // About one such history in 50,000 needs more than the default budget to refute.
        let verdict = check::<StackModel>(&history, Budget::steps(20_000_000));
        prop_assert!(verdict.expect("well-formed").is_illegal());
    }

}

proptest! {
    // Tiny cases are cheap and the pruning rules they check only misbehave on rare shapes.
    #![proptest_config(ProptestConfig {
        cases: 4_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn tiny_random_histories_agree_with_brute_force(
        specs in prop::collection::vec(
            (timing(3, prop_oneof![3 => Just(Fate::Known), 1 => Just(Fate::Lost)]),
             kv_input(2, 3), 0..3i64, any::<bool>()),
            1..7,
        ),
    ) {
        let history = random_outputs(&specs);
        let expected = brute_force_linearizable::<Kv>(&history);
        prop_assert_eq!(verdict::<Kv>(&history).is_ok(), expected, "{:#?}", history);
        prop_assert_eq!(verdict::<Whole>(&history).is_ok(), expected, "{:#?}", history);
    }

    #[test]
    fn tiny_random_stack_histories_agree_with_brute_force(
        specs in prop::collection::vec(
            (timing(3, prop_oneof![3 => Just(Fate::Known), 1 => Just(Fate::Lost)]),
             (0..2u64, 0..3i64, 0..4u8).prop_map(|(stack, item, kind)| match kind {
                 0 => StackInput::Push { stack, item },
                 1 => StackInput::Pop { stack },
                 2 => StackInput::Top { stack },
                 _ => StackInput::Size { stack },
             }),
             0..3i64, any::<bool>()),
            1..7,
        ),
    ) {
        let history = random_stack_outputs(&specs);
        let expected = brute_force_linearizable::<StackModel>(&history);
        prop_assert_eq!(verdict::<StackModel>(&history).is_ok(), expected, "{:#?}", history);
    }
}

/// A history with arbitrary (often impossible) outputs, for the brute-force comparison.
fn random_outputs(specs: &[(Timing, KvInput<u8, i64>, i64, bool)]) -> Vec<KvOp> {
    let timings: Vec<Timing> = specs.iter().map(|s| s.0).collect();
    let times = schedule(&timings);
    specs
        .iter()
        .zip(times)
        .map(|((timing, input, value, flag), (call, ret, _))| {
            let output = match input {
                KvInput::Put { .. } => KvOutput::Done,
                KvInput::Get { .. } => KvOutput::Value(Some(*value).filter(|_| *flag)),
                KvInput::Delete { .. } if *flag => KvOutput::Done,
                KvInput::Delete { .. } => KvOutput::NotFound,
                KvInput::Cas { .. } => KvOutput::Swapped(*flag),
            };
            let client = timing.client as u64;
            match timing.fate {
                Fate::Known => Operation::completed(client, call, ret, input.clone(), output),
                _ => Operation::unknown(client, call, input.clone()),
            }
        })
        .collect()
}

/// The definition, tried exhaustively: some order of all known operations and some of the
/// unknown ones respects real time (`a.ret < b.call` puts `a` first) and the model accepts.
fn brute_force_linearizable<M: Model>(history: &[Operation<M::Input, M::Output>]) -> bool {
    fn extend<M: Model>(
        history: &[Operation<M::Input, M::Output>],
        placed: &mut Vec<bool>,
        state: &M::State,
    ) -> bool {
        if (0..history.len()).all(|i| placed[i] || history[i].is_unknown()) {
            return true;
        }
        for next in 0..history.len() {
            let must_wait = (0..history.len()).any(|other| {
                !placed[other]
                    && other != next
                    && !history[other].is_unknown()
                    && history[other]
                        .ret
                        .is_some_and(|ret| ret < history[next].call)
            });
            if placed[next] || must_wait {
                continue;
            }
            let op = &history[next];
            if let Some(after) = M::step(state, &op.input, op.output.as_ref()) {
                placed[next] = true;
                let found = extend::<M>(history, placed, &after);
                placed[next] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }
    extend::<M>(history, &mut vec![false; history.len()], &M::init())
}

/// A stack history with arbitrary (often impossible) outputs, for the brute-force comparison.
fn random_stack_outputs(specs: &[(Timing, StackInput, i64, bool)]) -> Vec<StackOperation> {
    let timings: Vec<Timing> = specs.iter().map(|s| s.0).collect();
    let times = schedule(&timings);
    specs
        .iter()
        .zip(times)
        .map(|((timing, input, value, flag), (call, ret, _))| {
            let output = match input {
                StackInput::Push { .. } => StackOutput::Done,
                StackInput::Pop { .. } | StackInput::Top { .. } => {
                    StackOutput::Item(Some(*value).filter(|_| *flag))
                }
                StackInput::Size { .. } => StackOutput::Size(*value as u64),
            };
            let client = timing.client as u64;
            match timing.fate {
                Fate::Known => Operation::completed(client, call, ret, *input, output),
                _ => Operation::unknown(client, call, *input),
            }
        })
        .collect()
}

/// The key-value model without partitioning: the whole history is one search.
struct Whole;

impl Model for Whole {
    type State = <Kv as Model>::State;
    type Input = <Kv as Model>::Input;
    type Output = <Kv as Model>::Output;

    fn init() -> Self::State {
        Kv::init()
    }

    fn step(
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State> {
        Kv::step(state, input, output)
    }
}

/// `ops` operations from 8 sequential clients with overlapping requests of up to 20 µs;
/// `unknown_percent` of them time out, half of those having taken effect.
fn large_history<I: Clone, O: Clone, S: Default>(
    seed: u64,
    ops: usize,
    unknown_percent: u32,
    mut input: impl FnMut(&mut StdRng, usize) -> I,
    apply: impl Fn(&mut S, &I) -> O,
) -> Vec<Operation<I, O>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let specs: Vec<(Timing, I)> = (0..ops)
        .map(|n| {
            let roll = rng.random_range(0..200);
            let fate = match roll / 2 < unknown_percent {
                false => Fate::Known,
                true if roll % 2 == 0 => Fate::TookEffect,
                true => Fate::Lost,
            };
            let timing = Timing {
                client: rng.random_range(0..8),
                gap_ns: rng.random_range(0..2_000),
                duration_ns: rng.random_range(1..20_000),
                point_percent: rng.random_range(0..=100),
                fate,
            };
            (timing, input(&mut rng, n))
        })
        .collect();
    record(&specs, apply)
}

/// Unique written values; a CAS expects one of the last few written.
fn kv_request(keys: u8) -> impl FnMut(&mut StdRng, usize) -> KvInput<u8, i64> {
    move |rng, n| {
        let key = rng.random_range(0..keys);
        let value = n as i64;
        match rng.random_range(0..10) {
            0..4 => KvInput::Put { key, value },
            4..8 => KvInput::Get { key },
            8 => KvInput::Delete { key },
            _ => {
                let expected = Some(rng.random_range(value.saturating_sub(20)..=value));
                KvInput::Cas {
                    key,
                    expected,
                    new: value,
                }
            }
        }
    }
}

/// Unique pushed items.
fn stack_request(stacks: u64) -> impl FnMut(&mut StdRng, usize) -> StackInput {
    move |rng, n| {
        let stack = rng.random_range(0..stacks);
        match rng.random_range(0..8) {
            0..3 => StackInput::Push {
                stack,
                item: n as i64,
            },
            3..6 => StackInput::Pop { stack },
            6 => StackInput::Top { stack },
            _ => StackInput::Size { stack },
        }
    }
}

/// Checks a correct history and the same with one read's output replaced by `impossible`,
/// within `budget`, printing both times.
fn check_timed<M: Model>(
    name: &str,
    history: &[Operation<M::Input, M::Output>],
    budget: Budget,
    is_read: impl Fn(&M::Input) -> bool,
    impossible: M::Output,
) where
    M::Input: Clone,
    M::Output: Clone,
{
    let check = |history: &[Operation<M::Input, M::Output>]| {
        let started = Instant::now();
        let verdict = check::<M>(history, budget).expect("generated histories are well-formed");
        (verdict, started.elapsed())
    };
    let (passed, elapsed) = check(history);
    println!("lincheck: {name}: {passed:?} in {elapsed:?}");
    assert_eq!(passed, Verdict::Ok);

    let mut mutated = history.to_vec();
    let reads = known_reads(&mutated, is_read);
    let victim = reads[reads.len() / 2];
    mutated[victim].output = Some(impossible);
    let (rejected, elapsed) = check(&mutated);
    println!("lincheck: {name}, one read mutated: rejected in {elapsed:?}");
    match rejected {
        Verdict::Illegal(violation) => assert_eq!(violation.stuck, victim, "{violation}"),
        other => panic!("mutated read #{victim} accepted: {other:?}"),
    }
}

#[test]
fn a_few_thousand_operations_over_several_keys_check_quickly() {
    let is_get = |input: &KvInput<u8, i64>| matches!(input, KvInput::Get { .. });
    let never = KvOutput::Value(Some(-1));
    let history = large_history(7, 4_000, 5, kv_request(8), apply_kv);
    let name = "4000 ops, 8 keys, 8 clients, 5% unknown";
    check_timed::<Kv>(name, &history, Budget::default(), is_get, never.clone());
    // One key, as a read/write/cas workload would use: refuting takes more than the default.
    let history = large_history(7, 2_000, 5, kv_request(1), apply_kv);
    let name = "2000 ops, 1 key, 8 clients, 5% unknown, 10M steps";
    check_timed::<Kv>(name, &history, Budget::steps(10_000_000), is_get, never);
}

#[test]
fn a_few_thousand_stack_operations_over_several_stacks_check_quickly() {
    let is_pop = |input: &StackInput| matches!(input, StackInput::Pop { .. });
    let history = large_history(7, 4_000, 0, stack_request(8), apply_stack);
    let never = StackOutput::Item(Some(-1));
    let name = "4000 ops, 8 stacks, 8 clients";
    check_timed::<StackModel>(name, &history, Budget::default(), is_pop, never);
}
