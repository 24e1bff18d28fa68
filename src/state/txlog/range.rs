//! Reading lines back by index, across the rotated files, the active file and the buffer: what a
//! leader ships to a node that missed them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::head::parse_head;
use super::recover::MAX_LINE_BYTES;
use super::{files, TxLog, TxLogError};
use crate::raft::Index;

/// Bisection stops once the line sought is known to start within this many bytes; the rest is
/// read line by line.
const BISECT_STOP_BYTES: u64 = 64 * 1024;

impl<W: std::io::Write> TxLog<W> {
    /// The lines from index `from` on, in order and exactly as written, up to `to` (or the last
    /// line held, if sooner) and short of `max_bytes` — but always the line of `from` itself, so
    /// repeated calls make progress. `None` when no line of `from` is held: it was in a deleted
    /// rotated file, is beyond [`TxLog::last_index`], or falls in the jump of a snapshot marker.
    /// Lines pushed but not yet flushed are included.
    pub fn lines_between(
        &self,
        from: Index,
        to: Index,
        max_bytes: usize,
    ) -> Result<Option<String>, TxLogError> {
        if from == 0 || from > self.last_index || to < from {
            return Ok(None);
        }
        let mut sources = files::rotated_files(&self.path).map_err(TxLogError::io(&self.dir))?;
        if self.active_len > 0 {
            sources.push((self.active_first_index, self.path.clone()));
        }
        let mut collect = Collect {
            from,
            to: to.min(self.last_index),
            max_bytes,
            out: String::new(),
            next: None,
        };
        // The newest file starting at or before `from` holds it; files after it follow on.
        let start = sources.partition_point(|(first, _)| *first <= from);
        for (i, (_, path)) in sources.iter().enumerate().skip(start.saturating_sub(1)) {
            let seek = i + 1 == start;
            if !read_file(path, seek, &mut collect)? {
                return Ok(collect.finish());
            }
        }
        for line in self.buf.split_inclusive('\n') {
            let head = parse_head(line.trim_end_matches('\n').as_bytes())
                .expect("buffered lines are ours");
            if !collect.take(head.index, line) {
                break;
            }
        }
        Ok(collect.finish())
    }
}

/// The lines gathered so far, and where to stop.
struct Collect {
    from: Index,
    to: Index,
    max_bytes: usize,
    out: String,
    /// The index expected next: `None` until the line of `from` has been seen.
    next: Option<Index>,
}

impl Collect {
    /// Considers one line (with its newline); false once nothing more is wanted.
    fn take(&mut self, index: Index, line: &str) -> bool {
        if self.next.is_none() {
            if index < self.from {
                return true;
            }
            if index > self.from {
                // Jumped over `from`: it is not held.
                return false;
            }
        }
        if index > self.to || (!self.out.is_empty() && self.out.len() + line.len() > self.max_bytes)
        {
            return false;
        }
        self.out.push_str(line);
        self.next = Some(index + 1);
        true
    }

    fn finish(self) -> Option<String> {
        self.next.map(|_| self.out)
    }
}

/// Feeds the lines of `path` to `collect`, from near `collect.from` when `seek`; false once
/// `collect` wants no more.
fn read_file(path: &Path, seek: bool, collect: &mut Collect) -> Result<bool, TxLogError> {
    let io_err = TxLogError::io(path);
    let mut file = File::open(path).map_err(&io_err)?;
    let start = if seek {
        offset_near(&mut file, path, collect.from)?
    } else {
        0
    };
    file.seek(SeekFrom::Start(start)).map_err(&io_err)?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(&io_err)?;
        if n == 0 {
            return Ok(true);
        }
        let (index, text) = parsed(path, &line)?;
        if !collect.take(index, text) {
            return Ok(false);
        }
    }
}

/// A line of one of our files, checked: its index and its text with the newline.
fn parsed<'a>(path: &Path, line: &'a [u8]) -> Result<(Index, &'a str), TxLogError> {
    let corrupt = |reason: String| TxLogError::Io {
        path: PathBuf::from(path),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a transaction log line: {reason}"),
        ),
    };
    let Some(body) = line.strip_suffix(b"\n") else {
        return Err(corrupt("a line without its newline".to_string()));
    };
    let head = parse_head(body).map_err(corrupt)?;
    // parse_head checked UTF-8.
    let text = std::str::from_utf8(line).map_err(|_| corrupt("not UTF-8".to_string()))?;
    Ok((head.index, text))
}

