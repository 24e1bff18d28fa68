//! Authenticated encryption of peer frames.
//!
//! Every frame a node sends to a peer is sealed with ChaCha20-Poly1305 under a key derived (HKDF-
//! SHA256) from the cluster secret, the cluster id, the sender, the receiver and the sender's
//! session (`epoch`, `salt`). The receiver authenticates the frame before anything else reads its
//! contents, so a frame from someone without the secret, for another cluster, for another node,
//! or replayed, never reaches the MessagePack decoder or the core.
//!
//! ```text
//!  0      1      2..6     6..14  14..22  22..30  30..38  38..46   46..
//!  ver    kind   key id   from   to      epoch   salt    counter  ciphertext ‖ tag (16)
//! ```
//! The 46-byte header is the AEAD's associated data; integers are big-endian. `key id` names the
//! secret (so a rollover can accept two); `epoch` orders a sender's sessions (it rises with every
//! start of the sender, see [`crate::storage::next_peer_epoch`]), `salt` is random per session so
//! that two sessions never share a key even if their epochs collide, and `counter` rises by one
//! per frame within a session: it is the nonce, so a (key, nonce) pair is never used twice.
//!
//! Replay: a receiver keeps, per sender, the newest session and the highest counter it accepted
//! there; a frame from an older session or with a counter not above the highest is refused. The
//! memory lives as long as the receiving process: right after a receiver restarts, a frame
//! captured in the sender's *current* session can be accepted once. That is safe because Raft
//! already tolerates duplicated and delayed messages (the simulator delivers both); the check
//! keeps replays from costing work, it is not what makes the protocol safe.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::raft::NodeId;

/// The header's length in bytes.
pub const HEADER_BYTES: usize = 46;
/// The authentication tag's length in bytes.
pub const TAG_BYTES: usize = 16;
/// What sealing adds to a frame.
pub const OVERHEAD_BYTES: usize = HEADER_BYTES + TAG_BYTES;
/// The one wire version this build speaks.
const VERSION: u8 = 1;
/// Length of a secret, in bytes (written as 64 hex digits in the secret file).
pub const SECRET_BYTES: usize = 32;
/// Domain separation for every derivation made here.
const SALT: &[u8] = b"raftkv peer frames v1";

/// What a sealed frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An envelope for the node.
    Data = 0,
    /// The first frame of every connection: proves the connection comes from a member holding
    /// the secret, so the guard can admit it (see [`super::guard`]). Its payload is empty.
    Hello = 1,
}

/// A 32-byte cluster secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; SECRET_BYTES]);

impl Secret {
    /// Wraps raw bytes.
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Secret {
        Secret(bytes)
    }

    /// Parses 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Option<Secret> {
        let bytes = from_hex(text.trim())?;
        Some(Secret(bytes.try_into().ok()?))
    }

    /// A fresh random secret from the operating system's generator.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut bytes)
            .expect("the operating system's random generator works");
        Secret(bytes)
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The public name of this secret: 4 bytes derived from it, shown in logs and carried in
    /// frames. It reveals nothing usable about the secret.
    pub fn key_id(&self) -> [u8; 4] {
        let mut id = [0u8; 4];
        Hkdf::<Sha256>::new(Some(SALT), &self.0)
            .expand(b"key id", &mut id)
            .expect("4 bytes is a valid HKDF length");
        id
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", hex(&self.key_id()))
    }
}

