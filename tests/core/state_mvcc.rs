//! etcd's MVCC semantics in the state machine: revisions, per-key create/mod revision and
//! version, reads at older revisions, compaction, ranges, transactions and leases, and all of it
//! surviving a snapshot. Each expectation is etcd's documented behaviour (checked against etcd
//! 3.4 where the two could differ).

use bytes::Bytes;
use raftkv::raft::{Membership, MembershipEntry, Payload};
use raftkv::state::mvcc::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdCommand, EtcdError, EtcdOutcome,
    EtcdResult, KeyRange, PutRequest, RangeRequest, RangeResponse, RequestOp, ResponseOp,
    SortOrder, SortTarget, TxnRequest,
};
use raftkv::state::{
    encode, read_snapshot, write_snapshot, ApplyResult, Command, KeyValue, Request, StateConfig,
    StateMachine,
};

struct Driver {
    sm: StateMachine,
}

impl Driver {
    fn new() -> Self {
        Driver {
            sm: StateMachine::new(StateConfig::default()).expect("valid config"),
        }
    }

    fn run(&mut self, command: Command) -> ApplyResult {
        let index = self.sm.applied_index() + 1;
        let request = Request::new(command).stamped(1_000);
        self.sm.apply(index, 1, &Payload::Command(encode(&request)))
    }

    fn etcd(&mut self, command: EtcdCommand) -> EtcdResult {
        match self.run(Command::Etcd(command)) {
            ApplyResult::Etcd(r) => r,
            other => panic!("not an etcd result: {other:?}"),
        }
    }

    fn put(&mut self, key: &str, value: &str) -> u64 {
        let r = self.etcd(EtcdCommand::Put(put(key, value)));
        assert!(r.outcome.is_ok(), "{r:?}");
        r.revision
    }

    fn range(&mut self, request: RangeRequest) -> Result<Vec<(String, String)>, EtcdError> {
        // Reads through the log and without it must agree.
        let local = self.sm.etcd_read(&EtcdCommand::Range(request.clone()));
        let logged = self.etcd(EtcdCommand::Range(request));
        assert_eq!(local.as_ref(), Some(&logged));
        match logged.outcome? {
            EtcdOutcome::Range(r) => Ok(r
                .kvs
                .into_iter()
                .map(|kv| (kv.key, String::from_utf8(kv.value.to_vec()).unwrap()))
                .collect()),
            other => panic!("not a range: {other:?}"),
        }
    }

    /// A range's whole answer (count, more and the keys' metadata), read without the log.
    fn full_range(&self, request: RangeRequest) -> RangeResponse {
        match self.sm.etcd_read(&EtcdCommand::Range(request)) {
            Some(EtcdResult {
                outcome: Ok(EtcdOutcome::Range(r)),
                ..
            }) => r,
            other => panic!("not a range: {other:?}"),
        }
    }

    fn kv(&mut self, key: &str) -> Option<KeyValue> {
        let r = self
            .sm
            .etcd_read(&EtcdCommand::Range(range(key, "")))
            .unwrap();
        match r.outcome {
            Ok(EtcdOutcome::Range(mut r)) => r.kvs.pop(),
            other => panic!("{other:?}"),
        }
    }
}

fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: Bytes::copy_from_slice(value.as_bytes()),
        ..PutRequest::default()
    }
}

