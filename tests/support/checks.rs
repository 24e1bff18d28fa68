//! Checks of a finished run against what clients were told: no acknowledged write lost, no stack
//! item lost or popped twice.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::history::{KvIn, KvOp, KvOut, StackIn, StackOp, StackOut};
use super::txlog::Line;

/// Every acknowledged write survives in `final_values` (key → value, absent keys missing), or
/// was overwritten by a write that may have come after it.
///
/// Precisely: the final value of a key must come from some write `W` (a put of that value, or a
/// delete for an absent key, or no write at all) such that no acknowledged write to the key was
/// invoked after `W` returned — such a write would have to come later in every order consistent
/// with real time, and would then be what the key holds. An unknown-outcome `W` never returned,
/// so it may have taken effect last.
pub fn assert_acked_writes_survive(history: &[KvOp], final_values: &BTreeMap<String, String>) {
    let mut writes: BTreeMap<&str, Vec<&KvOp>> = BTreeMap::new();
    // A swap answered "not swapped" wrote nothing.
    let wrote = |op: &&KvOp| op.input.is_write() && op.output != Some(KvOut::Swapped(false));
    for op in history.iter().filter(wrote) {
        writes.entry(op.input.key()).or_default().push(op);
    }
    for (key, ops) in &writes {
        let fin = final_values.get(*key);
        let explains = |returned: u64, itself: Option<&KvOp>| {
            !ops.iter().any(|later| {
                !later.is_unknown()
                    && !itself.is_some_and(|w| std::ptr::eq(*later, w))
                    && later.call > returned
            })
        };
        let produced_by = |op: &KvOp| match (&op.input, fin) {
            (KvIn::Put { value, .. } | KvIn::Cas { new: value, .. }, Some(fin)) => value == fin,
            (KvIn::Delete { .. }, None) => true,
            _ => false,
        };
        let explained = ops
            .iter()
            .any(|w| produced_by(w) && explains(w.ret_or_infinity(), Some(w)))
            || (fin.is_none() && explains(0, None));
        assert!(
            explained,
            "key {key}: the final value {fin:?} loses an acknowledged write; writes: {ops:#?}"
        );
    }
    for (key, value) in final_values {
        assert!(
            writes
                .get(key.as_str())
                .is_some_and(|ops| ops.iter().any(|op| matches!(
                    &op.input,
                    KvIn::Put { value: v, .. } | KvIn::Cas { new: v, .. } if v == value
                ))),
            "key {key} holds {value:?}, which no client wrote"
        );
    }
}

/// What the transaction log says happened to the stacks: items pushed and popped (replays of a
/// client's last request excluded: they applied nothing), and the contents that result.
pub struct StackLedger {
    pub pushed: HashMap<i64, u64>,
    pub popped: HashMap<i64, u64>,
    pub contents: BTreeMap<u64, Vec<i64>>,
}

/// Replays the stack lines of a transaction log, asserting that no item is pushed twice (each
/// push carries a unique item, so a second one is a duplicated request) and that every pop takes
/// the top item once.
pub fn stack_ledger(txlog: &[String]) -> StackLedger {
    let mut ledger = StackLedger {
        pushed: HashMap::new(),
        popped: HashMap::new(),
        contents: BTreeMap::new(),
    };
    for text in txlog {
        let line = Line::parse(text);
        if line.replay || !line.op.starts_with("stack.") {
            continue;
        }
        let stack: u64 = line.arg("stack").unwrap_or(0);
        match line.op.as_str() {
            "stack.push" if line.result.starts_with("size=") => {
                let item: i64 = line.arg("item").expect("a push names its item");
                assert!(
                    ledger.pushed.insert(item, line.index).is_none(),
                    "item {item} pushed twice (again at index {})",
                    line.index
                );
                ledger.contents.entry(stack).or_default().push(item);
            }
            "stack.pop" => {
                if let Some(item) = line.result.strip_prefix("item=") {
                    let item: i64 = item.parse().expect("an item");
                    let top = ledger.contents.entry(stack).or_default().pop();
                    assert_eq!(top, Some(item), "pop at index {} took no top", line.index);
                    assert!(
                        ledger.popped.insert(item, line.index).is_none(),
                        "item {item} popped twice (again at index {})",
                        line.index
                    );
                }
            }
            _ => {}
        }
    }
    ledger
}

