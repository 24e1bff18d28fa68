//! One client operation as the recorder saw it, and the checks a history must pass before a search.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One operation of a history: who issued it, when, what it asked and what it was told.
///
/// Times are nanoseconds on one clock shared by every client of the history (the recorder's).
/// An operation whose `output` is `None` has an **unknown outcome** (timeout, lost connection): it
/// may have taken effect at any time after `call`, or never, so the checker treats its return time
/// as +∞ and its output as unconstrained, whatever `ret` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation<I, O> {
    /// The client that issued the operation (only used in messages: the check does not need
    /// per-client order, real-time order already implies it for sequential clients).
    pub client: u64,
    /// When the request was sent, in ns.
    pub call: u64,
    /// When the answer arrived, in ns; `None` when no answer came.
    pub ret: Option<u64>,
    /// What was asked.
    pub input: I,
    /// What was answered; `None` when the outcome is unknown.
    pub output: Option<O>,
}

impl<I, O> Operation<I, O> {
    /// An operation that was answered with `output` at `ret`.
    pub fn completed(client: u64, call: u64, ret: u64, input: I, output: O) -> Self {
        Operation {
            client,
            call,
            ret: Some(ret),
            input,
            output: Some(output),
        }
    }

    /// An operation sent at `call` whose outcome the client never learnt.
    pub fn unknown(client: u64, call: u64, input: I) -> Self {
        Operation {
            client,
            call,
            ret: None,
            input,
            output: None,
        }
    }

    /// True when the operation may or may not have taken effect (no output was observed).
    pub fn is_unknown(&self) -> bool {
        self.output.is_none()
    }

    /// The return time the checker uses: `None` stands for +∞ (unknown outcome).
    pub(crate) fn effective_ret(&self) -> Option<u64> {
        match self.output {
            Some(_) => self.ret,
            None => None,
        }
    }
}

/// Why a history cannot be checked at all (a recorder bug or a corrupt history file).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HistoryError {
    /// An answer cannot arrive before its request was sent.
    #[error("operation #{index} returns at {ret} ns, before its call at {call} ns")]
    ReturnBeforeCall { index: usize, call: u64, ret: u64 },
    /// An output was recorded but no return time: the recorder lost track of when it arrived.
    #[error("operation #{index} has an output but no return time")]
    OutputWithoutReturn { index: usize },
}

/// Checks every operation's own consistency; the search relies on `call <= ret`.
pub(crate) fn validate<I, O>(history: &[Operation<I, O>]) -> Result<(), HistoryError> {
    for (index, op) in history.iter().enumerate() {
        match (op.ret, &op.output) {
            (None, Some(_)) => return Err(HistoryError::OutputWithoutReturn { index }),
            (Some(ret), _) if ret < op.call => {
                return Err(HistoryError::ReturnBeforeCall {
                    index,
                    call: op.call,
                    ret,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_before_its_call_is_refused() {
        let history = vec![Operation::completed(1, 10, 5, (), ())];
        assert_eq!(
            validate(&history),
            Err(HistoryError::ReturnBeforeCall {
                index: 0,
                call: 10,
                ret: 5
            })
        );
    }

    #[test]
    fn an_output_without_a_return_time_is_refused() {
        let op: Operation<(), ()> = Operation {
            client: 1,
            call: 1,
            ret: None,
            input: (),
            output: Some(()),
        };
        assert_eq!(
            validate(&[op]),
            Err(HistoryError::OutputWithoutReturn { index: 0 })
        );
    }

    #[test]
    fn a_return_time_without_output_counts_as_unknown() {
        let op: Operation<(), ()> = Operation {
            client: 1,
            call: 1,
            ret: Some(2),
            input: (),
            output: None,
        };
        assert!(validate(std::slice::from_ref(&op)).is_ok());
        assert!(op.is_unknown());
        assert_eq!(op.effective_ret(), None);
    }
}
