//! Admission control (three `raftkv node` processes): past `max_in_flight_requests` a request is
//! refused at once — HTTP 429 with `Retry-After` and error `overloaded`, the text protocol's
//! `ERR_OVERLOADED` — and a refused write has no effect. The CLI backs off and retries it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::Cluster;

const THREADS: usize = 16;
const PUTS_PER_THREAD: usize = 40;

#[test]
fn past_the_limit_writes_get_429_or_err_overloaded_and_refused_ones_change_nothing() {
    let c = Cluster::start_with(3, "max_in_flight_requests = 1");
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let base = c.url(leader, "/v1/kv");

    let endpoint = c.http_addr(leader);
    let http: Vec<(u16, Option<String>, String)> = std::thread::scope(|s| {
        // The CLI, in the middle of the flood, backs off on 429 and gets through.
        let cli = s.spawn(|| {
            for i in 0..3 {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_raftkv"))
                    .args(["--endpoints", &endpoint, "put", &format!("cli-{i}"), "v"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let base = &base;
                s.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(10)))
                        .build()
                        .into();
                    (0..PUTS_PER_THREAD)
                        .map(|i| {
                            let mut reply = agent
                                .put(&format!("{base}/k-{t}-{i}"))
                                .send(b"v".as_slice())
                                .expect("the leader answers");
                            let retry = reply
                                .headers()
                                .get("retry-after")
                                .map(|v| v.to_str().unwrap().to_string());
                            let body = reply.body_mut().read_to_string().unwrap_or_default();
                            (reply.status().as_u16(), retry, body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        cli.join().unwrap();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let written = http.iter().filter(|(status, ..)| *status == 200).count();
    let refused: Vec<_> = http.iter().filter(|(status, ..)| *status == 429).collect();
    assert_eq!(
        written + refused.len(),
        http.len(),
        "other answers: {http:?}"
    );
    assert!(
        !refused.is_empty(),
        "16 concurrent writers never exceeded a limit of 1"
    );
    for (_, retry, body) in &refused {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(body.contains("\"overloaded\""), "{body}");
    }

    // The text protocol: pipelined sets on several connections at once.
    let text_port = c.ports[leader as usize - 1].2;
    let text: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    let mut stream = TcpStream::connect(("127.0.0.1", text_port)).unwrap();
                    let mut batch = Vec::new();
                    for i in 0..50 {
                        batch.extend_from_slice(format!("set t-{t}-{i} 0 1\r\nv\r\n").as_bytes());
                    }
                    stream.write_all(&batch).unwrap();
                    let mut lines = BufReader::new(stream).lines();
                    (0..50)
                        .map(|_| lines.next().unwrap().unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let text_written = text.iter().filter(|l| l.starts_with("OK ")).count();
    let text_refused = text.iter().filter(|l| *l == "ERR_OVERLOADED").count();
    assert_eq!(text_written + text_refused, text.len(), "{text:?}");
    assert!(
        text_refused > 0,
        "pipelined sets never exceeded a limit of 1"
    );

    // Exactly the acknowledged writes are in the state, on every node.
    let state = c.wait_converged(&[1, 2, 3], Duration::from_secs(10));
    let keys = state["kv"].as_object().expect("kv").len();
    assert_eq!(
        keys,
        written + text_written + 3,
        "a refused write took effect"
    );
}
