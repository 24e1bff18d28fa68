//! `raftkv bench sweep` and `bench plot` against a real 3-node cluster (CSV rows, a well-formed
//! SVG with one line per series), and `raftkv bench` against a scripted HTTP server: overload
//! answers (429, 503 `busy`) are retried and counted apart from errors.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::cli::raftkv;
use crate::support::Cluster;

const HEADER: &str = "target,cluster_size,op,clients,value_size,throughput_ops,\
                      p50_ms,p90_ms,p99_ms,p999_ms,max_ms,errors,retries,ok,duration_s";

#[test]
fn a_tiny_sweep_writes_one_row_per_point_and_an_svg_with_a_line_per_series() {
    let c = Cluster::start(3);
    c.wait_for_leader(Duration::from_secs(10));
    let out = tempfile::tempdir().expect("temp dir");
    let csv = out.path().join("sweep.csv");
    let svg = out.path().join("sweep.svg");
    let endpoints = c.endpoints(&[1, 2, 3]);
    let run = raftkv(&[
        "--endpoints",
        &endpoints,
        "bench",
        "sweep",
        "--clients",
        "1,4",
        "--value-size",
        "64",
        "--op",
        "put,get",
        "--duration",
        "300ms",
        "--pause",
        "0s",
        "--keys",
        "50",
        "--csv",
        csv.to_str().expect("utf-8 path"),
        "-w",
        "json",
    ]);
    let stdout = run.ok();

    // -w json: one line per point, as it finishes.
    let points: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line per point"))
        .collect();
    assert_eq!(points.len(), 4, "{stdout}");
    assert!(points
        .iter()
        .all(|p| p["cluster_size"] == 3 && p["retries"].is_u64()));

    let text = std::fs::read_to_string(&csv).expect("the CSV");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<BTreeMap<&str, &str>> = lines
        .map(|l| HEADER.split(',').zip(l.split(',')).collect())
        .collect();
    assert_eq!(rows.len(), 4, "2 ops x 2 client counts:\n{text}");
    let mut grid: Vec<(&str, &str)> = rows.iter().map(|r| (r["op"], r["clients"])).collect();
    grid.sort();
    assert_eq!(
        grid,
        [("get", "1"), ("get", "4"), ("put", "1"), ("put", "4")]
    );
    for row in &rows {
        assert_eq!(row.len(), HEADER.split(',').count(), "{row:?}");
        assert_eq!(
            (row["target"], row["cluster_size"], row["value_size"]),
            ("raftkv", "3", "64")
        );
        let number = |name: &str| -> f64 { row[name].parse().expect(name) };
        for positive in ["throughput_ops", "p50_ms", "p99_ms", "ok", "duration_s"] {
            assert!(number(positive) > 0.0, "{positive} in {row:?}");
        }
        assert!(number("p50_ms") <= number("p99_ms"), "{row:?}");
        assert!(number("p99_ms") <= number("p999_ms"), "{row:?}");
        assert!(number("p999_ms") <= number("max_ms"), "{row:?}");
        assert_eq!(row["errors"], "0", "{row:?}");
    }

    let drawn = std::fs::read_to_string(&svg).expect("the SVG beside the CSV");
    let elements = well_formed_xml(&drawn).unwrap_or_else(|e| panic!("{e}:\n{drawn}"));
    assert_eq!(elements[0].name, "svg");
    let series: Vec<&str> = elements
        .iter()
        .filter(|e| e.name == "g" && e.attr("class") == Some("series"))
        .filter_map(|e| e.attr("data-series"))
        .collect();
    assert_eq!(
        series,
        ["put", "get", "put", "get"],
        "one line per op in each panel"
    );
    let legend = elements
        .iter()
        .filter(|e| e.attr("class") == Some("legend-item"))
        .count();
    assert_eq!(legend, 2);

    // `bench plot` redraws the same picture from the CSV, and merges CSVs.
    let merged = out.path().join("merged.csv");
    let replot = out.path().join("replot.svg");
    raftkv(&[
        "bench",
        "plot",
        csv.to_str().expect("utf-8"),
        csv.to_str().expect("utf-8"),
        "--csv",
        merged.to_str().expect("utf-8"),
        "--svg",
        replot.to_str().expect("utf-8"),
    ])
    .ok();
    let merged = std::fs::read_to_string(merged).expect("merged CSV");
    assert_eq!(merged.lines().count(), 1 + 8);
    assert!(merged.starts_with(HEADER));
    let single = out.path().join("single.svg");
    raftkv(&[
        "bench",
        "plot",
        csv.to_str().expect("utf-8"),
        "--svg",
        single.to_str().expect("utf-8"),
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(single).expect("svg"), drawn);
}

#[test]
fn plot_refuses_a_csv_that_is_not_a_sweep() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("other.csv");
    std::fs::write(&csv, "a,b\n1,2\n").expect("write");
    let run = raftkv(&[
        "bench",
        "plot",
        csv.to_str().expect("utf-8"),
        "--svg",
        dir.path().join("x.svg").to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("other.csv:1"), "{}", run.stderr);
}

#[test]
fn overload_answers_are_retried_and_never_counted_as_errors() {
    let server = ScriptedServer::start(|n| match n % 3 {
        0 => (429, "overloaded"),
        1 => (503, "busy"),
        _ => (200, ""),
    });
    let v = bench_json(&server);
    let (refused, ok) = (server.refused(), server.ok());
    assert!(ok > 0, "the server answered no put with 200");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["ok"], ok, "{v}");
    // Every refusal the server sent was retried; each op took two refusals before its 200.
    assert_eq!(v["retries"], refused, "{v}");
    assert!(refused >= 2 * ok, "{refused} refusals for {ok} puts");
}

