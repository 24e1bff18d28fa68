//! The state machine's results for every command, its sessions and its JSON.

use bytes::Bytes;
use raftkv::raft::Payload;
use raftkv::state::{
    encode, ApplyResult, Command, KvValue, Request, StackError, StateConfig, StateConfigError,
    StateMachine, Student,
};

/// Feeds requests to a state machine as consecutive entries of term 1.
struct Driver {
    sm: StateMachine,
}

impl Driver {
    fn new() -> Self {
        Self::with_sessions(100)
    }

    fn with_sessions(max_sessions: usize) -> Self {
        let sm = StateMachine::new(StateConfig { max_sessions }).expect("valid config");
        Driver { sm }
    }

    fn payload(&mut self, payload: Payload) -> ApplyResult {
        let index = self.sm.applied_index() + 1;
        self.sm.apply(index, 1, &payload)
    }

    fn request(&mut self, request: Request) -> ApplyResult {
        self.payload(Payload::Command(encode(&request)))
    }

    fn run(&mut self, command: Command) -> ApplyResult {
        self.request(Request::new(command))
    }

    fn session(&mut self, client_id: u64, seq: u64, command: Command) -> ApplyResult {
        self.request(Request::with_session(client_id, seq, command))
    }
}

fn ada() -> Command {
    Command::StudentPut {
        roll_no: 7,
        name: "Ada".into(),
        address: "1 Main St".into(),
        phone: "555".into(),
    }
}

#[test]
fn students_put_get_replace_delete() {
    let mut d = Driver::new();
    assert_eq!(
        d.run(Command::StudentGet { roll_no: 7 }),
        ApplyResult::Student(None)
    );
    assert_eq!(d.run(ada()), ApplyResult::Written);
    let expected = Student {
        roll_no: 7,
        name: "Ada".into(),
        address: "1 Main St".into(),
        phone: "555".into(),
    };
    assert_eq!(
        d.run(Command::StudentGet { roll_no: 7 }),
        ApplyResult::Student(Some(expected.clone()))
    );
    assert_eq!(d.sm.get_student(7), Some(&expected));
    let replacement = Command::StudentPut {
        roll_no: 7,
        name: "Ada L.".into(),
        address: "2 Side St".into(),
        phone: "556".into(),
    };
    assert_eq!(d.run(replacement), ApplyResult::Written);
    assert_eq!(d.sm.get_student(7).map(|s| s.name.as_str()), Some("Ada L."));
    assert_eq!(
        d.run(Command::StudentDelete { roll_no: 7 }),
        ApplyResult::Deleted(true)
    );
    assert_eq!(
        d.run(Command::StudentDelete { roll_no: 7 }),
        ApplyResult::Deleted(false)
    );
    assert_eq!(d.sm.get_student(7), None);
}

#[test]
fn students_are_listed_by_roll_number() {
    let mut d = Driver::new();
    for roll_no in [30, 4, 17] {
        let name = format!("s{roll_no}");
        d.run(Command::StudentPut {
            roll_no,
            name,
            address: String::new(),
            phone: String::new(),
        });
    }
    let rolls: Vec<u64> = d.sm.list_students().map(|s| s.roll_no).collect();
    assert_eq!(rolls, vec![4, 17, 30]);
}

/// A key's version is the revision of its last write, etcd's `mod_revision`: one revision per write,
/// starting at 2, whatever other entries (no-ops, reads) sit between the writes in the log.
#[test]
fn kv_versions_are_the_revision_of_the_last_write() {
    let mut d = Driver::new();
    let get = || Command::KvGet { key: "k".into() };
    assert_eq!(d.run(get()), ApplyResult::Value(None));
    let put = |v: &'static [u8]| Command::KvPut {
        key: "k".into(),
        value: Bytes::from_static(v),
    };
    assert_eq!(d.run(put(b"one")), ApplyResult::Stored { version: 2 });
    d.payload(Payload::Noop);
    assert_eq!(d.run(put(b"two")), ApplyResult::Stored { version: 3 });
    let two = KvValue {
        value: Bytes::from_static(b"two"),
        version: 3,
    };
    assert_eq!(d.run(get()), ApplyResult::Value(Some(two.clone())));
    assert_eq!(d.sm.kv_get("k"), Some(&two));
    assert_eq!(
        d.run(Command::KvDelete { key: "k".into() }),
        ApplyResult::Deleted(true)
    );
    assert_eq!(
        d.run(Command::KvDelete { key: "k".into() }),
        ApplyResult::Deleted(false)
    );
    assert_eq!(d.sm.kv_get("k"), None);
}

