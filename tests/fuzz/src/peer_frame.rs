//! The `peer_frame` harness: arbitrary bytes down the raft port's path, as a stranger sends them
//! and as a member would seal them.
//!
//! 1. Through the guard's [`ZmtpValidator`] in both roles, fed in chunks: it must not panic;
//!    it forwards no more bytes than it was given; a hello it hands out is within its bound,
//!    and feeding the same bytes in one piece gives the same verdict and forwarded bytes.
//! 2. Through [`Opener::open`] as a sealed frame: without the secret nothing opens (a fuzzer
//!    cannot forge a Poly1305 tag), and no header makes it panic.
//! 3. Sealed by a member and opened: the bytes come back unchanged; opened twice, the second is
//!    refused as a replay; with one bit flipped at an input-chosen place it is refused; and the
//!    MessagePack decoder takes or refuses the bytes as a Raft envelope without panicking.
//! 4. (checked by the fuzz target, which owns the global allocator) no single allocation made
//!    inside `feed` exceeds the READY bound plus a little, with `forward` reserved up front: a
//!    declared length, however large, costs nothing.
//!
//! This file is shared: the fuzz crate builds it as `raftkv_fuzz::peer_frame`, and the main crate's
//! `tests/storage/fuzz_regressions.rs` includes it with `#[path]` to replay committed inputs.
//!
//! # Input layout
//!
//! ```text
//! input = split: u8 | the bytes sent
//! split: reads of (split % 64) + 1 bytes
//! ```

use raftkv::cluster::guard::{Role, ZmtpValidator, MAX_COMMAND_BYTES, MAX_HELLO_BYTES};
use raftkv::cluster::seal::{cluster_id, Kind, OpenError, Opener, PeerKeys, Sealer, Secret};
use raftkv::cluster::wire;
use raftkv::raft::Message;

/// The frame limit the harness's DEALER role enforces.
pub const MAX_FRAME_BYTES: u64 = 4096;

/// The largest single allocation `feed` may make: a READY command held whole, plus slack.
/// Checked by the fuzz target's allocator (the regression replay has none).
#[allow(dead_code)]
pub const MAX_FEED_ALLOCATION: usize = MAX_COMMAND_BYTES as usize + 256;

fn keys() -> PeerKeys {
    PeerKeys::new(cluster_id("fuzz"), vec![Secret::from_bytes([9; 32])]).expect("one secret")
}

fn validate(role: Role, bytes: &[u8], chunk: usize) -> (bool, Vec<u8>, Vec<Vec<u8>>) {
    let mut validator = ZmtpValidator::new(role);
    let (mut forward, mut hellos) = (Vec::with_capacity(bytes.len()), Vec::new());
    let mut fed = 0;
    for piece in bytes.chunks(chunk) {
        fed += piece.len();
        match super::measure::during(|| validator.feed(piece, &mut forward)) {
            Ok(hello) => hellos.extend(hello),
            Err(_) => return (false, forward, hellos),
        }
        assert!(forward.len() <= fed, "forwarded more bytes than were fed");
    }
    (true, forward, hellos)
}

/// Runs one input; panics on a violated property.
pub fn run(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 64) + 1;
    let dealer = Role::Dealer {
        max_frame_bytes: MAX_FRAME_BYTES,
        max_hello_bytes: MAX_HELLO_BYTES,
    };
    for role in [dealer, Role::Router] {
        let (ok, forward, hellos) = validate(role, bytes, chunk);
        for hello in &hellos {
            assert!(
                hello.len() as u64 <= MAX_HELLO_BYTES,
                "hello over its bound"
            );
            assert!(
                Opener::new(keys(), 1).open(hello).is_err(),
                "a forged hello opened"
            );
        }
        // Only an accepted stream must be the same in one piece; a refused one may have
        // forwarded a different prefix before the refusal.
        let whole = validate(role, bytes, bytes.len().max(1));
        assert_eq!(
            ok, whole.0,
            "the verdict depends on how the bytes were split"
        );
        if ok {
            assert_eq!(
                (forward, hellos),
                (whole.1, whole.2),
                "split changed the output"
            );
        }
    }

    assert!(
        Opener::new(keys(), 1).open(bytes).is_err(),
        "unsealed bytes opened"
    );

    let mut sealer = Sealer::new(&keys(), 2, 1, 1, u64::from(split));
    let sealed = sealer.seal(Kind::Data, bytes);
    let mut damaged = sealed.to_vec();
    damaged[usize::from(split) * 7 % sealed.len()] ^= 1 << (split % 8);
    assert!(
        Opener::new(keys(), 1).open(&damaged).is_err(),
        "a damaged frame opened"
    );
    let mut opener = Opener::new(keys(), 1);
    let opened = opener.open(&sealed).expect("a member's sealed frame opens");
    assert_eq!(opened.plaintext, bytes);
    assert!(
        matches!(opener.open(&sealed), Err(OpenError::Replayed { .. })),
        "a frame opened twice"
    );
    let _ = wire::decode::<Message>(&opened.plaintext);
}