/// Lowercase hex of a short byte string, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 8-byte id of a cluster: a hash of its token, so that frames of one cluster are refused
/// by another given the same secret but another token. Not of its members: they change at run
/// time, and a node joining later must compute the same id.
pub fn cluster_id(token: &str) -> [u8; 8] {
    let mut hash = Sha256::new();
    hash.update(b"raftkv cluster id v2\0");
    hash.update((token.len() as u64).to_be_bytes());
    hash.update(token.as_bytes());
    let digest = hash.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

fn member_mac(secret: &Secret, cluster_id: &[u8; 8], purpose: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(b"raftkv member credential\0");
    mac.update(cluster_id);
    mac.update(purpose.as_bytes());
    mac
}

/// Bytes from an even number of hex digits.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The secrets and cluster id a node seals and opens frames with.
#[derive(Clone, Debug)]
pub struct PeerKeys {
    cluster_id: [u8; 8],
    /// Invariant: non-empty; the first seals, every one opens (two during a rollover).
    secrets: Vec<(Secret, [u8; 4])>,
}

impl PeerKeys {
    /// Keys for `cluster_id`; `secrets[0]` seals, all of them open. `None` if there is no secret
    /// or two share a key id.
    pub fn new(cluster_id: [u8; 8], secrets: Vec<Secret>) -> Option<PeerKeys> {
        let secrets: Vec<(Secret, [u8; 4])> = secrets
            .into_iter()
            .map(|s| {
                let id = s.key_id();
                (s, id)
            })
            .collect();
        let first = secrets.first()?;
        if secrets[1..].iter().any(|(_, id)| *id == first.1) {
            return None;
        }
        Some(PeerKeys {
            cluster_id,
            secrets,
        })
    }

    /// The id of the secret that seals.
    pub fn sealing_key_id(&self) -> [u8; 4] {
        self.secrets[0].1
    }

    /// The ids of every secret that opens.
    pub fn key_ids(&self) -> Vec<[u8; 4]> {
        self.secrets.iter().map(|(_, id)| *id).collect()
    }

    /// What a member presents on a client door for a route only members may use (`purpose`
    /// names the route): HMAC-SHA256 under the sealing secret of the cluster id and `purpose`,
    /// in hex. Every member can check it; no client learns the secret from it. Sent only over the
    /// client doors' TLS when it is on, like any credential.
    pub fn member_credential(&self, purpose: &str) -> String {
        hex(&member_mac(&self.secrets[0].0, &self.cluster_id, purpose)
            .finalize()
            .into_bytes())
    }

    /// True if `presented` is [`PeerKeys::member_credential`] for `purpose` under any secret that
    /// opens (both during a rollover), compared in constant time.
    pub fn accepts_member_credential(&self, purpose: &str, presented: &str) -> bool {
        let Some(bytes) = from_hex(presented) else {
            return false;
        };
        self.secrets.iter().any(|(secret, _)| {
            member_mac(secret, &self.cluster_id, purpose)
                .verify_slice(&bytes)
                .is_ok()
        })
    }

    fn cipher(&self, secret: &Secret, header: &Header) -> ChaCha20Poly1305 {
        let mut info = [0u8; 8 + 8 * 4];
        info[..8].copy_from_slice(&self.cluster_id);
        info[8..16].copy_from_slice(&header.from.to_be_bytes());
        info[16..24].copy_from_slice(&header.to.to_be_bytes());
        info[24..32].copy_from_slice(&header.epoch.to_be_bytes());
        info[32..40].copy_from_slice(&header.salt.to_be_bytes());
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(SALT), &secret.0)
            .expand(&info, &mut key)
            .expect("32 bytes is a valid HKDF length");
        ChaCha20Poly1305::new(Key::from_slice(&key))
    }
}

/// The clear part of a sealed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    kind: u8,
    key_id: [u8; 4],
    from: NodeId,
    to: NodeId,
    epoch: u64,
    salt: u64,
    counter: u64,
}

impl Header {
    fn write(&self, out: &mut [u8]) {
        out[0] = VERSION;
        out[1] = self.kind;
        out[2..6].copy_from_slice(&self.key_id);
        out[6..14].copy_from_slice(&self.from.to_be_bytes());
        out[14..22].copy_from_slice(&self.to.to_be_bytes());
        out[22..30].copy_from_slice(&self.epoch.to_be_bytes());
        out[30..38].copy_from_slice(&self.salt.to_be_bytes());
        out[38..46].copy_from_slice(&self.counter.to_be_bytes());
    }

    fn read(frame: &[u8]) -> Result<Header, OpenError> {
        if frame.len() < OVERHEAD_BYTES {
            return Err(OpenError::Short(frame.len()));
        }
        if frame[0] != VERSION {
            return Err(OpenError::Version(frame[0]));
        }
        let u64_at = |at: usize| u64::from_be_bytes(frame[at..at + 8].try_into().expect("8"));
        Ok(Header {
            kind: frame[1],
            key_id: frame[2..6].try_into().expect("4 bytes"),
            from: u64_at(6),
            to: u64_at(14),
            epoch: u64_at(22),
            salt: u64_at(30),
            counter: u64_at(38),
        })
    }

    fn nonce(&self) -> Nonce {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&self.counter.to_be_bytes());
        *Nonce::from_slice(&nonce)
    }
}

/// Seals the frames of one session from one node to one peer. Frames must be sent in the order
/// they are sealed: the receiver refuses a counter that is not above the last one it accepted.
pub struct Sealer {
    header: Header,
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    /// A session from `from` to `to`. `epoch` must exceed every epoch `from` used before (the
    /// receiver refuses older sessions); `salt` should be random.
    pub fn new(keys: &PeerKeys, from: NodeId, to: NodeId, epoch: u64, salt: u64) -> Sealer {
        let (secret, key_id) = &keys.secrets[0];
        let header = Header {
            kind: Kind::Data as u8,
            key_id: *key_id,
            from,
            to,
            epoch,
            salt,
            counter: 0,
        };
        let cipher = keys.cipher(secret, &header);
        Sealer { header, cipher }
    }

