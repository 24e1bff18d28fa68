//! The key-value map's versions, compare-and-swap, expiry and purge, as the state machine applies
//! them: every outcome depends only on the entries (and their stamps), never on a local clock.

use crate::support::state::apply_in_batches;
use bytes::Bytes;
use proptest::prelude::*;
use raftkv::raft::{Entry, Payload};
use raftkv::state::{
    encode, ApplyResult, Command, KvRecord, KvValue, Request, StateConfig, StateMachine, TxLog,
    ABSENT_VERSION,
};

/// Feeds requests to a state machine as consecutive entries of term 1.
struct Driver {
    sm: StateMachine,
}

impl Driver {
    fn new() -> Self {
        let sm = StateMachine::new(StateConfig { max_sessions: 10 }).expect("valid config");
        Driver { sm }
    }

    fn request(&mut self, request: Request) -> ApplyResult {
        let index = self.sm.applied_index() + 1;
        self.sm.apply(index, 1, &Payload::Command(encode(&request)))
    }

    /// Applies `command` stamped with `at_ms`.
    fn at(&mut self, at_ms: u64, command: Command) -> ApplyResult {
        self.request(Request::new(command).stamped(at_ms))
    }

    /// Applies `command` without a stamp: the clock stays where it is.
    fn run(&mut self, command: Command) -> ApplyResult {
        self.request(Request::new(command))
    }
}

fn set(key: &str, value: &'static [u8], ttl_secs: u64) -> Command {
    Command::KvSet {
        key: key.into(),
        value: Bytes::from_static(value),
        ttl_secs,
    }
}

fn cas(key: &str, value: &'static [u8], ttl_secs: u64, expected_version: u64) -> Command {
    Command::KvCas {
        key: key.into(),
        value: Bytes::from_static(value),
        ttl_secs,
        expected_version,
    }
}

fn get(key: &str) -> Command {
    Command::KvGet { key: key.into() }
}

fn getm(key: &str) -> Command {
    Command::KvGetMeta { key: key.into() }
}

#[test]
fn cas_writes_only_at_the_current_version_and_fails_on_a_missing_key() {
    let mut d = Driver::new();
    assert_eq!(d.run(cas("k", b"x", 0, 1)), ApplyResult::NotFound);
    assert_eq!(d.run(set("k", b"a", 0)), ApplyResult::Stored { version: 2 });
    assert_eq!(
        d.run(cas("k", b"b", 0, 1)),
        ApplyResult::VersionMismatch { version: 2 }
    );
    assert_eq!(
        d.sm.kv_get("k").map(|v| v.value.clone()),
        Some(Bytes::from_static(b"a")),
        "a failed CAS writes nothing"
    );
    assert_eq!(
        d.run(cas("k", b"b", 0, 2)),
        ApplyResult::Stored { version: 3 }
    );
    assert_eq!(
        d.run(get("k")),
        ApplyResult::Value(Some(KvValue {
            value: Bytes::from_static(b"b"),
            version: 3
        }))
    );
    // The winner's version moved on: the same CAS again loses, naming the new version.
    assert_eq!(
        d.run(cas("k", b"c", 0, 2)),
        ApplyResult::VersionMismatch { version: 3 }
    );
    assert!(matches!(
        d.run(cas("", b"c", 0, 2)),
        ApplyResult::BadCommand(_)
    ));
}

/// Version 0 is no key's (a version is the revision that wrote the key, and the first write's is 2,
/// as in etcd): a swap expecting it creates a missing key and refuses an existing one, naming its
/// version. Only writes that change something take a revision: failed swaps and reads do not.
#[test]
fn cas_at_version_zero_creates_a_missing_key_and_refuses_an_existing_one() {
    let mut d = Driver::new();
    assert_eq!(
        d.run(cas("k", b"first", 0, ABSENT_VERSION)),
        ApplyResult::Stored { version: 2 }
    );
    assert_eq!(
        d.run(cas("k", b"second", 0, ABSENT_VERSION)),
        ApplyResult::VersionMismatch { version: 2 }
    );
    assert_eq!(
        d.sm.kv_get("k").map(|v| v.value.clone()),
        Some(Bytes::from_static(b"first")),
        "the refused create writes nothing"
    );
    // Deleted, the key is absent again; so is a key whose expiry has passed.
    assert_eq!(
        d.run(Command::KvDelete { key: "k".into() }),
        ApplyResult::Deleted(true)
    );
    assert_eq!(
        d.run(cas("k", b"third", 0, ABSENT_VERSION)),
        ApplyResult::Stored { version: 4 }
    );
    assert_eq!(
        d.at(1_000, set("lease", b"v", 1)),
        ApplyResult::Stored { version: 5 }
    );
    assert_eq!(
        d.at(1_999, cas("lease", b"w", 0, ABSENT_VERSION)),
        ApplyResult::VersionMismatch { version: 5 },
        "live until its expiry"
    );
    assert_eq!(
        d.at(2_000, cas("lease", b"w", 0, ABSENT_VERSION)),
        ApplyResult::Stored { version: 6 },
        "expired: absent"
    );
}

