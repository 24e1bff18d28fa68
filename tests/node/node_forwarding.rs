//! Followers forward what only the leader can serve (issue 17): a write sent to a follower through
//! a plain TCP proxy, which cannot follow a redirect, succeeds; exactly-once sessions survive the
//! hop; a request already forwarded once is not forwarded again; a follower whose leader is gone
//! answers 503 at once; and `follower_requests = "redirect"` keeps the 307.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{wait_for, Cluster};

const BOUND: Duration = Duration::from_secs(10);

/// A proxy that copies bytes both ways between its clients and one node: it knows nothing of
/// HTTP, so a redirect reaches the client as it was sent, and its target is all the client sees.
struct TcpProxy {
    addr: String,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TcpProxy {
    fn to(target: String) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        TcpProxy {
            addr,
            stop,
            acceptor: Some(acceptor),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Copies `from` into `to` on a thread of its own until `from` ends, then ends `to`'s writing.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (mut from, mut to) = (
        from.try_clone().expect("clone stream"),
        to.try_clone().expect("clone stream"),
    );
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// An answer with the headers the tests look at.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// A plain HTTP client: follows no redirect, reports every status.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(BOUND))
        .build()
        .into()
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Answer {
    let builder = ureq::http::Request::builder().method(method).uri(url);
    let builder = headers
        .iter()
        .fold(builder, |b, (name, value)| b.header(*name, *value));
    let mut resp = match body {
        Some(body) => agent.run(builder.body(body.to_vec()).expect("a request")),
        None => agent.run(builder.body(()).expect("a request")),
    }
    .expect("the node answers");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, location, retry_after) = (
        header("content-type"),
        header("location"),
        header("retry-after"),
    );
    let body = resp.body_mut().read_to_string().expect("a text body");
    Answer {
        status: resp.status().as_u16(),
        content_type,
        location,
        retry_after,
        body,
    }
}

/// The leader and one follower of a running cluster.
fn leader_and_follower(c: &Cluster) -> (u64, u64) {
    let leader = c.wait_for_leader(BOUND);
    let follower = (1..=c.n).find(|&id| id != leader).expect("a follower");
    (leader, follower)
}

#[test]
fn a_write_sent_to_a_follower_through_a_plain_proxy_succeeds() {
    let c = Cluster::start(3);
    let (leader, follower) = leader_and_follower(&c);
    let proxy = TcpProxy::to(c.http_addr(follower));
    let agent = client();

    let r = send(
        &agent,
        "PUT",
        &proxy.url("/v1/kv/color"),
        Some(b"blue"),
        &[],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"), "{r:?}");
    let index = r.json()["index"].as_u64().expect("the leader's index");

    let r = send(
        &agent,
        "POST",
        &proxy.url("/v1/stacks"),
        Some(br#"{"label":9}"#),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json()["stack_id"].as_u64().is_some(), "{r:?}");

    // The leader has it, and every node applies it.
    let r = send(&agent, "GET", &c.url(leader, "/v1/kv/color"), None, &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "blue"));
    for id in 1..=3 {
        wait_for(&format!("node {id} to apply index {index}"), BOUND, || {
            let url = c.url(id, "/v1/kv/color?consistency=local");
            let r = send(&agent, "GET", &url, None, &[]);
            (r.status == 200 && r.body == "blue").then_some(())
        });
    }
    // A linearizable read through the proxy is served too.
    let r = send(&agent, "GET", &proxy.url("/v1/kv/color"), None, &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "blue"), "{r:?}");
    // An error answer of the leader comes back as it was: status, code and body.
    let r = send(
        &agent,
        "POST",
        &proxy.url("/v1/stacks/999999/push"),
        Some(br#"{"item":1}"#),
        &[],
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );
    // The follower counted its forwards (the PUT, the POST and the push; the read was served
    // by a ReadIndex round, not forwarded); the leader forwarded nothing.
    let relayed = |id: u64| -> u64 {
        let r = send(&agent, "GET", &c.url(id, "/metrics"), None, &[]);
        r.body
            .lines()
            .find(|l| l.starts_with("raftkv_http_forwarded_requests_total{outcome=\"relayed\"}"))
            .map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    };
    assert_eq!(relayed(follower), 3);
    assert_eq!(relayed(leader), 0);
}

#[test]
fn a_forwarded_write_with_a_session_is_applied_once_even_when_sent_twice() {
    let c = Cluster::start(3);
    let (leader, follower) = leader_and_follower(&c);
    let proxy = TcpProxy::to(c.http_addr(follower));
    let agent = client();
    let r = send(
        &agent,
        "POST",
        &proxy.url("/v1/stacks"),
        Some(br#"{"label":3}"#),
        &[],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let stack = r.json()["stack_id"].as_u64().expect("a stack id");
    let push = proxy.url(&format!("/v1/stacks/{stack}/push"));
    let session = [("Client-Id", "77"), ("Request-Seq", "1")];

    let first = send(&agent, "POST", &push, Some(br#"{"item":5}"#), &session);
    assert_eq!(first.status, 200, "{first:?}");
    let again = send(&agent, "POST", &push, Some(br#"{"item":5}"#), &session);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(
        first.json(),
        again.json(),
        "the retry gets the first answer"
    );

    let size = c.url(leader, &format!("/v1/stacks/{stack}/size"));
    let r = send(&agent, "GET", &size, None, &[]);
    assert_eq!(r.json()["size"], 1, "pushed once, not twice: {r:?}");
    // The session reached the leader: an older seq of the same client is refused there.
    let stale = [("Client-Id", "77"), ("Request-Seq", "0")];
    let r = send(&agent, "POST", &push, Some(br#"{"item":6}"#), &stale);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (409, Some("stale_request"))
    );
}

#[test]
fn a_request_already_forwarded_is_not_forwarded_again() {
    let c = Cluster::start(3);
    let (leader, follower) = leader_and_follower(&c);
    let agent = client();
    let marked = [("Raftkv-Forwarded-By", "9")];

    // A follower that receives a request forwarded to it as to the leader refuses it.
    let r = send(
        &agent,
        "PUT",
        &c.url(follower, "/v1/kv/twice"),
        Some(b"x"),
        &marked,
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (503, Some("unavailable")),
        "{r:?}"
    );
    assert_eq!(r.retry_after.as_deref(), Some("1"), "{r:?}");
    assert!(r.body.contains("node 9 forwarded"), "{r:?}");
    let r = send(&agent, "GET", &c.url(leader, "/v1/kv/twice"), None, &[]);
    assert_eq!(r.status, 404, "nothing was written: {r:?}");

    // The leader serves a forwarded request as any other.
    let r = send(
        &agent,
        "PUT",
        &c.url(leader, "/v1/kv/twice"),
        Some(b"y"),
        &marked,
    );
    assert_eq!(r.status, 200, "{r:?}");

    // One request may ask for the redirect instead of the forward.
    let opt_out = [("Raftkv-Follower-Requests", "redirect")];
    let r = send(
        &agent,
        "PUT",
        &c.url(follower, "/v1/kv/twice"),
        Some(b"z"),
        &opt_out,
    );
    assert_eq!(r.status, 307, "{r:?}");
    assert_eq!(
        r.location.as_deref(),
        Some(c.url(leader, "/v1/kv/twice").as_str())
    );
    let bad = [("Raftkv-Follower-Requests", "maybe")];
    let r = send(&agent, "GET", &c.url(follower, "/v1/kv/twice"), None, &bad);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("bad_request"))
    );
}

#[test]
fn redirect_mode_answers_307_with_the_leaders_location() {
    let c = Cluster::start_with(3, "follower_requests = \"redirect\"");
    let (leader, follower) = leader_and_follower(&c);
    let agent = client();
    let r = send(
        &agent,
        "PUT",
        &c.url(follower, "/v1/kv/k?x=1"),
        Some(b"v"),
        &[],
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (307, Some("not_leader"))
    );
    assert_eq!(
        r.location.as_deref(),
        Some(c.url(leader, "/v1/kv/k?x=1").as_str())
    );
    let r = send(&agent, "GET", &c.url(leader, "/v1/kv/k"), None, &[]);
    assert_eq!(r.status, 404, "a redirect does nothing: {r:?}");

    // One request may ask for the forward instead.
    let r = send(
        &agent,
        "PUT",
        &c.url(follower, "/v1/kv/k"),
        Some(b"v"),
        &[("Raftkv-Follower-Requests", "forward")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = send(&agent, "GET", &c.url(leader, "/v1/kv/k"), None, &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "v"));
}

#[test]
fn a_follower_whose_leader_is_gone_answers_503_at_once() {
    let mut c = Cluster::start(3);
    let (leader, follower) = leader_and_follower(&c);
    let other = (1..=3).find(|&id| id != leader && id != follower).unwrap();
    let agent = client();
    c.kill(leader);
    c.kill(other);

    // Until its election timeout the follower still names the dead leader, and forwarding to it
    // fails to connect; after it, no leader is known. Either way: 503 at once, nothing applied.
    let started = Instant::now();
    let r = send(&agent, "PUT", &c.url(follower, "/v1/kv/k"), Some(b"v"), &[]);
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{r:?}");
    assert!(
        matches!(
            r.json()["error"].as_str(),
            Some("unavailable" | "no_leader")
        ),
        "{r:?}"
    );
    assert_eq!(r.retry_after.as_deref(), Some("1"), "{r:?}");
    assert!(
        took < Duration::from_millis(support::config::REQUEST_TIMEOUT_MS),
        "answered in {took:?}, not at once"
    );
    // Once it has given up on the leader, it says so.
    let r = wait_for("no leader known", BOUND, || {
        let r = send(&agent, "PUT", &c.url(follower, "/v1/kv/k"), Some(b"v"), &[]);
        (r.status == 503 && r.body.contains("no_leader")).then_some(r)
    });
    assert_eq!(r.retry_after.as_deref(), Some("1"), "{r:?}");
}
