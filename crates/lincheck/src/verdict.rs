//! What a check may conclude, and the budget that bounds it.

use std::fmt;
use std::time::Duration;

/// Limits on one check. The search is exponential in the worst case (many concurrent or
/// unknown-outcome operations on one key or stack), so it always runs under a budget; running
/// out gives [`Verdict::Unknown`], never a wrong answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Search steps allowed for each partition; a step is one evaluation of the model or one
    /// move of the search (millions run per second). Each step adds at most one configuration
    /// to the cache (about `ops / 8` bytes plus a state), so this also bounds memory: measured
    /// on 4000-operation partitions, 30 MB (one key) to 220 MB (one stack) per million steps.
    pub steps_per_partition_max: u64,
    /// Wall-clock time allowed for the whole check; `None` for no limit (deterministic verdicts).
    pub duration_max: Option<Duration>,
}

impl Budget {
    /// A budget of `steps` per partition and no time limit.
    pub fn steps(steps: u64) -> Self {
        Budget {
            steps_per_partition_max: steps,
            duration_max: None,
        }
    }

    /// The same budget, also stopping after `duration` of wall-clock time.
    pub fn with_duration(self, duration: Duration) -> Self {
        Budget {
            duration_max: Some(duration),
            ..self
        }
    }
}

impl Default for Budget {
    /// One million steps per partition, no time limit: a second at most, a few hundred MB at
    /// most, and enough for thousands of operations over several keys or for a couple of
    /// thousand on one key with a few percent of timeouts.
    fn default() -> Self {
        Budget::steps(1_000_000)
    }
}

/// The conclusion of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every partition has a linearization.
    Ok,
    /// Some partition has none: the history is not linearizable.
    Illegal(Violation),
    /// The budget ran out before a conclusion, and no partition checked so far was illegal.
    /// The caller decides whether that fails a test.
    Unknown(Unfinished),
}

impl Verdict {
    /// True for [`Verdict::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Ok)
    }

    /// True for [`Verdict::Illegal`].
    pub fn is_illegal(&self) -> bool {
        matches!(self, Verdict::Illegal(_))
    }
}

/// Why a history is not linearizable: the furthest the search got in the failing partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The failing partition's position among the model's partitions.
    pub partition: usize,
    /// How many operations that partition holds.
    pub partition_ops: usize,
    /// The longest linearizable prefix found, as indices into the history, in linearization order.
    pub prefix: Vec<usize>,
    /// The operation (index into the history) that returned before it could be placed after
    /// `prefix`, whatever order its concurrent operations were tried in.
    pub stuck: usize,
    /// The stuck operation, as the model describes it.
    pub stuck_described: String,
    /// The model's state after `prefix`.
    pub state: String,
    /// The last few operations of `prefix`, described, oldest first.
    pub prefix_tail: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "not linearizable: in partition {} ({} ops), after a linearizable prefix of {} ops, \
             op #{} cannot be placed:",
            self.partition,
            self.partition_ops,
            self.prefix.len(),
            self.stuck
        )?;
        writeln!(f, "  {}", self.stuck_described)?;
        writeln!(f, "state after the prefix: {}", self.state)?;
        if !self.prefix_tail.is_empty() {
            let skipped = self.prefix.len() - self.prefix_tail.len();
            writeln!(f, "end of the prefix ({skipped} earlier ops not shown):")?;
        }
        let first = self.prefix.len() - self.prefix_tail.len();
        for (index, line) in self.prefix[first..].iter().zip(&self.prefix_tail) {
            writeln!(f, "  #{index} {line}")?;
        }
        Ok(())
    }
}

/// What was left unchecked when the budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unfinished {
    /// Partitions whose search was cut short (or never started, once time ran out).
    pub partitions_unfinished: usize,
    /// Partitions in the history.
    pub partitions: usize,
}
