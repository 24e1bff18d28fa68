//! Rotation of the active file by size, and retention of the rotated ones.

use std::io::Write;

use super::{files, TxLog, TxLogError};

impl<W: Write> TxLog<W> {
    /// Whether the active file has reached `rotate_bytes`.
    pub(super) fn rotation_due(&self) -> bool {
        self.options
            .rotate_bytes
            .is_some_and(|limit| self.active_len >= limit)
    }

    /// Renames the full active file after its first index, starts an empty one and deletes the
    /// oldest rotated files beyond `keep_files`. Called between batches, with the buffer empty.
    pub(super) fn rotate(&mut self) -> Result<(), TxLogError> {
        debug_assert!(self.buf.is_empty() && self.active_first_index != 0);
        let rotated = files::rotated_path(&self.path, self.active_first_index);
        // Crucial order: the data is durable before the name says the file is complete, and a
        // crash at any step leaves files that open() reads correctly — the full file under either
        // name, and an active file that is missing or empty (the last index then comes from the
        // rotated file).
        self.out.flush().map_err(TxLogError::io(&self.path))?;
        self.file.sync_data().map_err(TxLogError::io(&self.path))?;
        files::rename_new(&self.path, &rotated)?;
        let file = files::open_locked(&self.path)?;
        files::sync_dir(&self.dir)?;
        self.out = (self.wrap)(file.try_clone().map_err(TxLogError::io(&self.path))?);
        // Dropping the old handle releases the lock on the rotated file, never on the new one.
        self.file = file;
        log::info!(
            "transaction log {}: rotated to {} at {} bytes (lines {}..={})",
            self.path.display(),
            rotated.display(),
            self.active_len,
            self.active_first_index,
            self.last_index
        );
        self.active_first_index = 0;
        self.active_len = 0;
        self.prune()
    }

    /// Deletes the oldest rotated files while more than `keep_files` remain.
    fn prune(&mut self) -> Result<(), TxLogError> {
        let Some(keep) = self.options.keep_files else {
            return Ok(());
        };
        let rotated = files::rotated_files(&self.path).map_err(TxLogError::io(&self.dir))?;
        let excess = rotated.len().saturating_sub(keep);
        for (_, old) in &rotated[..excess] {
            std::fs::remove_file(old).map_err(TxLogError::io(old))?;
            log::info!(
                "transaction log {}: deleted {} (keeping {keep} rotated files)",
                self.path.display(),
                old.display()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{names, noop_lines, push_noops, read};
    use super::super::{TxLog, TxLogError, TxLogOptions};

    /// 27 bytes a line: the active file reaches 4096 bytes at its 152nd line.
    const LINES_PER_FILE: u64 = 152;

    fn options(keep_files: Option<usize>) -> TxLogOptions {
        TxLogOptions {
            rotate_bytes: Some(4096),
            keep_files,
        }
    }

    #[test]
    fn the_active_file_is_renamed_after_its_first_index_once_it_is_full() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open_with_options(dir.path(), 1, options(None)).expect("open");
        for batch in 0..40 {
            push_noops(&mut log, batch * 10 + 1..=batch * 10 + 10, 1);
        }
        // Batches of 10: the first file ends with the batch that reaches 4096 bytes, line 160.
        assert_eq!(
            names(dir.path()),
            vec![
                "node-1.log",
                "node-1.log.000000000001",
                "node-1.log.000000000161"
            ]
        );
        let all: String = [
            "node-1.log.000000000001",
            "node-1.log.000000000161",
            "node-1.log",
        ]
        .iter()
        .map(|name| read(&dir.path().join(name)))
        .collect();
        assert_eq!(all, noop_lines(1..=400, 1));
        assert_eq!(
            read(&dir.path().join("node-1.log")),
            noop_lines(321..=400, 1)
        );
    }

    #[test]
    fn only_the_newest_keep_files_rotated_files_are_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open_with_options(dir.path(), 2, options(Some(2))).expect("open");
        for index in 1..=1000 {
            push_noops(&mut log, index..=index, 1);
        }
        let files = names(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        assert_eq!(files[0], "node-2.log");
        assert!(files[1] < files[2] && files[1].starts_with("node-2.log.000000000"));
        // Every rotated file holds exactly LINES_PER_FILE lines when pushed one at a time.
        assert_eq!(
            files[2],
            format!("node-2.log.{:012}", 5 * LINES_PER_FILE + 1)
        );
        let kept = TxLogOptions {
            keep_files: Some(0),
            ..options(None)
        };
        drop(log);
        let mut log = TxLog::open_with_options(dir.path(), 2, kept).expect("reopen");
        push_noops(&mut log, 1001..=1200, 1);
        assert_eq!(names(dir.path()), vec!["node-2.log"]);
    }

    #[test]
    fn a_restart_after_a_rotation_continues_from_the_newest_rotated_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open_with_options(dir.path(), 3, options(None)).expect("open");
        push_noops(&mut log, 1..=LINES_PER_FILE, 4);
        assert_eq!(read(log.path()), "", "the full file was rotated away");
        drop(log);
        let mut log = TxLog::open_with_options(dir.path(), 3, options(None)).expect("reopen");
        assert_eq!(log.last_index(), LINES_PER_FILE);
        push_noops(&mut log, 1..=LINES_PER_FILE + 1, 4);
        assert_eq!(read(log.path()), noop_lines(153..=153, 4));
        drop(log);
        // A crash between the rename and the creation of the new active file.
        std::fs::remove_file(dir.path().join("node-3.log")).expect("remove");
        let log = TxLog::open_with_options(dir.path(), 3, options(None)).expect("reopen");
        assert_eq!(log.last_index(), LINES_PER_FILE);
    }

    #[test]
    fn a_tiny_rotate_bytes_is_refused_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tiny = TxLogOptions {
            rotate_bytes: Some(100),
            keep_files: None,
        };
        match TxLog::open_with_options(dir.path(), 1, tiny) {
            Err(TxLogError::Options { reason }) => assert!(reason.contains("4096"), "{reason}"),
            other => panic!("expected an options error, got {other:?}"),
        }
    }
}
