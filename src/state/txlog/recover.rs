//! Reading an existing transaction log at open: find the last complete line, cut a torn tail.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::line::parse_index;
use super::TxLogError;
use crate::raft::Index;

/// No line we write comes near this (every free-form field is cut at `MAX_SHOWN_BYTES`), so a
/// longer one is not ours; the limit keeps a damaged file from being read into memory whole.
pub(super) const MAX_LINE_BYTES: usize = 64 * 1024;

/// What the scan found.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Scan {
    /// Index of the last complete line, 0 if there is none.
    pub(super) last_index: Index,
    /// Length of the file up to and including the last complete line's newline.
    pub(super) complete_len: u64,
    /// Bytes after `complete_len`: a line torn by a crash, to be cut away.
    pub(super) torn_len: u64,
}

/// Reads `file` from the start and checks that every complete line is ours and that indexes follow
/// each other by one.
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
    let mut last_index: Index = 0;
    let mut complete_len = 0u64;
    loop {
        line.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(io_err)?;
        if n == 0 {
            return Ok(Scan {
                last_index,
                complete_len,
                torn_len: 0,
            });
        }
        line_number += 1;
        if line.last() != Some(&b'\n') {
            // Either the end of the file (a torn last line) or an overlong line.
            if line.len() > MAX_LINE_BYTES && skip_past_newline(&mut reader).map_err(io_err)? {
                let reason = format!("longer than {MAX_LINE_BYTES} bytes");
                return Err(corrupt(line_number, reason));
            }
            let file_len = file.metadata().map_err(io_err)?.len();
            return Ok(Scan {
                last_index,
                complete_len,
                torn_len: file_len - complete_len,
            });
        }
        let index = parse_index(&line[..line.len() - 1]).map_err(|r| corrupt(line_number, r))?;
        if last_index != 0 && index != last_index + 1 {
            let reason = format!("index {index} does not follow {last_index}");
            return Err(corrupt(line_number, reason));
        }
        last_index = index;
        complete_len += line.len() as u64;
    }
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
