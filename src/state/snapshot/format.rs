//! The constants of the snapshot format: magic bytes, version, record kinds and limits. The layout
//! they describe is in the module docs of [`crate::state`].

/// The first eight bytes of every snapshot. The leading non-ASCII byte makes a text file, or a
/// file mangled by a text-mode transfer, fail at once.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"\x89RKVSNP\n";

/// The format version this build writes and the only one it reads. Bump it whenever the layout or
/// the serde shape of a record changes — including [`crate::state::Student`] and
/// [`crate::state::ApplyResult`], which records carry as they are.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 4;

/// The oldest format version this build reads: version 1 lacks the header's learners and
/// member addresses, which read as empty; versions before 3 lack the key-value store's revisions,
/// history and leases (see `restore.rs` for how their keys are read); versions before 4 lack the
/// auth store, which reads as empty (auth off, no users).
pub const SNAPSHOT_FORMAT_VERSION_MIN: u32 = 1;

/// The largest payload of one record. The largest value a client may store is 32 MiB
/// (`MAX_VALUE_BYTES_LIMIT`), and the largest record is one history event holding a value and the
/// value it replaced, so every record fits with room to spare; a longer length read from a file
/// is damage, refused before anything is allocated for it.
pub const MAX_RECORD_BYTES: u32 = 80 << 20;

/// The value bytes one history record gathers before the next starts (one event may exceed it).
pub(super) const HISTORY_BYTES_PER_RECORD: usize = 8 << 20;

/// The most members (voters and learners) a snapshot may name; Raft clusters have a handful.
pub const MAX_VOTERS: usize = 1024;

/// Items per stack-items record, so that a stack of any length streams in bounded pieces
/// (8192 × at most 9 bytes of MessagePack ≈ 72 KiB).
pub(super) const STACK_ITEMS_PER_RECORD: usize = 8192;

/// Bytes before the first record: the magic and the version.
pub(super) const PREAMBLE_BYTES: u64 = 12;

/// Bytes of a record's frame around its payload: kind (1), length (4) before it, CRC (4) after.
pub(super) const FRAME_HEAD_BYTES: usize = 5;

/// Bytes of the trailer: its kind byte, the length of everything before it (u64) and its CRC-32.
pub(super) const TRAILER_BYTES: usize = 13;

/// The kind byte of the trailer; no record has it.
pub(super) const TRAILER_KIND: u8 = 0xFF;

/// What a record holds. Records come in this order (stack items right after their stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Exactly one, first: index, term, clock, voters, counts.
    Header = 1,
    /// One per student, by ascending roll number.
    Student = 2,
    /// One per etcd lease, by ascending id (before the keys, which name them).
    Lease = 7,
    /// One per stored key (expired ones too, until purged), by ascending key.
    Key = 3,
    /// One per stack, by ascending id, each followed by its items records.
    Stack = 4,
    /// Up to [`STACK_ITEMS_PER_RECORD`] items of the stack before, bottom first.
    StackItems = 5,
    /// One per exactly-once client session, by ascending client id.
    Session = 6,
    /// The key-value store's kept history: events of one revision, by ascending revision (a
    /// revision with many events spans several records).
    History = 8,
}

impl Kind {
    /// The kind with this byte, if any.
    pub(super) fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::Header,
            2 => Kind::Student,
            3 => Kind::Key,
            4 => Kind::Stack,
            5 => Kind::StackItems,
            6 => Kind::Session,
            7 => Kind::Lease,
            8 => Kind::History,
            _ => return None,
        })
    }

    /// Where its records come in a snapshot (kind bytes were given as kinds were added, so they
    /// are not the order).
    pub(super) fn position(self) -> u8 {
        match self {
            Kind::Header => 0,
            Kind::Student => 1,
            Kind::Lease => 2,
            Kind::Key => 3,
            Kind::Stack => 4,
            Kind::StackItems => 5,
            Kind::Session => 6,
            Kind::History => 7,
        }
    }

    /// How error messages name it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::Student => "student",
            Kind::Key => "key",
            Kind::Stack => "stack",
            Kind::StackItems => "stack items",
            Kind::Session => "session",
            Kind::Lease => "lease",
            Kind::History => "history",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_byte_maps_back_and_the_trailer_is_no_kind() {
        for kind in [
            Kind::Header,
            Kind::Student,
            Kind::Key,
            Kind::Stack,
            Kind::StackItems,
            Kind::Session,
            Kind::Lease,
            Kind::History,
        ] {
            assert_eq!(Kind::from_byte(kind as u8), Some(kind));
        }
        assert_eq!(Kind::from_byte(TRAILER_KIND), None);
        assert_eq!(Kind::from_byte(0), None);
    }
}
