//! The replicated state machine of a simulated node: what its `committed` entries build, and
//! what its snapshots hold.
//!
//! The state is a small key-value map fed by the payloads (so a snapshot has real content to
//! chunk and ship) plus a running digest over every entry ever applied, so that two states can be
//! compared in O(1): equal digests at an equal index mean the same entries were applied in the
//! same order, whether they were applied one by one or arrived inside a snapshot.
//!
//! A snapshot's bytes are the state followed by the configuration in effect at its index
//! (§7: "the snapshot also includes the latest configuration as of the last included index"),
//! so the configuration travels with the chunks and survives crashes with the file.

use std::collections::BTreeMap;

use bytes::Bytes;
use raftkv::raft::{Entry, Index, MembershipEntry, Payload, Term};

/// FNV-1a, 64 bits: a digest, not a defence against an adversary.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(FNV_PRIME);
    }
    h
}

/// Marks an encoded snapshot, so that stray bytes do not decode by accident.
const MAGIC: &[u8; 4] = b"SIMS";

/// A node's applied state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedState {
    /// The last entry applied (0 and 0 before any).
    pub index: Index,
    pub term: Term,
    /// Digest of every entry applied so far, in order.
    pub digest: u64,
    /// `key → last payload` for keys `0..keys`; the key is a hash of the payload.
    pub kv: BTreeMap<u16, Bytes>,
}

impl Default for AppliedState {
    fn default() -> Self {
        AppliedState {
            index: 0,
            term: 0,
            digest: FNV_OFFSET,
            kv: BTreeMap::new(),
        }
    }
}

impl AppliedState {
    /// Applies the next entry (the checker verifies it is the next). `keys` bounds the map, and
    /// so the snapshot's size.
    pub fn apply(&mut self, e: &Entry, keys: u16) {
        let mut h = fnv(self.digest, &e.index.to_le_bytes());
        h = fnv(h, &e.term.to_le_bytes());
        match &e.payload {
            Payload::Command(data) => {
                h = fnv(h, &[1]);
                h = fnv(h, data);
                let key = (fnv(FNV_OFFSET, data) % keys.max(1) as u64) as u16;
                self.kv.insert(key, data.clone());
            }
            Payload::Membership(m) => {
                let mut bytes = Vec::with_capacity(m.encoded_len());
                m.encode(&mut bytes);
                h = fnv(h, &[2]);
                h = fnv(h, &bytes);
            }
            Payload::Noop => {}
        }
        self.digest = h;
        self.index = e.index;
        self.term = e.term;
    }

    /// The snapshot bytes of this state: a length-prefixed little-endian encoding.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(32 + self.kv.len() * 24);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.term.to_le_bytes());
        out.extend_from_slice(&self.digest.to_le_bytes());
        out.extend_from_slice(&(self.kv.len() as u32).to_le_bytes());
        for (key, value) in &self.kv {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
        Bytes::from(out)
    }

    /// The bytes of a snapshot of this state whose index has the configuration `membership`:
    /// the state's encoding, then the configuration's (its length first).
    pub fn encode_snapshot(&self, membership: &MembershipEntry) -> Bytes {
        let mut out = self.encode().to_vec();
        let mut config = Vec::with_capacity(membership.encoded_len());
        membership.encode(&mut config);
        out.extend_from_slice(&(config.len() as u32).to_le_bytes());
        out.extend_from_slice(&config);
        Bytes::from(out)
    }

    /// Decodes [`AppliedState::encode_snapshot`]'s bytes; any truncation, extension or garbage
    /// is an error.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<(Self, MembershipEntry), String> {
        let mut r = Reader { bytes, at: 0 };
        let state = Self::read(&mut r)?;
        let len = r.u32()? as usize;
        let membership = MembershipEntry::decode(r.take(len)?)
            .ok_or_else(|| "a malformed configuration".to_string())?;
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        Ok((state, membership))
    }

    /// Reads [`AppliedState::encode`]'s bytes; any truncation or garbage is an error.
    fn read(r: &mut Reader<'_>) -> Result<Self, String> {
        if r.take(4)? != MAGIC {
            return Err("bad magic".to_string());
        }
        let index = r.u64()?;
        let term = r.u64()?;
        let digest = r.u64()?;
        let count = r.u32()?;
        let mut kv = BTreeMap::new();
        for _ in 0..count {
            let key = u16::from_le_bytes(r.take(2)?.try_into().expect("two bytes"));
            let len = r.u32()? as usize;
            kv.insert(key, Bytes::copy_from_slice(r.take(len)?));
        }
        Ok(AppliedState {
            index,
            term,
            digest,
            kv,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("eight bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }
}
