//! Detecting a file left from another history, and moving it aside.
//!
//! On restart the file is matched to the Raft log by index: [`TxLog::push`] skips what the file
//! has. If the node's data directory was emptied while `logs/` kept the old file, the new history
//! would be appended after the old one. Lines carry their term, so the node can tell.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{files, TxLog, TxLogError};
use crate::raft::{Index, Term};

/// How many later seconds are tried when a stale name is taken (two moves within a second).
const MAX_STALE_NAME_TRIES: u64 = 1000;

/// A transaction log that [`TxLog::check_consistent`] found not to match the node's Raft log,
/// and where its files went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleTxLog {
    /// Why the file is stale, naming the index and terms.
    pub reason: String,
    /// Every file of the old history, from its old path to its new one, oldest first.
    pub moved: Vec<(PathBuf, PathBuf)>,
}

impl<W: Write> TxLog<W> {
    /// Checks the file's last line against what the node knows after recovery: indexes from
    /// `first_known_index` on have a term, `term_at(index)` — its log's entries, and the index of
    /// the snapshot it starts from, if any (`first_known_index` is then the snapshot's index; 1
    /// for a log never compacted). The file is stale when its last line claims an index at or past
    /// `first_known_index` that the node does not have, or has with another term. A last line
    /// before `first_known_index` cannot be checked and is trusted. Call it once, right after
    /// open, before anything is pushed.
    ///
    /// A stale file and its rotated files are moved aside — renamed to
    /// `node-<id>.log.stale-<unix seconds>` (rotated ones with their `.<first index>` after it),
    /// with a warning naming old and new name — and an empty file starts; the return value says
    /// what moved. Moving aside rather than refusing to start: the file is derived and carries no
    /// authority, and the usual cause is an operator who emptied the data directory on purpose;
    /// refusing would make that person delete a file by hand to get the node back, while moving
    /// it keeps the old history for inspection and still gives the promised file, a prefix of the
    /// longest one.
    pub fn check_consistent(
        &mut self,
        first_known_index: Index,
        term_at: impl Fn(Index) -> Option<Term>,
    ) -> Result<Option<StaleTxLog>, TxLogError> {
        assert!(
            self.buf.is_empty(),
            "transaction log {}: checked with lines pending; check right after open",
            self.path.display()
        );
        let (index, term) = (self.last_index, self.last_term);
        if index == 0 || index < first_known_index.max(1) {
            return Ok(None);
        }
        let reason = match term_at(index) {
            Some(known) if known == term => return Ok(None),
            Some(known) => format!(
                "its last line, index {index}, has term {term} where the node's log has term {known}"
            ),
            None => format!("its last line claims index {index}, which the node's log does not have"),
        };
        let moved = self.move_aside(&reason)?;
        Ok(Some(StaleTxLog { reason, moved }))
    }

    /// Renames every file of this log to a stale name and starts an empty active file.
    fn move_aside(&mut self, reason: &str) -> Result<Vec<(PathBuf, PathBuf)>, TxLogError> {
        let moved = self.stale_names()?;
        for (old, new) in &moved {
            files::rename_new(old, new)?;
            log::warn!(
                "transaction log {} is stale ({reason}): moved to {}",
                old.display(),
                new.display()
            );
        }
        let file = files::open_locked(&self.path)?;
        files::sync_dir(&self.dir)?;
        self.out = (self.wrap)(file.try_clone().map_err(TxLogError::io(&self.path))?);
        self.file = file;
        log::warn!(
            "transaction log {}: started anew after moving a stale history aside",
            self.path.display()
        );
        self.last_index = 0;
        self.last_term = 0;
        self.active_first_index = 0;
        self.active_len = 0;
        Ok(moved)
    }