/// A line start at or before the line of `index` (or the line after where it would be), found by
/// bisection over byte offsets: lines are in index order, so a file of any size costs a few reads.
fn offset_near(file: &mut File, path: &Path, index: Index) -> Result<u64, TxLogError> {
    let io_err = TxLogError::io(path);
    // Invariants: `low` is 0 or the start of a line before the one sought; the line sought starts
    // no later than the first line start after `high`.
    let mut low = 0u64;
    let mut high = file.metadata().map_err(&io_err)?.len();
    while high - low > BISECT_STOP_BYTES {
        let middle = low + (high - low) / 2;
        file.seek(SeekFrom::Start(middle)).map_err(&io_err)?;
        let mut reader = BufReader::new(&mut *file);
        let mut skipped = Vec::new();
        let partial = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut skipped)
            .map_err(&io_err)?;
        let mut line = Vec::with_capacity(256);
        (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(&io_err)?;
        if line.is_empty() {
            high = middle;
            continue;
        }
        let (found, _) = parsed(path, &line)?;
        if found < index {
            low = middle + partial as u64;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{noop_line, noop_lines, push_noops};
    use super::super::{TxLog, TxLogOptions};

    #[test]
    fn lines_are_read_back_across_rotated_files_the_active_file_and_the_buffer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = TxLogOptions {
            rotate_bytes: Some(200_000),
            keep_files: None,
        };
        let mut log = TxLog::open_with_options(dir.path(), 1, options).expect("open");
        // Files of ~7400 lines: large enough for the bisection to do the finding.
        for batch in 0..20 {
            push_noops(&mut log, batch * 1000 + 1..=batch * 1000 + 1000, 1);
        }
        let applied = crate::state::machine::Applied {
            result: crate::state::result::ApplyResult::Noop,
            replayed: false,
        };
        log.push(20_001, 2, &crate::state::command::Operation::Noop, &applied);
        let read = |from, to| {
            log.lines_between(from, to, usize::MAX)
                .expect("read")
                .expect("held")
        };
        assert_eq!(read(1, 3), noop_lines(1..=3, 1));
        for from in [2, 7_999, 8_000, 8_001, 13_777, 19_998] {
            assert_eq!(
                read(from, from + 2),
                noop_lines(from..=from + 2, 1),
                "{from}"
            );
        }
        assert_eq!(
            read(19_999, 30_000),
            noop_lines(19_999..=20_000, 1) + &noop_line(20_001, 2)
        );
        assert_eq!(read(20_001, 20_001), noop_line(20_001, 2));
        assert_eq!(log.lines_between(20_002, 20_002, 100).expect("read"), None);
        assert_eq!(log.lines_between(0, 20_002, 100).expect("read"), None);
    }

    #[test]
    fn max_bytes_shortens_the_answer_but_never_below_one_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = TxLog::open(dir.path(), 1).expect("open");
        push_noops(&mut log, 1..=10, 1);
        let read = |from, max| log.lines_between(from, 10, max).expect("read");
        assert_eq!(read(2, 27 * 3 + 26), Some(noop_lines(2..=4, 1)));
        assert_eq!(read(2, 1), Some(noop_line(2, 1)));
    }

    #[test]
    fn lines_deleted_by_retention_or_skipped_by_a_marker_are_not_held() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = TxLogOptions {
            rotate_bytes: Some(4096),
            keep_files: Some(1),
        };
        let mut log = TxLog::open_with_options(dir.path(), 1, options).expect("open");
        for index in 1..=400 {
            push_noops(&mut log, index..=index, 1);
        }
        assert!(log.mark_snapshot(500, 2));
        log.flush().expect("flush");
        // Files: 1..=152 deleted, 153..=304 kept, 305..=400 and the marker active.
        assert_eq!(log.lines_between(152, 160, usize::MAX).expect("read"), None);
        assert!(log
            .lines_between(153, 153, usize::MAX)
            .expect("read")
            .is_some());
        assert_eq!(log.lines_between(450, 500, usize::MAX).expect("read"), None);
        let tail = log
            .lines_between(400, 600, usize::MAX)
            .expect("read")
            .expect("held");
        assert!(tail.starts_with(&noop_line(400, 1)) && tail.contains(" snapshot -- "));
    }
}