#[test]
fn kv_put_with_an_empty_key_is_a_bad_command() {
    let mut d = Driver::new();
    let put = Command::KvPut {
        key: String::new(),
        value: Bytes::new(),
    };
    assert!(matches!(d.run(put), ApplyResult::BadCommand(_)));
    assert_eq!(d.sm.kv_get(""), None);
}

#[test]
fn stacks_create_push_pop_top_size() {
    let mut d = Driver::new();
    assert_eq!(
        d.run(Command::StackCreate { label: 1 }),
        ApplyResult::StackId(1)
    );
    assert_eq!(
        d.run(Command::StackCreate { label: -8 }),
        ApplyResult::StackId(2)
    );
    // An existing label gives back its stack.
    assert_eq!(
        d.run(Command::StackCreate { label: 1 }),
        ApplyResult::StackId(1)
    );
    assert_eq!(
        d.run(Command::StackId { label: -8 }),
        ApplyResult::StackId(2)
    );
    let push = |item| Command::StackPush { stack_id: 1, item };
    assert_eq!(d.run(push(10)), ApplyResult::Size(1));
    assert_eq!(d.run(push(-20)), ApplyResult::Size(2));
    assert_eq!(
        d.run(Command::StackSize { stack_id: 1 }),
        ApplyResult::Size(2)
    );
    assert_eq!(
        d.run(Command::StackTop { stack_id: 1 }),
        ApplyResult::Item(-20)
    );
    assert_eq!(d.sm.stack_top(1), Ok(-20));
    assert_eq!(
        d.run(Command::StackPop { stack_id: 1 }),
        ApplyResult::Item(-20)
    );
    assert_eq!(
        d.run(Command::StackPop { stack_id: 1 }),
        ApplyResult::Item(10)
    );
    assert_eq!(d.sm.stack_size(1), Ok(0));
    assert_eq!(d.sm.stack_id(1), Ok(1));
}

#[test]
fn stack_errors_empty_unknown_id_unknown_label() {
    let mut d = Driver::new();
    d.run(Command::StackCreate { label: 5 });
    assert_eq!(
        d.run(Command::StackPop { stack_id: 1 }),
        ApplyResult::StackEmpty
    );
    assert_eq!(
        d.run(Command::StackTop { stack_id: 1 }),
        ApplyResult::StackEmpty
    );
    for command in [
        Command::StackPush {
            stack_id: 9,
            item: 1,
        },
        Command::StackPop { stack_id: 9 },
        Command::StackTop { stack_id: 9 },
        Command::StackSize { stack_id: 9 },
        Command::StackId { label: 6 },
    ] {
        assert_eq!(d.run(command.clone()), ApplyResult::NotFound, "{command:?}");
    }
    assert_eq!(d.sm.stack_top(1), Err(StackError::Empty));
    assert_eq!(d.sm.stack_size(9), Err(StackError::NotFound));
    assert_eq!(d.sm.stack_id(6), Err(StackError::NotFound));
    assert!(ApplyResult::StackEmpty.is_error() && ApplyResult::NotFound.is_error());
    assert!(!ApplyResult::Size(0).is_error());
}

#[test]
fn noops_advance_the_applied_index() {
    let mut d = Driver::new();
    assert_eq!(d.payload(Payload::Noop), ApplyResult::Noop);
    assert_eq!(d.payload(Payload::Noop), ApplyResult::Noop);
    assert_eq!(d.sm.applied_index(), 2);
    assert_eq!(d.sm.to_json()["applied_index"], 2);
}