/// No acknowledged push is lost and no item is popped twice: each acknowledged push is either
/// still on its stack or was popped exactly once; each item an acknowledged pop returned was
/// really popped, and no two acknowledged pops returned the same item. `final_stacks` (from the
/// state) must equal what the transaction log builds.
pub fn assert_stacks_accounted(
    history: &[StackOp],
    txlog: &[String],
    final_stacks: &BTreeMap<u64, Vec<i64>>,
) -> StackLedger {
    let ledger = stack_ledger(txlog);
    let nonempty: BTreeMap<u64, Vec<i64>> = ledger
        .contents
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(&id, items)| (id, items.clone()))
        .collect();
    let final_nonempty: BTreeMap<u64, Vec<i64>> = final_stacks
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(&id, items)| (id, items.clone()))
        .collect();
    assert_eq!(
        nonempty, final_nonempty,
        "the state's stacks differ from the transaction log's"
    );
    let on_stacks: BTreeSet<i64> = final_stacks.values().flatten().copied().collect();
    let mut returned_by_pops = BTreeSet::new();
    for op in history {
        match (&op.input, &op.output) {
            (StackIn::Push { item, .. }, Some(StackOut::Done)) => {
                assert!(
                    ledger.pushed.contains_key(item),
                    "acknowledged push of {item} is not in the log"
                );
                assert!(
                    on_stacks.contains(item) != ledger.popped.contains_key(item),
                    "acknowledged item {item} is neither on its stack nor popped once"
                );
            }
            (StackIn::Pop { .. }, Some(StackOut::Item(Some(item)))) => {
                assert!(
                    ledger.popped.contains_key(item),
                    "a pop returned {item}, which the log never popped"
                );
                assert!(
                    returned_by_pops.insert(*item),
                    "two acknowledged pops returned {item}"
                );
            }
            _ => {}
        }
    }
    ledger
}

/// The students of a `/v1/state` JSON as roll number → name.
pub fn students_of(state: &serde_json::Value) -> BTreeMap<String, String> {
    state["students"]
        .as_array()
        .expect("students")
        .iter()
        .map(|s| {
            (
                s["roll_no"].as_u64().expect("roll_no").to_string(),
                s["name"].as_str().expect("name").to_string(),
            )
        })
        .collect()
}

/// The keys of a `/v1/state` JSON as key → value (text values only).
pub fn kv_of(state: &serde_json::Value) -> BTreeMap<String, String> {
    state["kv"]
        .as_object()
        .expect("kv")
        .iter()
        .map(|(k, v)| (k.clone(), v["value"].as_str().expect("text").to_string()))
        .collect()
}

/// The stacks of a `/v1/state` JSON as id → items (bottom first).
pub fn stacks_of(state: &serde_json::Value) -> BTreeMap<u64, Vec<i64>> {
    state["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .map(|s| {
            let items = s["items"].as_array().expect("items");
            (
                s["id"].as_u64().expect("id"),
                items.iter().map(|i| i.as_i64().expect("item")).collect(),
            )
        })
        .collect()
}

/// Acknowledged outputs, for the report.
pub fn acked<I, O>(ops: &[super::history::Op<I, O>]) -> usize {
    ops.iter().filter(|o| !o.is_unknown()).count()
}

/// True when the answer is a read's.
pub fn is_kv_read(op: &KvOp) -> bool {
    matches!(op.output, Some(KvOut::Value(_)))
}
