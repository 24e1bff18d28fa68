//! `raftkv put|cas|get|del`: the key-value map, etcdctl style, with versions and expiry.
//!
//! Values are bytes. Simple output prints them as stored; JSON output (`-w json`) carries keys and
//! values in base64, as etcdctl's does, so that any value survives the trip byte for byte.

use base64::Engine;
use serde_json::json;
use ureq::http::Method;

use super::args::{ReadConsistency, WriteOut};
use super::client::{key_path, Call};
use super::context::{field_u64, with_consistency, Ctx};
use super::error::CliError;
use super::output::{self, emit, Table};

/// What a put requires of the key's current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever the key holds.
    None,
    /// Compare-and-swap: write only if the key is at this version, or, for
    /// [`crate::state::ABSENT_VERSION`], only if it does not exist.
    Version(u64),
}

/// Base64 (standard alphabet, padded) of `bytes`: how JSON output carries keys and values.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard input to its end, as the value of `raftkv put KEY` without VALUE. Reads at most one
/// byte past the largest value any cluster accepts, so a runaway pipe fails fast.
pub fn value_from_stdin() -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let limit = crate::config::MAX_VALUE_BYTES_LIMIT;
    let mut value = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit + 1)
        .read_to_end(&mut value)
        .map_err(|e| CliError::Local(format!("reading the value from standard input: {e}")))?;
    if value.len() as u64 > limit {
        return Err(CliError::Usage(format!(
            "the value on standard input is over {limit} bytes, the largest any cluster accepts"
        )));
    }
    Ok(value)
}

/// `raftkv put KEY VALUE [--ttl S]` prints `OK` (simple), like etcdctl; `raftkv cas KEY VERSION
/// VALUE [--ttl S]` prints `OK <new version>`, like the text protocol, so a script can chain
/// swaps. A swap that finds another version fails naming the current one.
pub fn put(
    ctx: &mut Ctx,
    key: &str,
    value: &[u8],
    condition: Condition,
    ttl_secs: u64,
) -> Result<(), CliError> {
    let mut query = Vec::new();
    if ttl_secs > 0 {
        query.push(format!("ttl={ttl_secs}"));
    }
    if let Condition::Version(version) = condition {
        query.push(format!("if_version={version}"));
    }
    let mut path = kv_path(key);
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let answer = ctx.client.call(&Call::write(Method::PUT, path, value))?;
    if let (409, Condition::Version(expected)) = (answer.status, condition) {
        if let Some(current) = answer.json().ok().and_then(|v| v["version"].as_u64()) {
            let message = if expected == crate::state::ABSENT_VERSION {
                format!("{key:?} exists, at version {current}")
            } else {
                format!("{key:?} is at version {current}, not {expected}")
            };
            return Err(CliError::Answered {
                code: "version_mismatch".to_string(),
                message,
            });
        }
    }
    let answer = answer.success()?.json()?;
    let version = field_u64(&answer, "version")?;
    let mut table = Table::new(&["KEY", "VERSION", "INDEX"]);
    table.row(vec![
        key.to_string(),
        version.to_string(),
        field_u64(&answer, "index")?.to_string(),
    ]);
    let json =
        json!({ "key": base64(key.as_bytes()), "version": version, "index": answer["index"] });
    match (ctx.format(WriteOut::Simple), condition) {
        (WriteOut::Simple, Condition::None) => emit(b"OK\n"),
        (WriteOut::Simple, Condition::Version(_)) => emit(format!("OK {version}\n").as_bytes()),
        (format, _) => output::print(format, &table, &json),
    }
    Ok(())
}

/// `raftkv get KEY`: prints the key and its value on two lines (simple), like etcdctl.
pub fn get(
    ctx: &mut Ctx,
    key: &str,
    value_only: bool,
    consistency: ReadConsistency,
) -> Result<(), CliError> {
    let answer = ctx.ok(&Call::get(with_consistency(&kv_path(key), consistency)))?;
    let value = String::from_utf8_lossy(&answer.body);
    let version = answer.version.map_or(String::new(), |v| v.to_string());
    match ctx.format(WriteOut::Simple) {
        WriteOut::Simple => {
            let mut out = Vec::with_capacity(key.len() + answer.body.len() + 2);
            if !value_only {
                out.extend_from_slice(key.as_bytes());
                out.push(b'\n');
            }
            // The value's bytes as stored: no re-encoding in simple output.
            out.extend_from_slice(&answer.body);
            out.push(b'\n');
            emit(&out);
        }
        format => {
            let mut table = Table::new(&["KEY", "VALUE", "VERSION"]);
            table.row(vec![key.to_string(), value.to_string(), version]);
            let json = json!({
                "key": base64(key.as_bytes()),
                "value": base64(&answer.body),
                "version": answer.version,
            });
            output::print(format, &table, &json);
        }
    }
    Ok(())
}

/// `raftkv get KEY --meta`: the key, its value, its version and the seconds until it expires
/// (simple: one per line, the last two as `version N` and `expires_in S|never`).
pub fn get_meta(ctx: &mut Ctx, key: &str, consistency: ReadConsistency) -> Result<(), CliError> {
    let path = with_consistency(&format!("{}?meta=true", kv_path(key)), consistency);
    let answer = ctx.json(&Call::get(path))?;
    let value = answer["value_base64"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| CliError::Local(format!("the answer has no base64 value: {answer}")))?;
    let version = field_u64(&answer, "version")?;
    let expires_in = answer["expires_in"]
        .as_u64()
        .map_or("never".to_string(), |s| s.to_string());
    match ctx.format(WriteOut::Simple) {
        WriteOut::Simple => {
            let mut out = Vec::with_capacity(key.len() + value.len() + 48);
            out.extend_from_slice(key.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&value);
            out.extend_from_slice(
                format!("\nversion {version}\nexpires_in {expires_in}\n").as_bytes(),
            );
            emit(&out);
        }
        format => {
            let text = String::from_utf8_lossy(&value);
            let mut table = Table::new(&["KEY", "VALUE", "VERSION", "EXPIRES IN"]);
            table.row(vec![
                key.to_string(),
                text.to_string(),
                version.to_string(),
                expires_in,
            ]);
            let json = json!({
                "key": base64(key.as_bytes()),
                "value": base64(&value),
                "version": version,
                "expires_in": answer["expires_in"],
            });
            output::print(format, &table, &json);
        }
    }
    Ok(())
}

/// `raftkv del KEY`: prints how many keys were deleted, like etcdctl.
pub fn del(ctx: &mut Ctx, key: &str) -> Result<(), CliError> {
    let answer = ctx.json(&Call::write(Method::DELETE, kv_path(key), Vec::new()))?;
    let deleted = u64::from(answer["deleted"].as_bool().unwrap_or(false));
    ctx.print_value("DELETED", &deleted.to_string(), &answer);
    Ok(())
}

fn kv_path(key: &str) -> String {
    format!("/v1/kv/{}", key_path(key))
}