#[test]
fn a_503_other_than_busy_is_still_an_error() {
    let server = ScriptedServer::start(|n| match n % 2 {
        0 => (503, "no_leader"),
        _ => (200, ""),
    });
    let v = bench_json(&server);
    assert_eq!(v["retries"], 0, "{v}");
    assert_eq!(v["errors"], server.refused(), "{v}");
    assert_eq!(v["ok"], server.ok(), "{v}");
}

/// `raftkv bench` (one client, puts) against `server`, its JSON summary.
fn bench_json(server: &ScriptedServer) -> serde_json::Value {
    let run = raftkv(&[
        "--endpoints",
        &server.addr,
        "bench",
        "--clients",
        "1",
        "--duration",
        "400ms",
        "--keys",
        "10",
        "-w",
        "json",
    ]);
    serde_json::from_str(run.ok()).expect("a JSON summary")
}

/// A stand-in for a raftkv leader that answers its Nth put as a script says, and counts.
struct ScriptedServer {
    addr: String,
    /// Puts answered 200, and answered with anything else.
    ok: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

type Script = fn(u64) -> (u16, &'static str);

impl ScriptedServer {
    /// Listens on a free loopback port; each connection is served by its own thread. The
    /// listener's thread lives until the test process ends.
    fn start(script: Script) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (ok, refused) = (Arc::default(), Arc::default());
        let server = ScriptedServer {
            addr: addr.clone(),
            ok: Arc::clone(&ok),
            refused: Arc::clone(&refused),
        };
        let puts = Arc::new(AtomicU64::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (addr, puts, ok, refused) = (
                    addr.clone(),
                    Arc::clone(&puts),
                    Arc::clone(&ok),
                    Arc::clone(&refused),
                );
                std::thread::spawn(move || {
                    let counters = Counters { puts, ok, refused };
                    let _ = serve(stream, &addr, script, &counters);
                });
            }
        });
        server
    }

    fn ok(&self) -> u64 {
        self.ok.load(Ordering::SeqCst)
    }

    fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

