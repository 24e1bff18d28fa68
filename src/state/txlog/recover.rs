//! Reading an existing transaction log at open: find the last complete line, cut a torn tail.
//!
//! A torn tail is whatever a crash left after the last line that reached the disk whole: part of a
//! line without its newline, or — after a power cut — a run of NUL bytes where the file's size was
//! extended but its data pages never written, possibly followed by later lines whose pages did
//! land. We never write a NUL (`escape.rs` escapes it), so the first line holding one starts the
//! tail, and everything from there to the end is cut: a line after a hole cannot be trusted to
//! follow the lines before it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::head::parse_head;
use super::TxLogError;
use crate::raft::{Index, Term};

/// No line we write comes near this (every free-form field is cut at `MAX_SHOWN_BYTES`), so a
/// longer one is not ours; the limit keeps a damaged file from being read into memory whole.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// What the scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Scan {
    /// Index of the first complete line, 0 if there is none.
    pub(super) first_index: Index,
    /// Index of the last complete line, 0 if there is none.
    pub(super) last_index: Index,
    /// Term of the last complete line, 0 if there is none.
    pub(super) last_term: Term,
    /// Length of the file up to and including the last complete line's newline.
    pub(super) complete_len: u64,
    /// Bytes after `complete_len`: a torn tail, to be cut away.
    pub(super) torn_len: u64,
}

/// Reads `file` from the start and checks that every complete line is ours and that indexes follow
/// each other by one, except that a snapshot marker may jump forward.
pub(super) fn scan(path: &Path, file: &File) -> Result<Scan, TxLogError> {
    let io_err = |source| TxLogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |line_number: u64, reason: String| TxLogError::Corrupt {
        path: path.to_path_buf(),
        line_number,
        reason,
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::with_capacity(256);
    let mut line_number = 0u64;
    let mut found = Scan::default();
    loop {
        line.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(io_err)?;
        if n == 0 {
            return Ok(found);
        }
        line_number += 1;
        let complete = line.last() == Some(&b'\n');
        if !complete || line.contains(&0) {
            // Part of a line, or an unwritten page: the tail starts here, unless this is an
            // overlong line of text that a newline ends (not ours, and not a crash's doing).
            let overlong = !complete && line.len() > MAX_LINE_BYTES && !line.contains(&0);
            if overlong && skip_past_newline(&mut reader).map_err(io_err)? {
                let reason = format!("longer than {MAX_LINE_BYTES} bytes");
                return Err(corrupt(line_number, reason));
            }
            let file_len = file.metadata().map_err(io_err)?.len();
            found.torn_len = file_len - found.complete_len;
            return Ok(found);
        }
        let head = parse_head(&line[..line.len() - 1]).map_err(|r| corrupt(line_number, r))?;
        if found.last_index != 0 {
            if let Err(why) = follows(found.last_index, head.index, head.marker) {
                return Err(corrupt(line_number, format!("index {} {why}", head.index)));
            }
        } else {
            found.first_index = head.index;
        }
        found.last_index = head.index;
        found.last_term = head.term;
        found.complete_len += line.len() as u64;
    }
}

/// Whether a line at `index` may come right after one at `previous`: the next index, or any later
/// one for a snapshot marker. The reason reads after the index: "index 7 does not follow 5: …".
pub(crate) fn follows(previous: Index, index: Index, marker: bool) -> Result<(), String> {
    if index == previous + 1 || (marker && index > previous) {
        return Ok(());
    }
    if marker {
        return Err(format!(
            "is a snapshot marker that does not move past {previous}"
        ));
    }
    if index > previous {
        return Err(format!(
            "does not follow {previous}: a gap, and only a snapshot marker may jump"
        ));
    }
    Err(format!(
        "does not follow {previous}: repeated or out of order"
    ))
}

/// Reads on to the next newline; true if there is one, false at the end of the file.
fn skip_past_newline(reader: &mut impl BufRead) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(pos + 1);
            return Ok(true);
        }
        let len = buf.len();
        reader.consume(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_bytes(content: &[u8]) -> Result<Scan, TxLogError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("node-1.log");
        std::fs::write(&path, content).expect("write");
        scan(&path, &File::open(&path).expect("open"))
    }

    const TWO: &[u8] = b"000000000001 t1 noop -> ok\n000000000002 t1 noop -> ok\n";

    #[test]
    fn a_run_of_nuls_after_the_last_line_is_a_torn_tail() {
        let mut content = TWO.to_vec();
        content.extend([0u8; 4096]);
        let found = scan_bytes(&content).expect("scan");
        assert_eq!(
            (found.last_index, found.complete_len),
            (2, TWO.len() as u64)
        );
        assert_eq!(found.torn_len, 4096);
    }

    #[test]
    fn lines_after_a_hole_of_nuls_are_part_of_the_torn_tail() {
        // A power cut persisted a later page of the unsynced writes but not an earlier one.
        let mut content = TWO.to_vec();
        content.extend(b"000000000003 t1 no");
        content.extend([0u8; 100]);
        content.extend(b"op -> ok\n000000000005 t1 noop -> ok\n");
        let found = scan_bytes(&content).expect("scan");
        assert_eq!(found.last_index, 2);
        assert_eq!(found.complete_len + found.torn_len, content.len() as u64);
    }

    #[test]
    fn a_hole_of_nuls_at_a_line_start_cuts_the_rest_too() {
        let mut content = TWO.to_vec();
        content.extend([0u8; 70_000]);
        content.extend(b"\n000000000003 t1 noop -> ok\n");
        let found = scan_bytes(&content).expect("scan");
        assert_eq!(found.last_index, 2);
        assert_eq!(found.torn_len, content.len() as u64 - TWO.len() as u64);
    }

    #[test]
    fn a_marker_may_jump_forward_and_gives_its_term() {
        let mut content = TWO.to_vec();
        let mut marker = String::new();
        super::super::head::render_marker(&mut marker, 40, 5);
        content.extend(marker.as_bytes());
        content.extend(b"000000000041 t6 noop -> ok\n");
        let found = scan_bytes(&content).expect("scan");
        assert_eq!(
            (found.first_index, found.last_index, found.last_term),
            (1, 41, 6)
        );
        assert_eq!(found.torn_len, 0);
    }

    #[test]
    fn only_a_marker_may_jump() {
        let message = scan_bytes(b"000000000001 t1 noop -> ok\n000000000004 t1 noop -> ok\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(":2: index 4 does not follow 1: a gap"),
            "{message}"
        );
        let mut backwards = TWO.to_vec();
        let mut marker = String::new();
        super::super::head::render_marker(&mut marker, 2, 1);
        backwards.extend(marker.as_bytes());
        let message = scan_bytes(&backwards).unwrap_err().to_string();
        assert!(
            message.contains("index 2 is a snapshot marker that does not move past 2"),
            "{message}"
        );
    }
}
