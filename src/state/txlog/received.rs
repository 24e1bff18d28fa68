//! Appending lines received verbatim from another node: the lines a node missed while it
//! installed a snapshot, shipped by one that has them (lines are the same on every node).

use std::io::Write;

use super::head::parse_head;
use super::recover::{follows, MAX_LINE_BYTES};
use super::{TxLog, TxLogError, TxLogOptions};
use crate::raft::Index;

impl<W: Write> TxLog<W> {
    /// Adds `lines` (complete lines, each ending in a newline, the first at `first_index`) to the
    /// buffer, as [`TxLog::push`] does for one applied entry, and returns the new last index.
    ///
    /// All or nothing: [`TxLogError::Refused`] (nothing added) unless every line is a
    /// transaction log line (an applied entry or a snapshot marker) without a NUL byte, the first
    /// is `first_index`, and each continues the one before — the file's last line, for the first
    /// (any first line, when the file is empty): the next index, or a later one for a marker.
    /// At most [`TxLogOptions::MAX_RECEIVED_BYTES`] per call.
    pub fn push_lines(&mut self, first_index: Index, lines: &str) -> Result<Index, TxLogError> {
        if self.failed {
            return Err(TxLogError::Failed {
                path: self.path.clone(),
            });
        }
        let (last_index, last_term) =
            self.check_received(first_index, lines)
                .map_err(|reason| TxLogError::Refused {
                    path: self.path.clone(),
                    reason,
                })?;
        if last_index == 0 {
            return Ok(self.last_index);
        }
        if self.active_first_index == 0 {
            self.active_first_index = first_index;
        }
        self.buf.push_str(lines);
        self.last_index = last_index;
        self.last_term = last_term;
        Ok(last_index)
    }

    /// The index and term of the last of `lines`, (0, 0) for none, or why they do not continue
    /// the file.
    fn check_received(&self, first_index: Index, lines: &str) -> Result<(Index, u64), String> {
        let limit = TxLogOptions::MAX_RECEIVED_BYTES;
        if lines.len() > limit {
            return Err(format!(
                "{} bytes, more than the {limit} taken at once",
                lines.len()
            ));
        }
        if !lines.is_empty() && !lines.ends_with('\n') {
            return Err("the last line has no newline".to_string());
        }
        let mut previous = self.last_index;
        let mut last = (0, 0);
        for (number, line) in lines.split_terminator('\n').enumerate() {
            let at = |why: String| format!("line {}: {why}", number + 1);
            if line.len() > MAX_LINE_BYTES {
                return Err(at(format!("longer than {MAX_LINE_BYTES} bytes")));
            }
            // A NUL would read as a torn tail at the next open, and cut every line after it.
            if line.as_bytes().contains(&0) {
                return Err(at("holds a NUL byte".to_string()));
            }
            let head = parse_head(line.as_bytes()).map_err(at)?;
            if number == 0 && head.index != first_index {
                return Err(at(format!(
                    "index {} where {first_index} was said",
                    head.index
                )));
            }
            if previous != 0 {
                follows(previous, head.index, head.marker)
                    .map_err(|why| at(format!("index {} {why}", head.index)))?;
            }
            previous = head.index;
            last = (head.index, head.term);
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{noop_line, noop_lines, push_noops, read};
    use super::super::{TxLog, TxLogError, TxLogOptions};

    fn marker(index: u64, term: u64) -> String {
        let mut out = String::new();
        super::super::head::render_marker(&mut out, index, term);
        out
    }

    #[test]
    fn a_snapshot_marker_is_written_once_and_the_file_continues_after_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open(dir.path(), 1).expect("open");
        push_noops(&mut log, 1..=3, 1);
        assert!(log.mark_snapshot(40, 5));
        assert!(!log.mark_snapshot(40, 5), "the file already reaches 40");
        assert!(
            !log.mark_snapshot(12, 2),
            "a snapshot behind the file changes nothing"
        );
        push_noops(&mut log, 38..=41, 6);
        assert_eq!(
            read(log.path()),
            format!(
                "{}{}{}",
                noop_lines(1..=3, 1),
                marker(40, 5),
                noop_line(41, 6)
            )
        );
        drop(log);
        let log = TxLog::open(dir.path(), 1).expect("reopen");
        assert_eq!(log.last_index(), 41);
    }

    #[test]
    fn lines_from_another_node_continue_the_file_verbatim() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut leader = TxLog::open(dir.path(), 1).expect("open");
        push_noops(&mut leader, 1..=3, 1);
        leader.mark_snapshot(10, 2);
        push_noops(&mut leader, 11..=20, 3);
        let mut follower = TxLog::open(dir.path(), 2).expect("open");
        push_noops(&mut follower, 1..=2, 1);
        let missed = leader.lines_between(3, 15, usize::MAX).expect("read");
        let missed = missed.expect("held");
        assert_eq!(follower.push_lines(3, &missed).expect("pushed"), 15);
        push_noops(&mut follower, 16..=20, 3);
        assert_eq!(read(follower.path()), read(leader.path()));
        assert_eq!(follower.push_lines(21, "").expect("nothing"), 20);
    }

    #[test]
    fn lines_that_do_not_continue_the_file_are_refused_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open(dir.path(), 1).expect("open");
        push_noops(&mut log, 1..=5, 1);
        let too_big = "x".repeat(TxLogOptions::MAX_RECEIVED_BYTES + 1);
        let cases = [
            (7, noop_lines(7..=8, 1), "index 7 does not follow 5: a gap"),
            (
                5,
                noop_lines(5..=6, 1),
                "index 5 does not follow 5: repeated",
            ),
            (6, noop_lines(7..=7, 1), "index 7 where 6 was said"),
            (
                6,
                noop_lines(6..=7, 1).replace("000000000007", "000000000009"),
                "line 2:",
            ),
            (6, noop_line(6, 1).trim_end().to_string(), "no newline"),
            (6, "000000000006 t1 noop -> \0\n".to_string(), "NUL"),
            (6, "hello\n".to_string(), "line 1: expected an index"),
            (
                5,
                marker(5, 1),
                "index 5 is a snapshot marker that does not",
            ),
            (6, too_big, "taken at once"),
        ];
        for (first, lines, expected) in cases {
            match log.push_lines(first, &lines) {
                Err(TxLogError::Refused { reason, .. }) => {
                    assert!(reason.contains(expected), "{reason} lacks {expected}");
                }
                other => panic!("{lines:?} was not refused: {other:?}"),
            }
            assert_eq!((log.last_index(), log.pending_bytes()), (5, 0));
        }
        // A marker may jump; lines after it follow it.
        let jump = format!("{}{}", marker(9, 2), noop_line(10, 2));
        assert_eq!(log.push_lines(9, &jump).expect("pushed"), 10);
    }
}