#[test]
fn a_key_expires_when_the_stamped_clock_reaches_its_expiry_and_not_before() {
    let mut d = Driver::new();
    assert_eq!(
        d.at(1_000, set("k", b"v", 10)),
        ApplyResult::Stored { version: 2 }
    );
    assert!(matches!(
        d.at(10_999, get("k")),
        ApplyResult::Value(Some(_))
    ));
    // Unstamped entries do not move the clock: no wall time passes for a state machine.
    assert!(matches!(d.run(get("k")), ApplyResult::Value(Some(_))));
    // A stamp from a leader whose clock is behind does not move the clock back.
    d.at(500, Command::KvGet { key: "x".into() });
    assert_eq!(d.sm.now_ms(), 10_999);
    assert_eq!(d.at(11_000, get("k")), ApplyResult::Value(None));
    assert_eq!(d.sm.kv_get("k"), None);
    assert_eq!(d.run(getm("k")), ApplyResult::Record(None));
    assert_eq!(d.run(cas("k", b"w", 0, 1)), ApplyResult::NotFound);
    assert_eq!(
        d.run(Command::KvDelete { key: "k".into() }),
        ApplyResult::Deleted(false),
        "an expired key is already gone"
    );
    assert_eq!(d.sm.next_expiry_ms(), None, "the delete dropped it");
}

#[test]
fn getm_reports_the_remaining_time_on_the_state_machines_clock() {
    let mut d = Driver::new();
    d.at(1_000, set("k", b"v", 10));
    d.at(3_500, Command::KvPurge);
    let record = KvRecord {
        value: Bytes::from_static(b"v"),
        version: 2,
        expires_at_ms: Some(11_000),
        expires_in_ms: Some(7_500),
    };
    assert_eq!(d.run(getm("k")), ApplyResult::Record(Some(record.clone())));
    assert_eq!(record.expires_in_secs(), Some(8), "rounded up");
    d.at(10_999, Command::KvPurge);
    let ApplyResult::Record(Some(last)) = d.run(getm("k")) else {
        panic!("still live");
    };
    assert_eq!(
        (last.expires_in_ms, last.expires_in_secs()),
        (Some(1), Some(1))
    );
    d.run(set("forever", b"v", 0));
    let ApplyResult::Record(Some(forever)) = d.run(getm("forever")) else {
        panic!("stored");
    };
    assert_eq!(
        (forever.expires_at_ms, forever.expires_in_secs()),
        (None, None)
    );
}

#[test]
fn a_rewrite_replaces_the_expiry_and_cas_sets_its_own() {
    let mut d = Driver::new();
    d.at(0, set("k", b"v", 5));
    assert_eq!(d.sm.next_expiry_ms(), Some(5_000));
    // A plain put (or a set with ttl 0) makes the key permanent.
    d.run(Command::KvPut {
        key: "k".into(),
        value: Bytes::from_static(b"p"),
    });
    assert_eq!(d.sm.next_expiry_ms(), None);
    assert_eq!(
        d.at(1_000, cas("k", b"c", 2, 3)),
        ApplyResult::Stored { version: 4 }
    );
    assert_eq!(d.sm.next_expiry_ms(), Some(3_000));
    assert_eq!(d.at(3_000, Command::KvPurge), ApplyResult::Purged(1));
    assert_eq!(d.sm.kv_get("k"), None);
}