    /// Seals `plaintext` as the session's next frame of `kind`.
    pub fn seal(&mut self, kind: Kind, plaintext: &[u8]) -> Bytes {
        // A u64 counter at a million frames a second lasts half a million years; wrapping would
        // reuse a nonce, so it is a bug, not an expected failure.
        self.header.counter = self
            .header
            .counter
            .checked_add(1)
            .expect("frame counter exhausted");
        self.header.kind = kind as u8;
        let mut frame = vec![0u8; HEADER_BYTES + plaintext.len() + TAG_BYTES];
        let (head, rest) = frame.split_at_mut(HEADER_BYTES);
        self.header.write(head);
        let (body, tag) = rest.split_at_mut(plaintext.len());
        body.copy_from_slice(plaintext);
        let computed = self
            .cipher
            .encrypt_in_place_detached(&self.header.nonce(), head, body)
            .expect("ChaCha20-Poly1305 seals any frame below 256 GiB");
        tag.copy_from_slice(&computed);
        Bytes::from(frame)
    }
}

/// Why a frame was refused. Every variant but `Replayed` means the sender does not hold this
/// cluster's secret for this node, or the bytes were damaged.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("{0} bytes is too short for a sealed frame")]
    Short(usize),
    #[error("unknown frame version {0}")]
    Version(u8),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error(
        "key {} is not one of this node's ({}): the sender uses a different cluster secret",
        hex(.theirs), .ours.iter().map(|k| hex(k)).collect::<Vec<_>>().join(", ")
    )]
    UnknownKey { theirs: [u8; 4], ours: Vec<[u8; 4]> },
    #[error("addressed to node {0}")]
    NotForMe(NodeId),
    #[error("authentication failed: forged, damaged, or sealed for another cluster")]
    BadTag,
    #[error(
        "replayed or stale: session {epoch} frame {counter} is not newer than the last accepted"
    )]
    Replayed { epoch: u64, counter: u64 },
}

/// An authenticated frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub kind: Kind,
    pub from: NodeId,
    pub plaintext: Vec<u8>,
}

/// A sender's session as its frames name it: (key id, epoch, salt).
type Session = ([u8; 4], u64, u64);

/// Opens frames addressed to one node and refuses replays. Keeps one derived key per sender and
/// one replay mark per sender, so its memory is bounded by the number of senders admitted.
pub struct Opener {
    keys: PeerKeys,
    me: NodeId,
    /// Per sender: the session whose key is cached, and the key.
    ciphers: HashMap<NodeId, (Session, ChaCha20Poly1305)>,
    /// Per sender: the newest accepted (epoch, counter).
    marks: HashMap<NodeId, (u64, u64)>,
}

impl Opener {
    /// Opens frames for node `me`.
    pub fn new(keys: PeerKeys, me: NodeId) -> Opener {
        Opener {
            keys,
            me,
            ciphers: HashMap::new(),
            marks: HashMap::new(),
        }
    }