fn range(key: &str, end: &str) -> RangeRequest {
    RangeRequest {
        range: KeyRange {
            key: key.into(),
            range_end: Bytes::copy_from_slice(end.as_bytes()),
        },
        ..RangeRequest::default()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn revisions_count_writes_and_keys_carry_create_mod_and_version() {
    let mut d = Driver::new();
    assert_eq!(
        d.sm.revision(),
        1,
        "an empty store is at revision 1, as etcd's"
    );
    assert_eq!(d.put("a", "1"), 2);
    assert_eq!(d.put("a", "2"), 3);
    // A read, a no-op and a delete of nothing take no revision.
    d.range(range("a", "")).unwrap();
    d.sm.apply(d.sm.applied_index() + 1, 1, &Payload::Noop);
    let none = d.etcd(EtcdCommand::DeleteRange(DeleteRangeRequest {
        range: KeyRange::single("zz"),
        prev_kv: false,
    }));
    assert_eq!(none.revision, 3);
    assert_eq!(d.put("b", "x"), 4);
    let a = d.kv("a").unwrap();
    assert_eq!((a.create_revision, a.mod_revision, a.version), (2, 3, 2));
    // Deleted and created again: a new life starts at version 1.
    let del = d.etcd(EtcdCommand::DeleteRange(DeleteRangeRequest {
        range: KeyRange::single("a"),
        prev_kv: true,
    }));
    assert_eq!(del.revision, 5);
    let Ok(EtcdOutcome::DeleteRange(del)) = del.outcome else {
        panic!()
    };
    assert_eq!((del.deleted, del.prev_kvs[0].mod_revision), (1, 3));
    d.put("a", "3");
    let a = d.kv("a").unwrap();
    assert_eq!((a.create_revision, a.mod_revision, a.version), (6, 6, 1));
    // raftkv's own API writes the same keys: its version is the mod revision.
    assert_eq!(
        d.run(Command::KvPut {
            key: "a".into(),
            value: Bytes::from_static(b"4"),
        }),
        ApplyResult::Stored { version: 7 }
    );
    assert_eq!(d.kv("a").unwrap().version, 2);
}

#[test]
fn older_revisions_read_as_they_were_until_compacted() {
    let mut d = Driver::new();
    d.put("k1", "a"); // 2
    d.put("k2", "b"); // 3
    d.put("k1", "c"); // 4
    d.etcd(EtcdCommand::DeleteRange(DeleteRangeRequest {
        range: KeyRange::single("k2"),
        prev_kv: false,
    })); // 5
    d.put("k3", "d"); // 6
    let at = |d: &mut Driver, rev| {
        d.range(RangeRequest {
            revision: rev,
            ..range("k", "l")
        })
    };
    assert_eq!(at(&mut d, 1).unwrap(), pairs(&[]));
    assert_eq!(at(&mut d, 2).unwrap(), pairs(&[("k1", "a")]));
    assert_eq!(at(&mut d, 3).unwrap(), pairs(&[("k1", "a"), ("k2", "b")]));
    assert_eq!(at(&mut d, 4).unwrap(), pairs(&[("k1", "c"), ("k2", "b")]));
    assert_eq!(at(&mut d, 5).unwrap(), pairs(&[("k1", "c")]));
    assert_eq!(at(&mut d, 0).unwrap(), pairs(&[("k1", "c"), ("k3", "d")]));
    assert_eq!(at(&mut d, 7), Err(EtcdError::FutureRevision));

    let compact = |d: &mut Driver, revision| d.etcd(EtcdCommand::Compact { revision }).outcome;
    assert_eq!(compact(&mut d, 9), Err(EtcdError::FutureRevision));
    assert_eq!(compact(&mut d, 4), Ok(EtcdOutcome::Compacted));
    assert_eq!(d.sm.compact_revision(), 4);
    assert_eq!(at(&mut d, 3), Err(EtcdError::Compacted));
    assert_eq!(at(&mut d, 4).unwrap(), pairs(&[("k1", "c"), ("k2", "b")]));
    assert_eq!(compact(&mut d, 4), Err(EtcdError::Compacted));
    // Only the revisions from the compaction point on are kept.
    let mut kept = Vec::new();
    d.sm.for_each_event_after(0, |rev, _| {
        kept.push(rev);
        true
    });
    assert_eq!(kept, [4, 5, 6]);
}

#[test]
fn ranges_prefixes_limits_sorts_and_filters() {
    let mut d = Driver::new();
    for (k, v) in [
        ("foo", "1"),
        ("foo/a", "2"),
        ("foo/b", "3"),
        ("fop", "4"),
        ("g", "5"),
    ] {
        d.put(k, v);
    }
    d.put("foo/a", "2b");
    // A prefix is [prefix, prefix with its last byte + 1).
    assert_eq!(
        d.range(range("foo/", "foo0")).unwrap(),
        pairs(&[("foo/a", "2b"), ("foo/b", "3")])
    );
    // range_end "\0": every key from `key` on.
    assert_eq!(d.range(range("fop", "\0")).unwrap().len(), 2);
    let r = d.full_range(RangeRequest {
        limit: 2,
        keys_only: true,
        ..range("a", "z")
    });
    assert_eq!((r.kvs.len(), r.more, r.count), (2, true, 5));
    assert!(r.kvs.iter().all(|kv| kv.value.is_empty()));
    // Sorted by mod revision, newest first; a target alone sorts ascending.
    let by_mod = d
        .range(RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Mod,
            ..range("a", "z")
        })
        .unwrap();
    assert_eq!(by_mod[0].0, "foo/a");
    let by_value = d
        .range(RangeRequest {
            sort_target: SortTarget::Value,
            ..range("a", "z")
        })
        .unwrap();
    assert_eq!(by_value.last().unwrap().1, "5");
    // Filters keep the count of the whole range.
    let r = d.full_range(RangeRequest {
        min_mod_revision: 6,
        ..range("a", "z")
    });
    let keys: Vec<&str> = r.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!((keys, r.count), (vec!["foo/a", "g"], 5));
}

fn cmp(key: &str, result: CompareResult, target: CompareTarget) -> Compare {
    Compare {
        result,
        target,
        range: KeyRange::single(key),
    }
}

#[test]
fn a_transaction_runs_one_branch_in_one_revision() {
    let mut d = Driver::new();
    // Create-if-absent: version 0 means the key does not exist.
    let create = |value: &str| TxnRequest {
        compare: vec![cmp("lock", CompareResult::Equal, CompareTarget::Version(0))],
        success: vec![
            RequestOp::Put(put("lock", value)),
            RequestOp::Put(put("owner", value)),
            RequestOp::Range(range("lock", "")),
        ],
        failure: vec![RequestOp::Range(range("lock", ""))],
    };
    let first = d.etcd(EtcdCommand::Txn(create("me")));
    assert_eq!(first.revision, 2, "two puts, one revision");
    let Ok(EtcdOutcome::Txn(t)) = first.outcome else {
        panic!()
    };
    assert!(t.succeeded);
    let ResponseOp::Range(seen) = &t.responses[2] else {
        panic!()
    };
    assert_eq!(seen.kvs[0].value, "me", "a read in a txn sees its writes");
    let second = d.etcd(EtcdCommand::Txn(create("you")));
    assert_eq!(second.revision, 2, "the failure branch only reads");
    let Ok(EtcdOutcome::Txn(t)) = second.outcome else {
        panic!()
    };
    assert!(!t.succeeded);
    assert!(!EtcdCommand::Txn(create("x")).is_read());

    // Value and mod-revision compares; a missing key fails every value compare.
    let holds = |d: &mut Driver, c: Compare| {
        let r = d.etcd(EtcdCommand::Txn(TxnRequest {
            compare: vec![c],
            ..TxnRequest::default()
        }));
        matches!(r.outcome, Ok(EtcdOutcome::Txn(t)) if t.succeeded)
    };
    let v = |s: &str| CompareTarget::Value(Bytes::copy_from_slice(s.as_bytes()));
    assert!(holds(&mut d, cmp("lock", CompareResult::Equal, v("me"))));
    assert!(holds(&mut d, cmp("lock", CompareResult::Greater, v("ma"))));
    assert!(!holds(&mut d, cmp("nope", CompareResult::NotEqual, v("x"))));
    assert!(holds(
        &mut d,
        cmp("lock", CompareResult::Equal, CompareTarget::Mod(2))
    ));
    assert!(holds(
        &mut d,
        cmp("lock", CompareResult::Less, CompareTarget::Create(3))
    ));

    // Two puts of one key in a branch are refused before anything is written.
    let dup = d.etcd(EtcdCommand::Txn(TxnRequest {
        success: vec![RequestOp::Put(put("x", "1")), RequestOp::Put(put("x", "2"))],
        ..TxnRequest::default()
    }));
    assert_eq!(dup.outcome, Err(EtcdError::DuplicateKey));
    assert_eq!(dup.revision, 2);
}

/// A nested transaction that fails after its branch's earlier puts ran leaves nothing behind:
/// no key, no revision, no event.
#[test]
fn a_failing_nested_transaction_undoes_the_whole_transaction() {
    let mut d = Driver::new();
    let before = d.put("a", "old");
    let nested = TxnRequest {
        success: vec![RequestOp::Put(PutRequest {
            lease: 999,
            ..put("b", "on a lease that does not exist")
        })],
        ..TxnRequest::default()
    };
    let failing = d.etcd(EtcdCommand::Txn(TxnRequest {
        success: vec![RequestOp::Put(put("a", "new")), RequestOp::Txn(nested)],
        ..TxnRequest::default()
    }));
    assert_eq!(failing.outcome, Err(EtcdError::LeaseNotFound));
    assert_eq!(failing.revision, before);
    assert_eq!(d.kv("a").unwrap().value, "old");
    let mut events = 0;
    d.sm.for_each_event_after(before, |_, list| {
        events += list.len();
        true
    });
    assert_eq!(events, 0);
}

#[test]
fn leases_hold_keys_and_revoking_deletes_them_in_one_revision() {
    let mut d = Driver::new();
    let grant = d.etcd(EtcdCommand::LeaseGrant { id: 0, ttl: 60 });
    let Ok(EtcdOutcome::LeaseGranted { id, ttl: 60 }) = grant.outcome else {
        panic!("{grant:?}")
    };
    assert!(id > 0);
    assert_eq!(
        d.etcd(EtcdCommand::LeaseGrant { id, ttl: 5 }).outcome,
        Err(EtcdError::LeaseExists)
    );
    let on_lease = |key: &str, lease| {
        EtcdCommand::Put(PutRequest {
            lease,
            ..put(key, "v")
        })
    };
    assert_eq!(
        d.etcd(on_lease("k", 12345)).outcome,
        Err(EtcdError::LeaseNotFound)
    );
    d.etcd(on_lease("a", id));
    d.etcd(on_lease("b", id));
    d.put("c", "free");
    assert_eq!(d.kv("a").unwrap().lease, id);
    let info = d.sm.etcd_read(&EtcdCommand::LeaseInfo { id }).unwrap();
    let Ok(EtcdOutcome::Lease(Some(info))) = info.outcome else {
        panic!()
    };
    assert_eq!(
        (info.granted_ttl, info.keys),
        (60, vec!["a".to_string(), "b".into()])
    );
    // ignore_lease keeps the lease; a plain put detaches the key.
    d.etcd(EtcdCommand::Put(PutRequest {
        ignore_lease: true,
        ..put("a", "w")
    }));
    assert_eq!(d.kv("a").unwrap().lease, id);
    d.put("b", "detached");
    let revoke = d.etcd(EtcdCommand::LeaseRevoke { id });
    assert_eq!(revoke.outcome, Ok(EtcdOutcome::LeaseRevoked));
    assert!(d.kv("a").is_none());
    assert_eq!(d.kv("b").unwrap().value, "detached");
    let mut last = Vec::new();
    d.sm.for_each_event_after(revoke.revision - 1, |_, events| {
        last.extend(events.iter().map(|e| e.kv.key.clone()));
        true
    });
    assert_eq!(last, ["a"]);
    assert_eq!(
        d.etcd(EtcdCommand::LeaseRevoke { id }).outcome,
        Err(EtcdError::LeaseNotFound)
    );
}

#[test]
fn revisions_history_and_leases_survive_a_snapshot() {
    let mut d = Driver::new();
    let grant = d.etcd(EtcdCommand::LeaseGrant { id: 77, ttl: 30 });
    assert!(grant.outcome.is_ok());
    for i in 0..20 {
        d.put(&format!("k{}", i % 4), &format!("v{i}"));
    }
    d.etcd(EtcdCommand::Put(PutRequest {
        lease: 77,
        ..put("leased", "x")
    }));
    d.etcd(EtcdCommand::Compact { revision: 10 });
    let membership = MembershipEntry {
        membership: Membership::new(vec![1, 2, 3], vec![]),
        context: Bytes::new(),
    };
    let mut bytes = Vec::new();
    write_snapshot(&d.sm, &membership, &mut bytes).expect("write");
    let (restored, _) = read_snapshot(&bytes[..], StateConfig::default()).expect("read");
    assert_eq!(restored.revision(), d.sm.revision());
    assert_eq!(restored.compact_revision(), 10);
    assert_eq!(restored.leases().collect::<Vec<_>>(), vec![(77, 30)]);
    for rev in [10, 15, 22] {
        let read = EtcdCommand::Range(RangeRequest {
            revision: rev,
            ..range("a", "z")
        });
        assert_eq!(restored.etcd_read(&read), d.sm.etcd_read(&read), "at {rev}");
    }
    // Both go on identically: the restored one revokes the same keys at the same revision.
    let mut restored = Driver { sm: restored };
    assert_eq!(
        restored.etcd(EtcdCommand::LeaseRevoke { id: 77 }),
        d.etcd(EtcdCommand::LeaseRevoke { id: 77 })
    );
    assert_eq!(restored.sm.to_json(), d.sm.to_json());
}