#[test]
fn purge_removes_exactly_the_expired_keys() {
    let mut d = Driver::new();
    d.at(0, set("a", b"1", 1));
    d.at(0, set("b", b"2", 2));
    d.at(0, set("c", b"3", 0));
    d.at(0, set("d", b"4", 3));
    assert_eq!(d.sm.next_expiry_ms(), Some(1_000));
    assert_eq!(d.at(2_000, Command::KvPurge), ApplyResult::Purged(2));
    assert_eq!(d.sm.next_expiry_ms(), Some(3_000));
    let json = d.sm.to_json();
    let keys: Vec<&String> = json["kv"].as_object().expect("kv map").keys().collect();
    assert_eq!(keys, ["c", "d"]);
    assert_eq!(json["kv"]["d"]["expires_at_ms"], 3_000);
    assert_eq!(json["now_ms"], 2_000);
    // A key expired but not yet purged is already absent from the JSON.
    d.at(3_000, get("zzz"));
    let json = d.sm.to_json();
    assert!(json["kv"].get("d").is_none(), "{json}");
    assert_eq!(d.at(3_000, Command::KvPurge), ApplyResult::Purged(1));
    assert_eq!(d.at(9_000, Command::KvPurge), ApplyResult::Purged(0));
}

#[test]
fn a_replayed_request_still_moves_the_clock() {
    let mut d = Driver::new();
    d.at(0, set("k", b"v", 1));
    let first = d.request(Request::with_session(7, 1, set("x", b"1", 0)).stamped(100));
    let replay = d.request(Request::with_session(7, 1, set("x", b"1", 0)).stamped(5_000));
    assert_eq!(first, replay);
    assert_eq!(d.sm.now_ms(), 5_000);
    assert_eq!(d.sm.kv_get("k"), None);
}

/// Kv commands on three keys with small ttls, stamped by a clock that mostly advances but sometimes
/// jumps back or is missing.
fn payload() -> impl Strategy<Value = Payload> {
    let key = prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from);
    let value = prop::collection::vec(any::<u8>(), 0..4).prop_map(Bytes::from);
    let ttl = 0u64..4;
    let command = prop_oneof![
        (key.clone(), value.clone(), ttl.clone()).prop_map(|(key, value, ttl_secs)| {
            Command::KvSet {
                key,
                value,
                ttl_secs,
            }
        }),
        (key.clone(), value, ttl, 0u64..12).prop_map(|(key, value, ttl_secs, v)| {
            Command::KvCas {
                key,
                value,
                ttl_secs,
                expected_version: v,
            }
        }),
        key.clone().prop_map(|key| Command::KvDelete { key }),
        key.clone().prop_map(|key| Command::KvGet { key }),
        key.prop_map(|key| Command::KvGetMeta { key }),
        Just(Command::KvPurge),
    ];
    let stamp = prop::option::of(0u64..8_000);
    prop_oneof![
        9 => (command, stamp).prop_map(|(command, stamp)| {
            let request = Request::new(command);
            let request = match stamp {
                Some(ms) => request.stamped(ms),
                None => request,
            };
            Payload::Command(encode(&request))
        }),
        1 => Just(Payload::Noop),
    ]
}

fn machine() -> StateMachine {
    StateMachine::new(StateConfig::default()).expect("valid config")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two replicas, one applying entry by entry and one in random batches (like a node restarted
    /// long after the keys expired, re-applying its log), agree on every result, the JSON and the
    /// transaction log.
    #[test]
    fn replicas_agree_on_cas_expiry_and_purge(
        payloads in prop::collection::vec(payload(), 0..80),
        cut_points in prop::collection::vec(0usize..80, 0..5),
    ) {
        let entries: Vec<Entry> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| Entry { index: i as u64 + 1, term: 1, payload })
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut one = machine();
        let mut log_one = TxLog::open(dir.path(), 1).expect("open");
        let results_one = one.apply_batch(&entries, &mut log_one).expect("batch");

        let mut two = machine();
        let mut log_two = TxLog::open(dir.path(), 2).expect("open");
        let results_two = apply_in_batches(&mut two, &entries, cut_points, &mut log_two);

        prop_assert_eq!(&results_one, &results_two);
        prop_assert_eq!(one.to_json(), two.to_json());
        prop_assert_eq!(one.next_expiry_ms(), two.next_expiry_ms());
        let text_one = std::fs::read_to_string(log_one.path()).expect("read");
        let text_two = std::fs::read_to_string(log_two.path()).expect("read");
        prop_assert_eq!(text_one, text_two);
        // Whatever the history, nothing live is expired and every expiry is still ahead.
        for key in ["a", "b", "c"] {
            if let Some(r) = one.kv_record(key) {
                prop_assert!(!matches!(r.expires_at_ms, Some(at) if at <= one.now_ms()));
            }
        }
    }
}
