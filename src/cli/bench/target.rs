//! The two kinds of server `raftkv bench` can drive: how to find the leader and how each operation
//! looks on the wire (raftkv's HTTP API, or etcd's v3 JSON gateway for comparison).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::cli::args::{BenchTarget, ReadConsistency};
use crate::cli::client;
use crate::cli::context::read_query;
use crate::cli::endpoints::host_of;
use crate::cli::error::CliError;

/// How long to look for a leader before giving up.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP method `raftkv bench` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Put,
    Post,
}

/// One request, ready to send; the body borrows the shared value where it can.
pub struct Op<'a> {
    pub verb: Verb,
    pub url: String,
    pub body: Cow<'a, [u8]>,
}

/// Precomputed request shapes for one target and workload.
pub struct Wire {
    target: BenchTarget,
    /// Per key: raftkv's path segment or etcd's base64 key.
    keys: Vec<String>,
    /// raftkv: the raw value; etcd: the base64 value.
    value: Vec<u8>,
    /// `?consistency=...` on raftkv reads, or nothing.
    read_query: String,
    etcd_serializable: bool,
}

impl Wire {
    /// Shapes for `keys` keys of `value_size` bytes.
    pub fn new(
        target: BenchTarget,
        keys: u64,
        value_size: usize,
        consistency: ReadConsistency,
    ) -> Wire {
        // Printable, not all one byte: nothing on the path can shortcut a run of equal bytes.
        let value: Vec<u8> = (0..value_size).map(|i| b'a' + (i % 26) as u8).collect();
        let names = (0..keys).map(|k| format!("bench-{k:08}"));
        match target {
            BenchTarget::Raftkv => Wire {
                target,
                keys: names.collect(),
                value,
                read_query: match read_query(consistency) {
                    "" => String::new(),
                    query => format!("?{query}"),
                },
                etcd_serializable: false,
            },
            BenchTarget::Etcd => Wire {
                target,
                keys: names.map(|n| STANDARD.encode(n.as_bytes())).collect(),
                value: STANDARD.encode(&value).into_bytes(),
                read_query: String::new(),
                etcd_serializable: consistency == ReadConsistency::Local,
            },
        }
    }

    /// Number of distinct keys.
    pub fn key_count(&self) -> u64 {
        self.keys.len() as u64
    }

    /// A put of key number `key` to `host`.
    pub fn put(&self, host: &str, key: u64) -> Op<'_> {
        let k = &self.keys[key as usize];
        match self.target {
            BenchTarget::Raftkv => Op {
                verb: Verb::Put,
                url: format!("http://{host}/v1/kv/{k}"),
                body: Cow::Borrowed(&self.value),
            },
            BenchTarget::Etcd => {
                let mut body = Vec::with_capacity(self.value.len() + k.len() + 24);
                body.extend_from_slice(format!("{{\"key\":\"{k}\",\"value\":\"").as_bytes());
                body.extend_from_slice(&self.value);
                body.extend_from_slice(b"\"}");
                Op {
                    verb: Verb::Post,
                    url: format!("http://{host}/v3/kv/put"),
                    body: Cow::Owned(body),
                }
            }
        }
    }

    /// A get of key number `key` from `host`.
    pub fn get(&self, host: &str, key: u64) -> Op<'_> {
        let k = &self.keys[key as usize];
        match self.target {
            BenchTarget::Raftkv => Op {
                verb: Verb::Get,
                url: format!("http://{host}/v1/kv/{k}{}", self.read_query),
                body: Cow::Borrowed(&[]),
            },
            BenchTarget::Etcd => Op {
                verb: Verb::Post,
                url: format!("http://{host}/v3/kv/range"),
                body: Cow::Owned(
                    format!(
                        "{{\"key\":\"{k}\",\"serializable\":{}}}",
                        self.etcd_serializable
                    )
                    .into_bytes(),
                ),
            },
        }
    }
}

/// Finds the leader's endpoint among `endpoints`, retrying through an election.
pub fn discover_leader(target: BenchTarget, endpoints: &[String]) -> Result<String, CliError> {
    let agent = client::agent(Duration::from_secs(2));
    let deadline = Instant::now() + DISCOVERY_TIMEOUT;
    let mut last = Vec::new();
    while Instant::now() < deadline {
        last.clear();
        for endpoint in endpoints {
            let found = match target {
                BenchTarget::Raftkv => raftkv_leader(&agent, endpoint),
                BenchTarget::Etcd => etcd_leader(&agent, endpoint, endpoints),
            };
            match found {
                Ok(Some(leader)) => return Ok(leader),
                Ok(None) => last.push(format!("{endpoint}: no leader known")),
                Err(e) => last.push(format!("{endpoint}: {e}")),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(CliError::NoEndpoint {
        attempts: last.join(", "),
    })
}

/// The leader's http address according to `endpoint`'s member list.
fn raftkv_leader(agent: &ureq::Agent, endpoint: &str) -> Result<Option<String>, String> {
    let members = client::fetch_json(agent, &format!("http://{endpoint}/v1/members"), None)?;
    Ok(members.as_array().and_then(|list| {
        list.iter()
            .find(|m| m["role"] == "leader")
            .and_then(|m| m["http"].as_str())
            .map(str::to_string)
    }))
}

/// The endpoint (of `endpoints`) of the member `endpoint` names as leader. etcd's gateway prints
/// member ids as decimal strings.
fn etcd_leader(
    agent: &ureq::Agent,
    endpoint: &str,
    endpoints: &[String],
) -> Result<Option<String>, String> {
    let url = |e: &str| format!("http://{e}/v3/maintenance/status");
    let status = client::fetch_json(agent, &url(endpoint), Some(b"{}"))?;
    let Some(leader) = member_id(&status["leader"]).filter(|l| l != "0") else {
        return Ok(None);
    };
    for e in endpoints {
        let s = client::fetch_json(agent, &url(e), Some(b"{}"))?;
        if member_id(&s["header"]["member_id"]).as_deref() == Some(leader.as_str()) {
            return Ok(Some(e.clone()));
        }
    }
    Ok(None)
}

/// An etcd member id as text: the gateway writes 64-bit ids as strings, but accept a number too.
fn member_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The host a redirect points at, if it is an absolute http URL.
pub fn redirect_host(location: Option<&str>) -> Option<String> {
    location.and_then(host_of).map(str::to_string)
}

/// How many members the cluster behind `leader` has, if it says: raftkv's member list, or etcd's
/// (`POST /v3/cluster/member/list`).
pub fn cluster_size(target: BenchTarget, leader: &str) -> Option<usize> {
    let agent = client::agent(Duration::from_secs(2));
    let list = match target {
        BenchTarget::Raftkv => {
            client::fetch_json(&agent, &format!("http://{leader}/v1/members"), None).ok()?
        }
        BenchTarget::Etcd => {
            let url = format!("http://{leader}/v3/cluster/member/list");
            client::fetch_json(&agent, &url, Some(b"{}")).ok()?["members"].take()
        }
    };
    list.as_array().map(Vec::len).filter(|&n| n > 0)
}