    /// Authenticates `frame`, then checks it is newer than anything accepted from its sender,
    /// and returns its contents. The replay mark moves only for authentic frames, so forged
    /// frames cannot push it ahead.
    pub fn open(&mut self, frame: &[u8]) -> Result<Opened, OpenError> {
        let header = Header::read(frame)?;
        let kind = match header.kind {
            0 => Kind::Data,
            1 => Kind::Hello,
            other => return Err(OpenError::Kind(other)),
        };
        let Some((secret, _)) = self
            .keys
            .secrets
            .iter()
            .find(|(_, id)| *id == header.key_id)
        else {
            return Err(OpenError::UnknownKey {
                theirs: header.key_id,
                ours: self.keys.key_ids(),
            });
        };
        if header.to != self.me {
            return Err(OpenError::NotForMe(header.to));
        }
        let session = (header.key_id, header.epoch, header.salt);
        let cached = matches!(self.ciphers.get(&header.from), Some((s, _)) if *s == session);
        // Derived afresh only for a new session, and kept only once a frame proves it authentic:
        // a forged frame must not evict the key of a genuine session.
        let fresh = (!cached).then(|| self.keys.cipher(secret, &header));
        let cipher = match &fresh {
            Some(cipher) => cipher,
            None => &self.ciphers[&header.from].1,
        };
        let (head, rest) = frame.split_at(HEADER_BYTES);
        let (body, tag) = rest.split_at(rest.len() - TAG_BYTES);
        let mut plaintext = body.to_vec();
        cipher
            .decrypt_in_place_detached(&header.nonce(), head, &mut plaintext, Tag::from_slice(tag))
            .map_err(|_| OpenError::BadTag)?;
        // Checked only once the frame is known authentic, so a forgery is always counted as
        // one, whatever counter it claims.
        if let Some(&(epoch, counter)) = self.marks.get(&header.from) {
            if (header.epoch, header.counter) <= (epoch, counter) {
                return Err(OpenError::Replayed {
                    epoch: header.epoch,
                    counter: header.counter,
                });
            }
        }
        if let Some(cipher) = fresh {
            self.ciphers.insert(header.from, (session, cipher));
        }
        self.marks
            .insert(header.from, (header.epoch, header.counter));
        Ok(Opened {
            kind,
            from: header.from,
            plaintext,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: u8, cluster: &str) -> PeerKeys {
        PeerKeys::new(cluster_id(cluster), vec![Secret::from_bytes([secret; 32])]).unwrap()
    }

    #[test]
    fn a_sealed_frame_opens_once_and_only_for_its_receiver() {
        let mut sealer = Sealer::new(&keys(7, "a"), 1, 2, 10, 99);
        let frame = sealer.seal(Kind::Data, b"append entries");
        let mut opener = Opener::new(keys(7, "a"), 2);
        let opened = opener.open(&frame).unwrap();
        assert_eq!(opened.plaintext, b"append entries");
        assert_eq!((opened.from, opened.kind), (1, Kind::Data));
        assert!(matches!(
            opener.open(&frame),
            Err(OpenError::Replayed { .. })
        ));
        assert_eq!(
            Opener::new(keys(7, "a"), 3).open(&frame),
            Err(OpenError::NotForMe(2))
        );
    }

    #[test]
    fn another_secret_or_cluster_or_a_flipped_bit_is_refused() {
        let frame = Sealer::new(&keys(7, "a"), 1, 2, 10, 99).seal(Kind::Data, b"x");
        assert!(matches!(
            Opener::new(keys(8, "a"), 2).open(&frame),
            Err(OpenError::UnknownKey { .. })
        ));
        assert_eq!(
            Opener::new(keys(7, "b"), 2).open(&frame),
            Err(OpenError::BadTag)
        );
        for bit in 0..frame.len() * 8 {
            let mut bad = frame.to_vec();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Opener::new(keys(7, "a"), 2).open(&bad).is_err(),
                "bit {bit} flipped and still accepted"
            );
        }
    }

    #[test]
    fn a_newer_session_supersedes_and_an_older_one_is_refused() {
        let mut old = Sealer::new(&keys(7, "a"), 1, 2, 10, 1);
        let mut new = Sealer::new(&keys(7, "a"), 1, 2, 11, 2);
        let stale = old.seal(Kind::Data, b"old");
        let mut opener = Opener::new(keys(7, "a"), 2);
        opener.open(&new.seal(Kind::Data, b"new")).unwrap();
        assert!(matches!(
            opener.open(&stale),
            Err(OpenError::Replayed { epoch: 10, .. })
        ));
        opener.open(&new.seal(Kind::Data, b"next")).unwrap();
    }

    #[test]
    fn during_a_rollover_both_secrets_open() {
        let (old, new) = (Secret::from_bytes([1; 32]), Secret::from_bytes([2; 32]));
        let id = cluster_id("a");
        let sends_old = PeerKeys::new(id, vec![old.clone()]).unwrap();
        let sends_new = PeerKeys::new(id, vec![new.clone()]).unwrap();
        let both = PeerKeys::new(id, vec![new, old]).unwrap();
        let mut opener = Opener::new(both, 2);
        opener
            .open(&Sealer::new(&sends_old, 1, 2, 5, 0).seal(Kind::Data, b"a"))
            .unwrap();
        opener
            .open(&Sealer::new(&sends_new, 3, 2, 5, 0).seal(Kind::Data, b"b"))
            .unwrap();
    }

    #[test]
    fn a_member_credential_is_accepted_by_members_only_and_for_its_purpose_only() {
        let member = keys(1, "a");
        let credential = member.member_credential("txlog");
        assert_eq!(credential.len(), 64);
        assert!(keys(1, "a").accepts_member_credential("txlog", &credential));
        assert!(!member.accepts_member_credential("snapshot", &credential));
        assert!(!keys(2, "a").accepts_member_credential("txlog", &credential));
        assert!(!keys(1, "b").accepts_member_credential("txlog", &credential));
        let mut flipped = credential.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in ["", "zz", &credential[..62], flipped.as_str()] {
            assert!(!member.accepts_member_credential("txlog", bad), "{bad:?}");
        }
        // During a rollover the old secret's credential still opens.
        let both = PeerKeys::new(
            cluster_id("a"),
            vec![Secret::from_bytes([2; 32]), Secret::from_bytes([1; 32])],
        )
        .unwrap();
        assert!(both.accepts_member_credential("txlog", &credential));
    }

    #[test]
    fn secrets_round_trip_through_hex() {
        let secret = Secret::generate();
        assert_eq!(Secret::from_hex(&secret.to_hex()), Some(secret));
        assert_eq!(Secret::from_hex("abc"), None);
        assert_eq!(Secret::from_hex(&"zz".repeat(32)), None);
    }
}
