//! `raftkv member list` and `raftkv status`: who is in the cluster, and what each node says of
//! itself. Every node is asked directly (in parallel), so a stopped member shows as unreachable.

use std::time::Duration;

use serde_json::json;
use ureq::http::Method;

use super::args::WriteOut;
use super::client::{self, Call};
use super::context::Ctx;
use super::error::CliError;
use super::output::{self, Table};

/// How long one node may take to say how it is; a stopped node answers "connection refused" at once.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// A node's answer to `GET /v1/status`, or why there is none.
type Status = Result<serde_json::Value, String>;

/// Each address of a member with the scheme of the protocol spoken there: raft peers speak
/// ZeroMQ over TCP and the text protocol is plain TCP (`tcp://`); the API and etcd's gRPC are
/// HTTP (`http://`: no TLS). In the order raft, http, text, grpc; `None` for an address the
/// member does not have.
fn urls(member: &serde_json::Value) -> [Option<String>; 4] {
    let url = |scheme: &str, field: &str| {
        member[field]
            .as_str()
            .filter(|a| !a.is_empty())
            .map(|a| format!("{scheme}://{a}"))
    };
    [
        url("tcp", "raft"),
        url("http", "http"),
        url("tcp", "text"),
        url("http", "grpc"),
    ]
}

/// `raftkv member list`: a table (by default) with each member's own role, the leader marked,
/// and every address as a URL.
pub fn list(ctx: &mut Ctx) -> Result<(), CliError> {
    let members = ctx.json(&Call::get("/v1/members"))?;
    let members = members.as_array().cloned().unwrap_or_default();
    let addrs: Vec<String> = members
        .iter()
        .map(|m| m["http"].as_str().unwrap_or_default().to_string())
        .collect();
    let statuses = statuses(&addrs);
    let leader = leader_of(&statuses);
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "RAFT ADDRS",
        "HTTP ADDRS",
        "TEXT ADDRS",
        "ROLE",
        "TERM",
        "IS LEADER",
        "IS LEARNER",
    ]);
    let mut rows = Vec::new();
    for (m, status) in members.iter().zip(&statuses) {
        let id = m["id"].as_u64().unwrap_or_default();
        let (role, term) = role_and_term(status);
        let is_leader = Some(id) == leader;
        let is_learner = m["is_learner"].as_bool().unwrap_or(false);
        let [raft, http, text, grpc] = urls(m);
        table.row(vec![
            id.to_string(),
            format!("node{id}"),
            raft.clone().unwrap_or_default(),
            http.clone().unwrap_or_default(),
            text.clone().unwrap_or_default(),
            role.clone(),
            term.map_or(String::new(), |t| t.to_string()),
            is_leader.to_string(),
            is_learner.to_string(),
        ]);
        rows.push(json!({
            "id": id, "name": format!("node{id}"), "raft": raft, "http": http,
            "text": text, "grpc": grpc, "role": role, "term": term,
            "is_leader": is_leader, "is_learner": is_learner,
        }));
    }
    let json = json!({ "leader": leader, "members": rows });
    output::print(ctx.format(WriteOut::Table), &table, &json);
    Ok(())
}

/// `raftkv member add|remove|promote`: sends the change to the leader (the client follows
/// redirects and retries while a previous change is still in progress) and prints the outcome.
pub fn change(
    ctx: &mut Ctx,
    method: Method,
    path: String,
    body: serde_json::Value,
    id: u64,
    done: &str,
) -> Result<(), CliError> {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let answer = ctx.json(&Call::write(method, path, body))?;
    let index = answer["index"].as_u64().unwrap_or_default();
    let mut table = Table::new(&["ID", "CHANGE", "INDEX"]);
    table.row(vec![id.to_string(), done.to_string(), index.to_string()]);
    match ctx.format(WriteOut::Simple) {
        WriteOut::Simple => println!("Member {id} {done} (index {index})"),
        format => output::print(format, &table, &answer),
    }
    Ok(())
}