struct Counters {
    puts: Arc<AtomicU64>,
    ok: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

/// Answers HTTP/1.1 requests on one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, addr: &str, script: Script, c: &Counters) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let (status, code) = if request_line.starts_with("GET /v1/members") {
            (200, "")
        } else if request_line.starts_with("PUT /v1/kv/") {
            let answer = script(c.puts.fetch_add(1, Ordering::SeqCst));
            let counter = if answer.0 == 200 { &c.ok } else { &c.refused };
            counter.fetch_add(1, Ordering::SeqCst);
            answer
        } else {
            (404, "unknown_route")
        };
        let (reason, body, extra) = match (status, code) {
            (200, _) if request_line.starts_with("GET") => (
                "OK",
                format!(r#"[{{"id":1,"role":"leader","http":"{addr}","raft":"x"}}]"#),
                "",
            ),
            (200, _) => ("OK", r#"{"index":1,"version":1}"#.to_string(), ""),
            (status, code) => (
                match status {
                    429 => "Too Many Requests",
                    503 => "Service Unavailable",
                    _ => "Not Found",
                },
                format!(r#"{{"error":"{code}","message":"scripted"}}"#),
                "Retry-After: 1\r\n",
            ),
        };
        write!(
            writer,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        )?;
        writer.flush()?;
    }
}

/// A start tag: its name and attributes.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks that `text` is well-formed XML (an optional declaration, comments, one root element,
/// properly nested and closed tags, quoted and unique attributes, only the predefined or numeric
/// entities, no stray markup characters); returns every element in document order. No XML crate
/// is in the dependency tree, and this much of XML is all the SVG uses.
fn well_formed_xml(text: &str) -> Result<Vec<Element>, String> {
    let mut rest = text.strip_prefix("<?xml ").map_or(text, |r| {
        r.split_once("?>").map_or("<?xml", |(_, after)| after)
    });
    let mut elements = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    while !rest.is_empty() {
        let at = text.len() - rest.len();
        if let Some(after) = rest.strip_prefix("<!--") {
            let (comment, after) = after.split_once("-->").ok_or("unclosed comment")?;
            if comment.contains("--") {
                return Err(format!("'--' inside a comment at byte {at}"));
            }
            rest = after;
        } else if let Some(after) = rest.strip_prefix("</") {
            let (name, after) = xml_name(after).ok_or(format!("bad end tag at byte {at}"))?;
            let after = after
                .trim_start()
                .strip_prefix('>')
                .ok_or(format!("unclosed end tag at byte {at}"))?;
            match open.pop() {
                Some(expected) if expected == name => {}
                other => return Err(format!("</{name}> at byte {at} closes {other:?}")),
            }
            rest = after;
        } else if let Some(after) = rest.strip_prefix('<') {
            let (name, mut after) = xml_name(after).ok_or(format!("bad start tag at byte {at}"))?;
            if open.is_empty() {
                roots += 1;
            }
            let mut element = Element {
                name: name.to_string(),
                attrs: Vec::new(),
            };
            loop {
                let trimmed = after.trim_start();
                if let Some(a) = trimmed.strip_prefix("/>") {
                    after = a;
                    break;
                }
                if let Some(a) = trimmed.strip_prefix('>') {
                    open.push(name.to_string());
                    after = a;
                    break;
                }
                if trimmed.len() == after.len() {
                    return Err(format!("no space before an attribute of <{name}>"));
                }
                let (attr, a) = xml_name(trimmed).ok_or(format!("bad attribute in <{name}>"))?;
                let a = a
                    .trim_start()
                    .strip_prefix('=')
                    .ok_or("attribute without =")?;
                let a = a.trim_start();
                let quote = a.chars().next().filter(|q| *q == '"' || *q == '\'');
                let quote = quote.ok_or(format!("unquoted attribute {attr} in <{name}>"))?;
                let (value, a) = a[1..]
                    .split_once(quote)
                    .ok_or(format!("unclosed attribute {attr}"))?;
                if value.contains('<') {
                    return Err(format!("'<' in attribute {attr} of <{name}>"));
                }
                check_entities(value)?;
                if element.attr(attr).is_some() {
                    return Err(format!("attribute {attr} twice in <{name}>"));
                }
                element.attrs.push((attr.to_string(), value.to_string()));
                after = a;
            }
            elements.push(element);
            rest = after;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let chars = &rest[..end];
            if chars.contains('>') {
                return Err(format!("stray '>' at byte {at}"));
            }
            if open.is_empty() && !chars.trim().is_empty() {
                return Err(format!("text outside the root element at byte {at}"));
            }
            check_entities(chars)?;
            rest = &rest[end..];
        }
    }
    if let Some(name) = open.last() {
        return Err(format!("<{name}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

/// An XML name at the start of `text`, and what follows it.
fn xml_name(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')))
        .unwrap_or(text.len());
    let first = text.chars().next()?;
    (end > 0 && (first.is_ascii_alphabetic() || first == '_')).then(|| text.split_at(end))
}

/// Every `&` in `text` starts one of the five predefined entities or a character reference.
fn check_entities(text: &str) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        let entity = text[i + 1..].split(';').next().unwrap_or("");
        let known = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || entity
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !known || !text[i + 1..].contains(';') {
            return Err(format!("bad entity &{entity}"));
        }
    }
    Ok(())
}

#[test]
fn the_xml_check_catches_what_a_parser_would() {
    assert!(
        well_formed_xml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/><c>t &amp; u</c></a>\n").is_ok()
    );
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a/><b/>",
        "<a x=1/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a>&nbsp;</a>",
        "<a>x < y</a>",
        "<a x=\"<\"/>",
        "text<a/>",
    ] {
        assert!(well_formed_xml(bad).is_err(), "{bad} passed");
    }
}
