//! Hand-made histories with a known answer (Herlihy & Wing 1990, §2: linearizability as a
//! real-time-respecting sequential order). Times are in ns; `[call, ret]` per operation.

use raftkv_lincheck::{
    check, Budget, HistoryError, KvInput, KvModel, KvOperation, KvOutput, Operation, StackInput,
    StackModel, StackOperation, StackOutput, Verdict,
};

type Kv = KvModel<&'static str, i64>;
type KvOp = KvOperation<&'static str, i64>;

fn put(client: u64, call: u64, ret: u64, key: &'static str, value: i64) -> KvOp {
    Operation::completed(
        client,
        call,
        ret,
        KvInput::Put { key, value },
        KvOutput::Done,
    )
}

fn put_unknown(client: u64, call: u64, key: &'static str, value: i64) -> KvOp {
    Operation::unknown(client, call, KvInput::Put { key, value })
}

fn get(client: u64, call: u64, ret: u64, key: &'static str, seen: Option<i64>) -> KvOp {
    Operation::completed(
        client,
        call,
        ret,
        KvInput::Get { key },
        KvOutput::Value(seen),
    )
}

fn cas(client: u64, span: (u64, u64), key: &'static str, from: i64, to: i64, ok: bool) -> KvOp {
    let input = KvInput::Cas {
        key,
        expected: Some(from),
        new: to,
    };
    Operation::completed(client, span.0, span.1, input, KvOutput::Swapped(ok))
}

fn kv_verdict(history: &[KvOp]) -> Verdict {
    check::<Kv>(history, Budget::default()).expect("a well-formed history")
}