/// `raftkv leader transfer [ID]`: asks the leader to hand off; prints the new leader.
pub fn transfer(ctx: &mut Ctx, id: Option<u64>) -> Result<(), CliError> {
    let body = json!({ "to": id }).to_string();
    let answer = ctx.json(&Call::write(Method::POST, "/v1/leader/transfer", body))?;
    let leader = answer["leader"].as_u64().unwrap_or_default();
    let mut table = Table::new(&["LEADER", "TERM"]);
    let term = answer["term"].as_u64().unwrap_or_default();
    table.row(vec![leader.to_string(), term.to_string()]);
    match ctx.format(WriteOut::Simple) {
        WriteOut::Simple => println!("Leadership transferred to {leader} (term {term})"),
        format => output::print(format, &table, &answer),
    }
    Ok(())
}

/// `raftkv status`: each endpoint's own view, like `etcdctl endpoint status`. Fails (exit 3) only
/// when no endpoint answers.
pub fn status(ctx: &mut Ctx) -> Result<(), CliError> {
    let endpoints = ctx.client.endpoints().to_vec();
    let statuses = statuses(&endpoints);
    let leader = leader_of(&statuses);
    let mut table = Table::new(&[
        "ENDPOINT",
        "ID",
        "ROLE",
        "IS LEADER",
        "RAFT TERM",
        "COMMIT INDEX",
        "APPLIED INDEX",
        "LAST LOG INDEX",
        "ERRORS",
    ]);
    let mut rows = Vec::new();
    for (endpoint, status) in endpoints.iter().zip(&statuses) {
        match status {
            Ok(s) => {
                let n = |name: &str| s[name].as_u64().map_or(String::new(), |v| v.to_string());
                let id = s["id"].as_u64();
                table.row(vec![
                    endpoint.clone(),
                    n("id"),
                    role_and_term(status).0,
                    (id.is_some() && id == leader).to_string(),
                    n("term"),
                    n("commit_index"),
                    n("applied_index"),
                    n("last_log_index"),
                    String::new(),
                ]);
                rows.push(json!({ "endpoint": endpoint, "status": s }));
            }
            Err(e) => {
                let mut cells = vec![endpoint.clone()];
                cells.extend(vec![String::new(); 7]);
                cells.push(e.clone());
                table.row(cells);
                rows.push(json!({ "endpoint": endpoint, "error": e }));
            }
        }
    }
    output::print(ctx.format(WriteOut::Simple), &table, &json!(rows));
    if statuses.iter().all(Result::is_err) {
        let attempts = endpoints
            .iter()
            .zip(&statuses)
            .map(|(e, s)| format!("{e}: {}", s.as_ref().err().map_or("", String::as_str)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CliError::NoEndpoint { attempts });
    }
    Ok(())
}

/// Asks every address for `/v1/status` at once.
fn statuses(addrs: &[String]) -> Vec<Status> {
    let agent = client::agent(STATUS_TIMEOUT);
    std::thread::scope(|scope| {
        let handles: Vec<_> = addrs
            .iter()
            .map(|addr| {
                let agent = agent.clone();
                scope.spawn(move || status_of(&agent, addr))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    })
}

fn status_of(agent: &ureq::Agent, addr: &str) -> Status {
    client::fetch_json(agent, &client::url(addr, "/v1/status"), None)
}

/// The node that says it leads, in the highest term if several do (a deposed leader may not know).
fn leader_of(statuses: &[Status]) -> Option<u64> {
    statuses
        .iter()
        .filter_map(|s| s.as_ref().ok())
        .filter(|s| s["role"] == "leader")
        .max_by_key(|s| s["term"].as_u64())
        .and_then(|s| s["id"].as_u64())
}

/// `("leader", Some(3))`, or `("unreachable", None)`.
fn role_and_term(status: &Status) -> (String, Option<u64>) {
    match status {
        Ok(s) => (
            s["role"].as_str().unwrap_or("unknown").to_string(),
            s["term"].as_u64(),
        ),
        Err(_) => ("unreachable".into(), None),
    }
}
