//! The memcached-style text protocol over real TCP against real node processes: every command's
//! answers and errors, redirects from a follower, pipelining, values holding `\r\n`, byte counts
//! that lie, oversized values, and a CAS race.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::support;
use crate::support::text::{version_of, TextClient};
use crate::support::Cluster;

fn text_port(c: &Cluster, id: u64) -> u16 {
    c.ports[id as usize - 1].2
}

#[test]
fn each_command_answers_and_fails_as_specified() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    let mut t = TextClient::connect(text_port(&c, leader));

    let v1 = t.set("k", 0, b"hello");
    assert_eq!(t.call(b"get k\r\n"), "VALUE 5\r\nhello");
    assert_eq!(t.call(b"getm k\r\n"), format!("VALUE {v1} 0 5\r\nhello"));
    let v2 = version_of(&t.call(format!("cas k 0 {v1} 3\r\nnew\r\n").as_bytes()));
    assert!(v2 > v1);
    assert_eq!(
        t.call(format!("cas k 0 {v1} 1\r\nx\r\n").as_bytes()),
        "ERR_VERSION"
    );
    assert_eq!(t.call(b"cas nokey 0 1 1\r\nx\r\n"), "ERR_NOT_FOUND");
    assert_eq!(t.call(b"get k\r\n"), "VALUE 3\r\nnew");
    assert_eq!(t.call(b"delete k\r\n"), "DELETED");
    assert_eq!(t.call(b"delete k\r\n"), "ERR_NOT_FOUND");
    assert_eq!(t.call(b"get k\r\n"), "ERR_NOT_FOUND");
    assert_eq!(t.call(b"getm k\r\n"), "ERR_NOT_FOUND");

    // An expiry shows as the seconds remaining.
    let v = t.set("t", 100, b"x");
    assert_eq!(t.call(b"getm t\r\n"), format!("VALUE {v} 100 1\r\nx"));

    // A value holding \r\n comes back byte for byte.
    t.set("crlf", 0, b"a\r\nb\r\n");
    assert_eq!(t.call(b"get crlf\r\n"), "VALUE 6\r\na\r\nb\r\n");

    // Malformed commands; the connection stays usable after each.
    let long_key = "k".repeat(251);
    for bad in [
        "bogus\r\n".to_string(),
        "get\r\n".to_string(),
        "set k -1 1\r\nx\r\n".to_string(),
        format!("get {long_key}\r\n"),
        format!("set {long_key} 0 1\r\nx\r\n"),
    ] {
        assert_eq!(t.call(bad.as_bytes()), "ERR_CMD_ERR", "{bad:?}");
    }
    let key_250 = "k".repeat(250);
    t.set(&key_250, 0, b"ok");

    // A byte count that lies: too short, then too long (the value swallows the next command).
    assert_eq!(t.call(b"set k 0 3\r\nhello\r\n"), "ERR_CMD_ERR");
    t.send(b"set k 0 5\r\nhi\r\nget crlf\r\nget k\r\n");
    assert_eq!(t.answer(), b"ERR_CMD_ERR");
    assert_eq!(t.answer(), b"ERR_NOT_FOUND", "nothing was stored under k");

    // A value over max_value_bytes (65536 in the harness) is refused and skipped.
    let mut big = b"set big 0 70000\r\n".to_vec();
    big.extend_from_slice(&[b'\n'; 70_000]);
    big.extend_from_slice(b"\r\nget big\r\n");
    t.send(&big);
    assert_eq!(t.answer(), b"ERR_CMD_ERR");
    assert_eq!(t.answer(), b"ERR_NOT_FOUND");

    // Pipelined: one write, answers in order; noreply silences its command only.
    t.send(b"set p 0 1\r\na\r\nget p\r\nset p 0 1 noreply\r\nb\r\nget p\r\ndelete p\r\nget p\r\n");
    let first = t.line();
    version_of(&first);
    assert_eq!(t.answer(), b"VALUE 1\r\na");
    assert_eq!(t.answer(), b"VALUE 1\r\nb");
    assert_eq!(t.answer(), b"DELETED");
    assert_eq!(t.answer(), b"ERR_NOT_FOUND");

    // A follower redirects writes to the leader's text address and serves reads itself.
    let mut f = TextClient::connect(text_port(&c, follower));
    assert_eq!(
        f.call(b"set x 0 1\r\nx\r\n"),
        format!("ERR_REDIRECT 127.0.0.1 {}", text_port(&c, leader))
    );
    assert_eq!(
        f.call(b"delete crlf\r\n"),
        format!("ERR_REDIRECT 127.0.0.1 {}", text_port(&c, leader))
    );
    assert_eq!(f.call(b"get crlf\r\n"), "VALUE 6\r\na\r\nb\r\n");
    // A client that vanishes mid-value does not disturb the others.
    let mut quitter = TextClient::connect(text_port(&c, leader));
    quitter.send(b"set q 0 100\r\nonly part");
    drop(quitter);
    assert_eq!(t.call(b"get q\r\n"), "ERR_NOT_FOUND");
}

#[test]
fn of_two_clients_racing_a_cas_exactly_one_wins() {
    let c = Cluster::start(3);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let port = text_port(&c, leader);
    let mut setup = TextClient::connect(port);
    let mut version = setup.set("reg", 0, b"0");
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|who| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let mut t = TextClient::connect(port);
                    let value = format!("{round}-{who}");
                    let command = format!("cas reg 0 {version} {}\r\n{value}\r\n", value.len());
                    barrier.wait();
                    (t.call(command.as_bytes()), value)
                })
            })
            .collect();
        let answers: Vec<(String, String)> =
            racers.into_iter().map(|r| r.join().unwrap()).collect();
        let winners: Vec<&(String, String)> = answers
            .iter()
            .filter(|(a, _)| a.starts_with("OK "))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        let losers = answers.iter().filter(|(a, _)| a == "ERR_VERSION").count();
        assert_eq!(losers, 1, "round {round}: {answers:?}");
        version = version_of(&winners[0].0);
        let stored = setup.call(b"get reg\r\n");
        assert_eq!(
            stored,
            format!("VALUE {}\r\n{}", winners[0].1.len(), winners[0].1)
        );
    }
}

#[test]
fn without_a_majority_commands_answer_err_internal() {
    let mut c = Cluster::configure(3, "");
    c.start_node(1);
    support::wait_for("node 1 to answer", Duration::from_secs(10), || c.status(1));
    let mut t = TextClient::connect(text_port(&c, 1));
    assert_eq!(t.call(b"set k 0 1\r\nx\r\n"), "ERR_INTERNAL");
    assert_eq!(t.call(b"get k\r\n"), "ERR_INTERNAL");
    assert_eq!(t.call(b"bogus\r\n"), "ERR_CMD_ERR");
}
