//! Writing the framing: the preamble, one checksummed record at a time, and the trailer.

use std::io::{self, Write};

use serde::Serialize;

use super::format::{
    Kind, FRAME_HEAD_BYTES, MAX_RECORD_BYTES, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, TRAILER_KIND,
};

/// Frames records onto `out`, keeping the CRC-32 and length of everything written so far for the
/// trailer. Holds one record's bytes at a time, never more.
pub(super) struct FrameWriter<W: Write> {
    out: W,
    /// CRC-32 of the bytes written so far. Invariant: covers exactly `written` bytes.
    file_crc: crc32fast::Hasher,
    written: u64,
    /// The frame being built; reused so that a snapshot costs one allocation, not one per record.
    frame: Vec<u8>,
}

impl<W: Write> FrameWriter<W> {
    /// Writes the magic and the version.
    pub(super) fn start(out: W) -> io::Result<Self> {
        let mut writer = FrameWriter {
            out,
            file_crc: crc32fast::Hasher::new(),
            written: 0,
            frame: Vec::new(),
        };
        writer.emit(&SNAPSHOT_MAGIC)?;
        writer.emit(&SNAPSHOT_FORMAT_VERSION.to_le_bytes())?;
        Ok(writer)
    }

    /// Writes one record: kind, payload length, the payload as MessagePack, CRC-32 of the three.
    pub(super) fn record<T: Serialize + ?Sized>(
        &mut self,
        kind: Kind,
        value: &T,
    ) -> io::Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        frame.push(kind as u8);
        frame.extend_from_slice(&[0; 4]);
        rmp_serde::encode::write(&mut frame, value)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let payload_bytes = frame.len() - FRAME_HEAD_BYTES;
        let Some(len) = u32::try_from(payload_bytes)
            .ok()
            .filter(|&len| len <= MAX_RECORD_BYTES)
        else {
            let message = format!(
                "a {} record of {payload_bytes} bytes exceeds the snapshot limit of {MAX_RECORD_BYTES}",
                kind.name()
            );
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        };
        frame[1..FRAME_HEAD_BYTES].copy_from_slice(&len.to_le_bytes());
        let crc = crc32fast::hash(&frame);
        frame.extend_from_slice(&crc.to_le_bytes());
        let result = self.emit(&frame);
        self.frame = frame;
        result
    }

    /// Writes the trailer (the length and CRC-32 of everything before it) and flushes; returns the
    /// total bytes written, the file CRC and the output.
    pub(super) fn finish(mut self) -> io::Result<(u64, u32, W)> {
        let body_bytes = self.written;
        let crc = self.file_crc.clone().finalize();
        let mut trailer = vec![TRAILER_KIND];
        trailer.extend_from_slice(&body_bytes.to_le_bytes());
        trailer.extend_from_slice(&crc.to_le_bytes());
        self.emit(&trailer)?;
        self.out.flush()?;
        Ok((self.written, crc, self.out))
    }

    /// Writes bytes, counting and hashing them.
    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.file_crc.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }
}
