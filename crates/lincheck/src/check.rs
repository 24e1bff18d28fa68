//! The entry point: validate, partition, search each partition, combine the verdicts.

use std::time::Instant;

use super::history::{validate, HistoryError, Operation};
use super::model::Model;
use super::search::{search, Found};
use super::verdict::{Budget, Unfinished, Verdict, Violation};

/// Operations of the prefix rendered in a violation report; the rest are only indexed.
const PREFIX_TAIL_DESCRIBED_MAX: usize = 10;

/// Checks that `history` is linearizable with respect to the model `M`, within `budget`.
///
/// Partitions are checked one after the other; the first illegal one decides. A partition cut
/// short by the budget does not stop the others (one of them may still prove a violation), except
/// that once the time budget is spent the remaining ones are not started.
pub fn check<M: Model>(
    history: &[Operation<M::Input, M::Output>],
    budget: Budget,
) -> Result<Verdict, HistoryError> {
    validate(history)?;
    let deadline = budget
        .duration_max
        .map(|duration| Instant::now() + duration);
    let partitions = M::partition(history);
    assert_partitions_cover(&partitions, history.len());

    let mut unfinished = 0;
    for (position, indices) in partitions.iter().enumerate() {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            unfinished += partitions.len() - position;
            break;
        }
        let ops: Vec<&Operation<M::Input, M::Output>> =
            indices.iter().map(|&i| &history[i]).collect();
        match search::<M>(&ops, budget.steps_per_partition_max, deadline) {
            Found::Linearizable => {}
            Found::Exhausted => unfinished += 1,
            Found::Illegal {
                prefix,
                stuck,
                state,
            } => {
                let prefix: Vec<usize> = prefix.iter().map(|&local| indices[local]).collect();
                let tail_start = prefix.len().saturating_sub(PREFIX_TAIL_DESCRIBED_MAX);
                return Ok(Verdict::Illegal(Violation {
                    partition: position,
                    partition_ops: indices.len(),
                    prefix_tail: prefix[tail_start..]
                        .iter()
                        .map(|&i| M::describe(&history[i]))
                        .collect(),
                    prefix,
                    stuck: indices[stuck],
                    stuck_described: M::describe(&history[indices[stuck]]),
                    state: format!("{state:?}"),
                }));
            }
        }
    }
    if unfinished > 0 {
        let partitions = partitions.len();
        return Ok(Verdict::Unknown(Unfinished {
            partitions_unfinished: unfinished,
            partitions,
        }));
    }
    Ok(Verdict::Ok)
}

/// A model whose partition loses or repeats an operation would make every verdict meaningless.
fn assert_partitions_cover(partitions: &[Vec<usize>], len: usize) {
    let mut seen = vec![false; len];
    for &i in partitions.iter().flatten() {
        assert!(
            i < len,
            "partition names operation #{i} of a {len}-operation history"
        );
        assert!(!seen[i], "operation #{i} is in two partitions");
        seen[i] = true;
    }
    let missing = seen.iter().position(|&seen| !seen);
    assert!(
        missing.is_none(),
        "operation #{missing:?} is in no partition"
    );
}
