//! `raftkv student put|get|del|list`: the student records database.

use serde_json::json;
use ureq::http::Method;

use super::args::{ReadConsistency, WriteOut};
use super::client::Call;
use super::context::{with_consistency, Ctx};
use super::error::CliError;
use super::output::{self, emit, Table};

const COLUMNS: [&str; 4] = ["ROLL NO", "NAME", "ADDRESS", "PHONE"];

/// `raftkv student put ROLL --name --address --phone`: prints `OK`.
pub fn put(
    ctx: &mut Ctx,
    roll: u64,
    name: &str,
    address: &str,
    phone: &str,
) -> Result<(), CliError> {
    let body = json!({ "name": name, "address": address, "phone": phone }).to_string();
    let answer = ctx.json(&Call::write(Method::PUT, path(roll), body))?;
    match ctx.format(WriteOut::Simple) {
        WriteOut::Simple => emit(b"OK\n"),
        format => output::print(
            format,
            &table(&[student_json(roll, name, address, phone)]),
            &answer,
        ),
    }
    Ok(())
}

/// `raftkv student get ROLL`: prints `roll, name, address, phone`.
pub fn get(ctx: &mut Ctx, roll: u64, consistency: ReadConsistency) -> Result<(), CliError> {
    let student = ctx.json(&Call::get(with_consistency(&path(roll), consistency)))?;
    let format = ctx.format(WriteOut::Simple);
    output::print(format, &table(std::slice::from_ref(&student)), &student);
    Ok(())
}

/// `raftkv student del ROLL`: prints how many records were deleted (0 or 1).
pub fn del(ctx: &mut Ctx, roll: u64) -> Result<(), CliError> {
    let answer = ctx.json(&Call::write(Method::DELETE, path(roll), Vec::new()))?;
    let deleted = u64::from(answer["deleted"].as_bool().unwrap_or(false));
    ctx.print_value("DELETED", &deleted.to_string(), &answer);
    Ok(())
}

/// `raftkv student list`: every record, one per line, by roll number.
pub fn list(ctx: &mut Ctx, consistency: ReadConsistency) -> Result<(), CliError> {
    let list = ctx.json(&Call::get(with_consistency("/v1/students", consistency)))?;
    let students = list.as_array().cloned().unwrap_or_default();
    output::print(ctx.format(WriteOut::Simple), &table(&students), &list);
    Ok(())
}

fn path(roll: u64) -> String {
    format!("/v1/students/{roll}")
}

fn student_json(roll: u64, name: &str, address: &str, phone: &str) -> serde_json::Value {
    json!({ "roll_no": roll, "name": name, "address": address, "phone": phone })
}

/// One row per student JSON object.
fn table(students: &[serde_json::Value]) -> Table {
    let mut table = Table::new(&COLUMNS);
    for s in students {
        let text = |name: &str| match &s[name] {
            serde_json::Value::String(v) => v.clone(),
            other => other.to_string(),
        };
        table.row(vec![
            text("roll_no"),
            text("name"),
            text("address"),
            text("phone"),
        ]);
    }
    table
}
