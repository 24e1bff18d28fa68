//! `raftkv stack create|id|push|pop|top|size`: integer stacks under integer labels.

use serde_json::json;
use ureq::http::Method;

use super::args::ReadConsistency;
use super::client::Call;
use super::context::{field_i64, field_u64, with_consistency, Ctx};
use super::error::CliError;

/// `raftkv stack create LABEL`: prints the stack's id (an existing label keeps its id).
pub fn create(ctx: &mut Ctx, label: i64) -> Result<(), CliError> {
    let body = json!({ "label": label }).to_string();
    let answer = ctx.json(&Call::write(Method::POST, "/v1/stacks", body))?;
    let id = field_u64(&answer, "stack_id")?;
    ctx.print_value("STACK ID", &id.to_string(), &answer);
    Ok(())
}

/// `raftkv stack id LABEL`: prints the id of the stack labelled LABEL.
pub fn id(ctx: &mut Ctx, label: i64, consistency: ReadConsistency) -> Result<(), CliError> {
    let path = with_consistency(&format!("/v1/stacks?label={label}"), consistency);
    let answer = ctx.json(&Call::get(path))?;
    let id = field_u64(&answer, "stack_id")?;
    ctx.print_value("STACK ID", &id.to_string(), &answer);
    Ok(())
}

/// `raftkv stack push ID ITEM`: prints the stack's new size.
pub fn push(ctx: &mut Ctx, stack: u64, item: i64) -> Result<(), CliError> {
    let body = json!({ "item": item }).to_string();
    let call = Call::write(Method::POST, format!("/v1/stacks/{stack}/push"), body);
    let answer = ctx.json(&call)?;
    let size = field_u64(&answer, "size")?;
    ctx.print_value("SIZE", &size.to_string(), &answer);
    Ok(())
}

/// `raftkv stack pop ID`: prints the item popped.
pub fn pop(ctx: &mut Ctx, stack: u64) -> Result<(), CliError> {
    let call = Call::write(Method::POST, format!("/v1/stacks/{stack}/pop"), Vec::new());
    let answer = ctx.json(&call)?;
    let item = field_i64(&answer, "item")?;
    ctx.print_value("ITEM", &item.to_string(), &answer);
    Ok(())
}

/// `raftkv stack top ID`: prints the top item.
pub fn top(ctx: &mut Ctx, stack: u64, consistency: ReadConsistency) -> Result<(), CliError> {
    let path = with_consistency(&format!("/v1/stacks/{stack}/top"), consistency);
    let answer = ctx.json(&Call::get(path))?;
    let item = field_i64(&answer, "item")?;
    ctx.print_value("ITEM", &item.to_string(), &answer);
    Ok(())
}

/// `raftkv stack size ID`: prints the number of items.
pub fn size(ctx: &mut Ctx, stack: u64, consistency: ReadConsistency) -> Result<(), CliError> {
    let path = with_consistency(&format!("/v1/stacks/{stack}/size"), consistency);
    let answer = ctx.json(&Call::get(path))?;
    let size = field_u64(&answer, "size")?;
    ctx.print_value("SIZE", &size.to_string(), &answer);
    Ok(())
}
