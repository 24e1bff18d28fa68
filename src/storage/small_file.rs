//! The log's one-record files (`truncate.intent`, `log.prefix`): a header, then one record
//! checksummed with the header's salt.

use super::header::{FileHeader, HeaderCheck, FILE_HEADER_BYTES};
use super::record::{self, Record, FIXED_BODY_BYTES_MAX};

/// Why a one-record file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Cut short or not fully written: what a crash during its one write leaves.
    Torn(String),
    /// Another format: an older raftkv's, or not a log file.
    Unsupported(String),
    /// Valid in parts, wrong in others: damage to a file that was durable.
    Damaged(String),
}

/// The bytes of a file holding the record `write_record` appends (it gets the salt to use).
pub(crate) fn encode(write_record: impl FnOnce(&mut Vec<u8>, u64)) -> Vec<u8> {
    let header = FileHeader::new(0);
    let mut bytes = header.encode().to_vec();
    write_record(&mut bytes, header.salt);
    bytes
}

/// The record a whole file's `bytes` hold.
pub(crate) fn decode(bytes: &[u8]) -> Result<Record, Unreadable> {
    let header = match FileHeader::check(bytes) {
        HeaderCheck::Valid(header) => header,
        HeaderCheck::Torn => return Err(Unreadable::Torn("incomplete header".into())),
        HeaderCheck::Unsupported(reason) => return Err(Unreadable::Unsupported(reason)),
        HeaderCheck::Damaged(reason) => return Err(Unreadable::Damaged(reason)),
    };
    let body = &bytes[FILE_HEADER_BYTES..];
    match record::decode(body, header.salt, FIXED_BODY_BYTES_MAX) {
        Ok((record, size)) if size == body.len() => Ok(record),
        Ok(_) => Err(Unreadable::Damaged("bytes after its record".into())),
        Err(bad) => Err(Unreadable::Torn(bad.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_cut_file_is_torn() {
        let hard_state = crate::raft::HardState::default();
        let bytes = encode(|buf, salt| record::encode_truncate_intent(buf, 9, &hard_state, salt));
        assert_eq!(
            decode(&bytes),
            Ok(Record::TruncateIntent {
                cut_index: 9,
                hard_state
            })
        );
        for len in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..len]), Err(Unreadable::Torn(_))),
                "{len} bytes"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(decode(&longer), Err(Unreadable::Damaged(_))));
    }
}