    /// Old and new names of every file of this log (the active file last, so that its lock is
    /// held until the whole history has moved), at the first second from now whose names are all
    /// free.
    fn stale_names(&self) -> Result<Vec<(PathBuf, PathBuf)>, TxLogError> {
        let rotated = files::rotated_files(&self.path).map_err(TxLogError::io(&self.dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for seconds in now..now + MAX_STALE_NAME_TRIES {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".stale-{seconds}"));
            let stale = PathBuf::from(name);
            let mut moved: Vec<(PathBuf, PathBuf)> = rotated
                .iter()
                .map(|(first, old)| (old.clone(), files::rotated_path(&stale, *first)))
                .collect();
            moved.push((self.path.clone(), stale));
            if moved.iter().all(|(_, new)| !new.exists()) {
                return Ok(moved);
            }
        }
        Err(TxLogError::io(&self.path)(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "no free name to move this stale file to",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{names, noop_lines, push_noops, read};
    use super::super::{TxLog, TxLogOptions};
    use crate::raft::{Index, Term};

    /// A node's log of `len` entries, all of term `term`.
    fn log_of(len: Index, term: Term) -> impl Fn(Index) -> Option<Term> {
        move |index| (1..=len).contains(&index).then_some(term)
    }

    #[test]
    fn a_file_whose_last_line_matches_the_log_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open(dir.path(), 1).expect("open");
        assert_eq!(log.check_consistent(1, log_of(0, 1)).expect("check"), None);
        push_noops(&mut log, 1..=5, 2);
        drop(log);
        let mut log = TxLog::open(dir.path(), 1).expect("reopen");
        assert_eq!(log.check_consistent(1, log_of(9, 2)).expect("check"), None);
        assert_eq!(log.last_index(), 5);
        // Compacted through 7: line 5 cannot be checked, and is trusted.
        assert_eq!(log.check_consistent(7, log_of(0, 2)).expect("check"), None);
        assert_eq!(names(dir.path()), vec!["node-1.log"]);
    }

    #[test]
    fn a_file_ahead_of_an_emptied_data_dir_is_moved_aside_with_its_rotated_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = TxLogOptions {
            rotate_bytes: Some(4096),
            keep_files: None,
        };
        let mut log = TxLog::open_with_options(dir.path(), 4, options).expect("open");
        push_noops(&mut log, 1..=160, 3);
        push_noops(&mut log, 161..=200, 3);
        drop(log);
        let mut log = TxLog::open_with_options(dir.path(), 4, options).expect("reopen");
        // The data dir was emptied: the log knows nothing.
        let stale = log.check_consistent(1, log_of(0, 0)).expect("check");
        let stale = stale.expect("stale");
        assert!(stale.reason.contains("index 200"), "{}", stale.reason);
        assert_eq!(log.last_index(), 0);
        let files = names(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        assert_eq!(files[0], "node-4.log");
        let stamp = files[1]
            .strip_prefix("node-4.log.stale-")
            .expect("stale name");
        assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{stamp}");
        assert_eq!(files[2], format!("{}.000000000001", files[1]));
        assert_eq!(stale.moved.len(), 2);
        assert_eq!(stale.moved[1].0, dir.path().join("node-4.log"));
        assert_eq!(stale.moved[1].1, dir.path().join(&files[1]));
        // The new history starts in a new file.
        push_noops(&mut log, 1..=2, 1);
        assert_eq!(read(log.path()), noop_lines(1..=2, 1));
        assert_eq!(read(&dir.path().join(&files[1])), noop_lines(161..=200, 3));
    }

    #[test]
    fn a_file_whose_last_term_differs_from_the_log_is_stale() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open(dir.path(), 2).expect("open");
        push_noops(&mut log, 1..=5, 2);
        drop(log);
        let mut log = TxLog::open(dir.path(), 2).expect("reopen");
        let stale = log.check_consistent(1, log_of(9, 3)).expect("check");
        let reason = stale.expect("stale").reason;
        assert!(
            reason.contains("has term 2 where the node's log has term 3"),
            "{reason}"
        );
        // Twice in one second: the second move takes the next free name.
        push_noops(&mut log, 1..=1, 1);
        drop(log);
        let mut log = TxLog::open(dir.path(), 2).expect("reopen");
        assert!(log
            .check_consistent(1, log_of(0, 0))
            .expect("check")
            .is_some());
        assert_eq!(names(dir.path()).len(), 3);
    }
}