#[test]
fn an_undecodable_payload_applies_as_a_bad_command() {
    let mut d = Driver::new();
    let result = d.payload(Payload::Command(Bytes::from_static(
        b"\x92\xc1 not msgpack",
    )));
    assert!(
        matches!(&result, ApplyResult::BadCommand(why) if why.contains("undecodable")),
        "{result:?}"
    );
    assert_eq!(d.sm.applied_index(), 1);
    assert_eq!(
        d.run(Command::StackCreate { label: 1 }),
        ApplyResult::StackId(1)
    );
}

#[test]
fn reads_answer_locally_and_writes_do_not() {
    let mut d = Driver::new();
    d.run(Command::StackCreate { label: 3 });
    assert_eq!(
        d.sm.read(&Command::StackId { label: 3 }),
        Some(ApplyResult::StackId(1))
    );
    assert_eq!(d.sm.read(&Command::StackPop { stack_id: 1 }), None);
    assert_eq!(d.sm.applied_index(), 1, "a local read applies nothing");
}

#[test]
fn read_answers_exactly_the_commands_that_are_reads() {
    let d = Driver::new();
    let all = [
        ada(),
        Command::StudentDelete { roll_no: 1 },
        Command::StudentGet { roll_no: 1 },
        Command::KvPut {
            key: "k".into(),
            value: Bytes::new(),
        },
        Command::KvDelete { key: "k".into() },
        Command::KvGet { key: "k".into() },
        Command::StackCreate { label: 1 },
        Command::StackId { label: 1 },
        Command::StackPush {
            stack_id: 1,
            item: 1,
        },
        Command::StackPop { stack_id: 1 },
        Command::StackTop { stack_id: 1 },
        Command::StackSize { stack_id: 1 },
    ];
    for command in all {
        assert_eq!(
            d.sm.read(&command).is_some(),
            command.is_read(),
            "{command:?}"
        );
    }
}

#[test]
#[should_panic(expected = "without gaps")]
fn a_gap_in_indexes_is_a_bug() {
    let mut d = Driver::new();
    d.sm.apply(2, 1, &Payload::Noop);
}

#[test]
#[should_panic(expected = "without gaps")]
fn applying_an_index_twice_is_a_bug() {
    let mut d = Driver::new();
    d.sm.apply(1, 1, &Payload::Noop);
    d.sm.apply(1, 1, &Payload::Noop);
}

#[test]
fn a_retried_request_returns_the_cached_result_without_applying_again() {
    let mut d = Driver::new();
    d.run(Command::StackCreate { label: 1 });
    d.run(Command::StackPush {
        stack_id: 1,
        item: 10,
    });
    d.run(Command::StackPush {
        stack_id: 1,
        item: 20,
    });
    let pop = || Command::StackPop { stack_id: 1 };
    assert_eq!(d.session(42, 1, pop()), ApplyResult::Item(20));
    // The client did not hear back and retried: same answer, and 10 is still on the stack.
    assert_eq!(d.session(42, 1, pop()), ApplyResult::Item(20));
    assert_eq!(d.sm.stack_size(1), Ok(1));
    assert_eq!(d.session(42, 2, pop()), ApplyResult::Item(10));
    // Errors are cached too: a retry of a failed pop must not pop something pushed meanwhile.
    assert_eq!(d.session(42, 3, pop()), ApplyResult::StackEmpty);
    d.run(Command::StackPush {
        stack_id: 1,
        item: 30,
    });
    assert_eq!(d.session(42, 3, pop()), ApplyResult::StackEmpty);
    assert_eq!(d.sm.stack_size(1), Ok(1));
}

#[test]
fn an_older_seq_is_stale_and_changes_nothing() {
    let mut d = Driver::new();
    let put = |v: &'static [u8]| Command::KvPut {
        key: "k".into(),
        value: Bytes::from_static(v),
    };
    assert_eq!(
        d.session(1, 5, put(b"new")),
        ApplyResult::Stored { version: 2 }
    );
    assert_eq!(d.session(1, 4, put(b"old")), ApplyResult::StaleSession);
    assert!(ApplyResult::StaleSession.is_error());
    assert_eq!(
        d.sm.kv_get("k").map(|v| v.value.clone()),
        Some(Bytes::from_static(b"new"))
    );
    // Another client's numbering is its own.
    assert_eq!(
        d.session(2, 1, put(b"two")),
        ApplyResult::Stored { version: 3 }
    );
}

