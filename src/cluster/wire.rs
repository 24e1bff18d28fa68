//! The wire format: one ZeroMQ frame per envelope, holding the MessagePack array
//! `[from, msg_id, msg]`. The sender's id travels inside the frame because a ROUTER only knows a
//! connection's random identity, which says nothing about which node is on the other end.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

use crate::raft::NodeId;

/// A frame that is not a well-formed envelope.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// Not MessagePack, truncated, or not `[u64, u64, M]`.
    #[error("not an envelope: {0}")]
    Malformed(#[from] rmp_serde::decode::Error),
    /// A valid envelope followed by extra bytes: a framing bug or a forged frame.
    #[error("{0} trailing bytes after the envelope")]
    Trailing(usize),
}

/// Encodes `msg` as sent by `from`; the result is shared by every destination of a broadcast.
pub fn encode<M: Serialize>(
    from: NodeId,
    msg_id: u64,
    msg: &M,
) -> Result<Bytes, rmp_serde::encode::Error> {
    rmp_serde::to_vec(&(from, msg_id, msg)).map(Bytes::from)
}

/// Decodes a frame into `(from, msg_id, msg)`, refusing anything but exactly one envelope.
pub fn decode<M: DeserializeOwned>(frame: &[u8]) -> Result<(NodeId, u64, M), DecodeError> {
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(frame));
    let decoded = serde::Deserialize::deserialize(&mut de)?;
    let used = usize::try_from(de.position()).unwrap_or(usize::MAX);
    if used < frame.len() {
        return Err(DecodeError::Trailing(frame.len() - used));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, DecodeError};

    #[test]
    fn round_trips_sender_id_and_message() {
        let frame = encode(3, 42, &("vote", 7u64)).unwrap();
        let (from, id, msg): (u64, u64, (String, u64)) = decode(&frame).unwrap();
        assert_eq!((from, id, msg), (3, 42, ("vote".to_string(), 7)));
    }

    #[test]
    fn refuses_truncated_and_padded_frames() {
        let frame = encode(3, 42, &"hello".to_string()).unwrap();
        let truncated = decode::<String>(&frame[..frame.len() - 1]);
        assert!(matches!(truncated, Err(DecodeError::Malformed(_))));
        let mut padded = frame.to_vec();
        padded.push(0);
        assert!(matches!(
            decode::<String>(&padded),
            Err(DecodeError::Trailing(1))
        ));
        assert!(decode::<String>(b"\xff\x00garbage").is_err());
    }
}