/// Asserts the history is illegal and that `stuck` is the operation the search could not place.
fn assert_kv_illegal(history: &[KvOp], stuck: usize) {
    match kv_verdict(history) {
        Verdict::Illegal(violation) => {
            assert_eq!(violation.stuck, stuck, "{violation}");
            assert!(violation.to_string().contains(&format!("op #{stuck}")));
        }
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn a_stale_read_after_a_completed_write_is_rejected() {
    let history = [
        put(1, 0, 10, "x", 1),
        put(1, 20, 30, "x", 2),
        // Starts after the write of 2 returned, yet sees 1.
        get(2, 40, 50, "x", Some(1)),
    ];
    assert_kv_illegal(&history, 2);
}

#[test]
fn a_lost_write_is_rejected() {
    let history = [put(1, 0, 10, "x", 1), get(2, 20, 30, "x", None)];
    assert_kv_illegal(&history, 1);
}

#[test]
fn a_read_of_a_value_never_written_is_rejected() {
    let history = [put(1, 0, 10, "x", 1), get(2, 5, 15, "x", Some(7))];
    assert_kv_illegal(&history, 1);
}

#[test]
fn overlapping_writes_may_be_seen_in_either_order() {
    let writes = [put(1, 0, 100, "x", 1), put(2, 0, 100, "x", 2)];
    for (first, second) in [(1, 2), (2, 1)] {
        let mut history = writes.to_vec();
        history.push(get(3, 10, 20, "x", Some(first)));
        history.push(get(3, 30, 40, "x", Some(second)));
        history.push(get(3, 200, 210, "x", Some(second)));
        assert_eq!(
            kv_verdict(&history),
            Verdict::Ok,
            "seen {first} then {second}"
        );
    }
}

#[test]
fn reads_may_not_flip_back_to_an_overwritten_value() {
    let history = [
        put(1, 0, 100, "x", 1),
        put(2, 0, 100, "x", 2),
        get(3, 10, 20, "x", Some(1)),
        get(3, 30, 40, "x", Some(2)),
        // Both writes are over and 2 was seen after 1: 2 is the last write.
        get(3, 200, 210, "x", Some(1)),
    ];
    assert_kv_illegal(&history, 4);
}

#[test]
fn a_call_and_a_return_at_the_same_instant_are_concurrent() {
    // The read's call and the write's return share t=10: either order is allowed.
    let history = [put(1, 0, 10, "x", 1), get(2, 10, 20, "x", None)];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
}

#[test]
fn an_unknown_write_whose_value_is_read_later_took_effect() {
    let history = [put_unknown(1, 0, "x", 1), get(2, 50, 60, "x", Some(1))];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
}

#[test]
fn an_unknown_write_never_observed_did_not_take_effect() {
    let history = [
        put(1, 0, 10, "x", 1),
        put_unknown(2, 20, "x", 2),
        get(3, 50, 60, "x", Some(1)),
        get(3, 70, 80, "x", Some(1)),
    ];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
}

#[test]
fn an_unknown_write_may_take_effect_long_after_its_call() {
    let history = [
        put(1, 0, 10, "x", 1),
        put_unknown(2, 5, "x", 2),
        get(3, 20, 30, "x", Some(1)),
        get(3, 1_000, 1_010, "x", Some(2)),
    ];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
}

#[test]
fn an_unknown_write_cannot_take_effect_before_its_call() {
    let history = [get(1, 0, 10, "x", Some(1)), put_unknown(2, 20, "x", 1)];
    assert_kv_illegal(&history, 0);
}

#[test]
fn an_unknown_write_once_seen_cannot_be_unseen() {
    let history = [
        put_unknown(1, 0, "x", 1),
        get(2, 50, 60, "x", Some(1)),
        get(2, 70, 80, "x", None),
    ];
    assert_kv_illegal(&history, 2);
}

#[test]
fn a_return_time_without_an_output_is_an_unknown_outcome() {
    // The client gave up at t=10, but the request may still be applied after that.
    let write = Operation {
        client: 1,
        call: 0,
        ret: Some(10),
        input: KvInput::Put { key: "x", value: 1 },
        output: None,
    };
    let history = [
        write,
        get(2, 20, 30, "x", None),
        get(2, 40, 50, "x", Some(1)),
    ];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
}

#[test]
fn concurrent_cas_from_the_same_value_lets_only_one_win() {
    let one_wins = [
        put(1, 0, 10, "x", 1),
        cas(2, (20, 30), "x", 1, 2, true),
        cas(3, (20, 30), "x", 1, 3, false),
        get(1, 40, 50, "x", Some(2)),
    ];
    assert_eq!(kv_verdict(&one_wins), Verdict::Ok);

    let both_win = [
        put(1, 0, 10, "x", 1),
        cas(2, (20, 30), "x", 1, 2, true),
        cas(3, (20, 30), "x", 1, 3, true),
    ];
    assert!(kv_verdict(&both_win).is_illegal());
}

#[test]
fn a_cas_that_failed_although_its_value_was_there_is_rejected() {
    let history = [put(1, 0, 10, "x", 1), cas(2, (20, 30), "x", 1, 2, false)];
    assert_kv_illegal(&history, 1);
}

#[test]
fn delete_makes_the_key_absent_and_not_found_needs_an_absent_key() {
    let delete = |client, call, ret, output| {
        Operation::completed(client, call, ret, KvInput::Delete { key: "x" }, output)
    };
    let legal = [
        put(1, 0, 10, "x", 1),
        delete(1, 20, 30, KvOutput::Done),
        get(2, 40, 50, "x", None),
        delete(2, 60, 70, KvOutput::NotFound),
    ];
    assert_eq!(kv_verdict(&legal), Verdict::Ok);
    let illegal = [put(1, 0, 10, "x", 1), delete(2, 20, 30, KvOutput::NotFound)];
    assert_kv_illegal(&illegal, 1);
}

#[test]
fn keys_are_checked_separately_and_the_violation_names_its_partition() {
    let history = [
        put(1, 0, 10, "a", 1),
        put(2, 0, 10, "b", 1),
        get(1, 20, 30, "a", Some(1)),
        get(2, 20, 30, "b", Some(9)),
    ];
    let Verdict::Illegal(violation) = kv_verdict(&history) else {
        panic!("the read of b sees a value never written");
    };
    assert_eq!(violation.partition, 1);
    assert_eq!(violation.partition_ops, 2);
    assert_eq!(violation.prefix, vec![1]);
    assert_eq!(violation.stuck, 3);
    assert_eq!(violation.state, r#"{"b": 1}"#);
}

#[test]
fn the_violation_reports_the_longest_linearizable_prefix() {
    let mut history: Vec<KvOp> = (0..5)
        .map(|i| put(1, i * 10, i * 10 + 5, "x", i as i64))
        .collect();
    history.push(get(2, 100, 110, "x", Some(2)));
    let Verdict::Illegal(violation) = kv_verdict(&history) else {
        panic!("the last write was 4");
    };
    assert_eq!(violation.prefix, vec![0, 1, 2, 3, 4]);
    assert_eq!(violation.stuck, 5);
    assert_eq!(violation.state, r#"{"x": 4}"#);
    assert_eq!(violation.prefix_tail.len(), 5);
    let report = violation.to_string();
    assert!(
        report.contains("Get { key: \"x\" } -> Value(Some(2))"),
        "{report}"
    );
}

#[test]
fn a_history_of_unknown_outcomes_only_is_linearizable() {
    let history = [put_unknown(1, 0, "x", 1), put_unknown(2, 0, "x", 2)];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
    assert_eq!(kv_verdict(&[]), Verdict::Ok);
}

#[test]
fn malformed_histories_are_refused_with_a_typed_error() {
    let backwards = [put(1, 10, 5, "x", 1)];
    assert_eq!(
        check::<Kv>(&backwards, Budget::default()),
        Err(HistoryError::ReturnBeforeCall {
            index: 0,
            call: 10,
            ret: 5
        })
    );
}

#[test]
fn an_exhausted_budget_gives_unknown_not_a_verdict() {
    let history = [put(1, 0, 10, "x", 1), get(2, 20, 30, "x", Some(1))];
    let Ok(Verdict::Unknown(unfinished)) = check::<Kv>(&history, Budget::steps(1)) else {
        panic!("one step cannot place two operations");
    };
    assert_eq!(
        (unfinished.partitions_unfinished, unfinished.partitions),
        (1, 1)
    );
    let spent = Budget::steps(1_000).with_duration(std::time::Duration::ZERO);
    assert!(matches!(
        check::<Kv>(&history, spent),
        Ok(Verdict::Unknown(_))
    ));
}

#[test]
fn an_illegal_partition_wins_over_an_unfinished_one() {
    // Key "a": eight concurrent unknown writes and reads that need many steps to explain.
    let mut history: Vec<KvOp> = (0..8).map(|v| put_unknown(v, 0, "a", v as i64)).collect();
    history.extend((0..8).map(|v| get(9, 100 + v * 10, 105 + v * 10, "a", Some(7 - v as i64))));
    // Key "b": illegal in two steps.
    history.push(get(10, 0, 10, "b", Some(1)));
    match check::<Kv>(&history, Budget::steps(5)).expect("well-formed") {
        Verdict::Illegal(violation) => assert_eq!(violation.stuck, history.len() - 1),
        other => panic!("expected the violation on b, got {other:?}"),
    }
}

fn push(client: u64, call: u64, ret: u64, item: i64) -> StackOperation {
    Operation::completed(
        client,
        call,
        ret,
        StackInput::Push { stack: 1, item },
        StackOutput::Done,
    )
}

fn pop(client: u64, call: u64, ret: u64, item: Option<i64>) -> StackOperation {
    Operation::completed(
        client,
        call,
        ret,
        StackInput::Pop { stack: 1 },
        StackOutput::Item(item),
    )
}

fn stack_verdict(history: &[StackOperation]) -> Verdict {
    check::<StackModel>(history, Budget::default()).expect("a well-formed history")
}

#[test]
fn a_pop_of_an_item_never_pushed_is_rejected() {
    let history = [push(1, 0, 10, 1), pop(2, 20, 30, Some(2))];
    assert!(stack_verdict(&history).is_illegal());
}

#[test]
fn an_item_popped_twice_is_rejected() {
    let history = [
        push(1, 0, 10, 1),
        pop(2, 20, 30, Some(1)),
        pop(3, 20, 30, Some(1)),
    ];
    assert!(stack_verdict(&history).is_illegal());
}

#[test]
fn a_pop_order_violating_lifo_across_sequential_operations_is_rejected() {
    let history = [
        push(1, 0, 10, 1),
        push(1, 20, 30, 2),
        pop(2, 40, 50, Some(1)),
        pop(2, 60, 70, Some(2)),
    ];
    assert!(stack_verdict(&history).is_illegal());
}

#[test]
fn concurrent_pushes_may_be_popped_in_either_order() {
    for (first, second) in [(1, 2), (2, 1)] {
        let history = [
            push(1, 0, 10, 1),
            push(2, 0, 10, 2),
            pop(3, 20, 30, Some(first)),
            pop(3, 40, 50, Some(second)),
            pop(3, 60, 70, None),
        ];
        assert_eq!(
            stack_verdict(&history),
            Verdict::Ok,
            "popped {first} then {second}"
        );
    }
}

#[test]
fn top_and_size_see_the_same_stack_as_pop() {
    let observe = |call, input, output| Operation::completed(4, call, call + 5, input, output);
    let history = [
        push(1, 0, 10, 5),
        push(1, 20, 30, 6),
        observe(40, StackInput::Size { stack: 1 }, StackOutput::Size(2)),
        observe(50, StackInput::Top { stack: 1 }, StackOutput::Item(Some(6))),
        pop(2, 60, 70, Some(6)),
        observe(80, StackInput::Top { stack: 1 }, StackOutput::Item(Some(5))),
        observe(90, StackInput::Size { stack: 2 }, StackOutput::Size(0)),
    ];
    assert_eq!(stack_verdict(&history), Verdict::Ok);
    let mut wrong_size = history.to_vec();
    wrong_size[2].output = Some(StackOutput::Size(1));
    assert!(stack_verdict(&wrong_size).is_illegal());
}

#[test]
fn an_unknown_push_may_be_popped_later_or_never_seen() {
    let unknown = Operation::unknown(1, 0, StackInput::Push { stack: 1, item: 3 });
    let popped = [
        unknown.clone(),
        pop(2, 20, 30, Some(3)),
        pop(2, 40, 50, None),
    ];
    assert_eq!(stack_verdict(&popped), Verdict::Ok);
    let never = [unknown, pop(2, 20, 30, None), pop(2, 40, 50, None)];
    assert_eq!(stack_verdict(&never), Verdict::Ok);
}

#[test]
fn stacks_are_checked_separately() {
    let history = [
        Operation::completed(
            1,
            0,
            10,
            StackInput::Push { stack: 1, item: 1 },
            StackOutput::Done,
        ),
        Operation::completed(
            2,
            0,
            10,
            StackInput::Push { stack: 2, item: 2 },
            StackOutput::Done,
        ),
        // Stack 2 never held 1.
        Operation::completed(
            3,
            20,
            30,
            StackInput::Pop { stack: 2 },
            StackOutput::Item(Some(1)),
        ),
    ];
    let Verdict::Illegal(violation) = stack_verdict(&history) else {
        panic!("stack 2 never held 1");
    };
    assert_eq!((violation.partition, violation.stuck), (1, 2));
}

#[test]
fn a_timed_out_cas_may_act_on_a_timed_out_write() {
    // Only the chain "put 1, then cas 1 -> 2", both timed out, explains the read.
    let cas_unknown = Operation::unknown(
        2,
        0,
        KvInput::Cas {
            key: "x",
            expected: Some(1),
            new: 2,
        },
    );
    let history = [
        put_unknown(1, 0, "x", 1),
        cas_unknown,
        get(3, 10, 20, "x", Some(2)),
    ];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
}

#[test]
fn unknown_pushes_may_both_be_needed_before_a_known_operation() {
    // Neither timed-out push alone makes the size 2: the search must chain them.
    let unknown = |item| Operation::unknown(1, 0, StackInput::Push { stack: 1, item });
    let size = |call, n| {
        Operation::completed(
            2,
            call,
            call + 5,
            StackInput::Size { stack: 1 },
            StackOutput::Size(n),
        )
    };
    let history = [
        unknown(1),
        unknown(2),
        size(10, 2),
        pop(2, 20, 25, Some(2)),
        pop(2, 30, 35, Some(1)),
    ];
    assert_eq!(stack_verdict(&history), Verdict::Ok);
    let other_order = [unknown(1), unknown(2), size(10, 2), pop(2, 20, 25, Some(1))];
    assert_eq!(stack_verdict(&other_order), Verdict::Ok, "pushed 2 then 1");
    let three = [unknown(1), unknown(2), size(10, 3)];
    assert!(stack_verdict(&three).is_illegal());
}

#[test]
fn equal_unknown_pops_are_interchangeable_but_each_counts() {
    let unknown_pop = |call| Operation::unknown(3, call, StackInput::Pop { stack: 1 });
    let size = |call, n| {
        Operation::completed(
            2,
            call,
            call + 5,
            StackInput::Size { stack: 1 },
            StackOutput::Size(n),
        )
    };
    let pushes = [push(1, 0, 5, 1), push(1, 10, 15, 2), push(1, 20, 25, 3)];
    let mut two_popped = pushes.to_vec();
    two_popped.extend([unknown_pop(30), unknown_pop(31), size(40, 1)]);
    two_popped.push(pop(2, 50, 55, Some(1)));
    assert_eq!(stack_verdict(&two_popped), Verdict::Ok);
    let mut three_popped = pushes.to_vec();
    three_popped.extend([unknown_pop(30), unknown_pop(31), size(40, 0)]);
    assert!(stack_verdict(&three_popped).is_illegal());
}

#[test]
fn a_timed_out_write_overwritten_by_another_timed_out_write_can_still_be_seen() {
    // The absorbing rule must not forbid the order "2 then 1".
    let history = [
        put_unknown(1, 0, "x", 1),
        put_unknown(2, 0, "x", 2),
        get(3, 10, 20, "x", Some(2)),
        get(3, 30, 40, "x", Some(1)),
    ];
    assert_eq!(kv_verdict(&history), Verdict::Ok);
    let mut flip_back = history.to_vec();
    flip_back.push(get(3, 50, 60, "x", Some(2)));
    assert!(kv_verdict(&flip_back).is_illegal());
}