#[test]
fn a_full_session_table_evicts_the_least_recently_applied_client() {
    let mut d = Driver::with_sessions(2);
    d.run(Command::StackCreate { label: 1 });
    let push = |item| Command::StackPush { stack_id: 1, item };
    d.session(1, 1, push(1)); // index 2
    d.session(2, 1, push(2)); // index 3
    d.session(1, 2, push(3)); // index 4: client 1 is now more recent than client 2
    d.session(3, 1, push(4)); // index 5: evicts client 2
    assert_eq!(d.sm.session_count(), 2);
    let clients: Vec<u64> = d.sm.to_json()["sessions"]
        .as_array()
        .expect("sessions is an array")
        .iter()
        .map(|s| s["client_id"].as_u64().expect("client id"))
        .collect();
    assert_eq!(clients, vec![1, 3]);
    // Client 2's retry is no longer recognised: it applies again (the documented cost of the bound).
    assert_eq!(d.session(2, 1, push(2)), ApplyResult::Size(5));
    assert_eq!(d.sm.stack_size(1), Ok(5));
    // That evicted client 1 (index 4), not client 3 (index 5): 3's retry is still deduplicated,
    // 1's is applied again.
    assert_eq!(d.session(3, 1, push(4)), ApplyResult::Size(4));
    assert_eq!(d.sm.stack_size(1), Ok(5));
    assert_eq!(d.session(1, 2, push(3)), ApplyResult::Size(6));
    assert_eq!(d.sm.stack_size(1), Ok(6));
}

#[test]
fn reads_may_carry_a_session() {
    let mut d = Driver::new();
    d.run(Command::StackCreate { label: 1 });
    assert_eq!(
        d.session(9, 1, Command::StackSize { stack_id: 1 }),
        ApplyResult::Size(0)
    );
    d.run(Command::StackPush {
        stack_id: 1,
        item: 1,
    });
    // A retried read returns what the read saw when it was applied.
    assert_eq!(
        d.session(9, 1, Command::StackSize { stack_id: 1 }),
        ApplyResult::Size(0)
    );
    assert_eq!(
        d.session(9, 2, Command::StackSize { stack_id: 1 }),
        ApplyResult::Size(1)
    );
}

#[test]
fn json_shows_every_part_of_the_state() {
    let mut d = Driver::new();
    d.run(ada());
    d.run(Command::KvPut {
        key: "text".into(),
        value: Bytes::from_static(b"hello"),
    });
    d.run(Command::KvPut {
        key: "bin".into(),
        value: Bytes::from_static(b"\xff\x00"),
    });
    d.run(Command::StackCreate { label: 4 });
    d.session(
        11,
        1,
        Command::StackPush {
            stack_id: 1,
            item: 8,
        },
    );
    let json = d.sm.to_json();
    assert_eq!(json["applied_index"], 5);
    assert_eq!(json["applied_term"], 1);
    assert_eq!(json["students"][0]["name"], "Ada");
    assert_eq!(json["kv"]["text"]["value"], "hello");
    assert_eq!(json["kv"]["text"]["version"], 2);
    assert_eq!(json["kv"]["bin"]["value_hex"], "ff00");
    assert_eq!(json["stacks"][0]["label"], 4);
    assert_eq!(json["stacks"][0]["items"][0], 8);
    assert_eq!(json["sessions"][0]["client_id"], 11);
    assert_eq!(json["sessions"][0]["last_index"], 5);
    assert_eq!(json["sessions"][0]["result"], "size=1");
}

#[test]
fn zero_sessions_is_rejected_at_construction() {
    let err = StateMachine::new(StateConfig { max_sessions: 0 }).unwrap_err();
    assert_eq!(err, StateConfigError::NoSessions);
}
