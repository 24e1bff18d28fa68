//! `raftkv put|get|del`: the key-value map, etcdctl style.

use serde_json::json;
use ureq::http::Method;

use super::args::{ReadConsistency, WriteOut};
use super::client::{encode_path, Call};
use super::context::{field_u64, with_consistency, Ctx};
use super::error::CliError;
use super::output::{self, emit, Table};

/// `raftkv put KEY VALUE`: prints `OK` (simple), like etcdctl.
pub fn put(ctx: &mut Ctx, key: &str, value: &str) -> Result<(), CliError> {
    let call = Call::write(Method::PUT, kv_path(key), value.as_bytes());
    let answer = ctx.json(&call)?;
    let mut table = Table::new(&["KEY", "VERSION", "INDEX"]);
    table.row(vec![
        key.to_string(),
        field_u64(&answer, "version")?.to_string(),
        field_u64(&answer, "index")?.to_string(),
    ]);
    match ctx.format(WriteOut::Simple) {
        WriteOut::Simple => emit(b"OK\n"),
        format => output::print(format, &table, &answer),
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
            let json = json!({ "key": key, "value": value, "version": answer.version });
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
    format!("/v1/kv/{}", encode_path(key))
}
