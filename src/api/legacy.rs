//! The raftexample-style stack routes users already drive with curl:
//! `POST /sCreate -d 1`, `/sId -d 1`, `/sPush -d 1,10`, `/sPop -d 1`, `/sTop -d 1`, `/sSize -d 1`.
//! Bodies and successful answers are plain text (one number and a newline).

use actix_web::{web, HttpRequest, HttpResponse};

use super::kv::unexpected;
use super::stacks::run;
use super::{parse_id, read_body, ApiError, ApiState};
use crate::state::{ApplyResult, Command};

/// Every route and the operation it runs.
pub const ROUTES: [(&str, Op); 6] = [
    ("/sCreate", Op::Create),
    ("/sId", Op::Id),
    ("/sPush", Op::Push),
    ("/sPop", Op::Pop),
    ("/sTop", Op::Top),
    ("/sSize", Op::Size),
];

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    for (path, op) in ROUTES {
        cfg.service(web::resource(path).route(web::post().to(
            move |st: web::Data<ApiState>, req: HttpRequest, body: web::Payload| {
                handle(st, req, body, op)
            },
        )));
    }
}

/// What a route does with its stack.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `/sCreate -d LABEL`
    Create,
    /// `/sId -d LABEL`
    Id,
    /// `/sPush -d STACK_ID,ITEM`
    Push,
    /// `/sPop -d STACK_ID`
    Pop,
    /// `/sTop -d STACK_ID`
    Top,
    /// `/sSize -d STACK_ID`
    Size,
}

/// The command of `op`'s route with `body`, which must be text.
pub fn text_command(op: Op, body: &[u8]) -> Result<Command, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("the body must be text".into()))?;
    command(op, text)
}

/// Parses `"1"` or `"1,10"` into the command for `op`.
fn command(op: Op, body: &str) -> Result<Command, ApiError> {
    let mut parts = body.trim().splitn(2, ',');
    let first = parts.next().unwrap_or("");
    let second = parts.next();
    let one = |what: &str| -> Result<(), ApiError> {
        match second {
            None => Ok(()),
            Some(_) => Err(ApiError::BadRequest(format!(
                "expected one number ({what})"
            ))),
        }
    };
    Ok(match op {
        Op::Create => {
            one("label")?;
            Command::StackCreate {
                label: parse_id("label", first)?,
            }
        }
        Op::Id => {
            one("label")?;
            Command::StackId {
                label: parse_id("label", first)?,
            }
        }
        Op::Push => {
            let item = second.ok_or_else(|| {
                ApiError::BadRequest("expected stack_id,item (for example 1,10)".into())
            })?;
            Command::StackPush {
                stack_id: parse_id("stack id", first)?,
                item: parse_id("item", item)?,
            }
        }
        Op::Pop => {
            one("stack id")?;
            Command::StackPop {
                stack_id: parse_id("stack id", first)?,
            }
        }
        Op::Top => {
            one("stack id")?;
            Command::StackTop {
                stack_id: parse_id("stack id", first)?,
            }
        }
        Op::Size => {
            one("stack id")?;
            Command::StackSize {
                stack_id: parse_id("stack id", first)?,
            }
        }
    })
}

async fn handle(
    st: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Payload,
    op: Op,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body, 256).await?;
    let number = match run(&st, &req, text_command(op, &body)?).await? {
        ApplyResult::StackId(id) => id.to_string(),
        ApplyResult::Item(item) => item.to_string(),
        ApplyResult::Size(n) => n.to_string(),
        other => return Err(unexpected(&other)),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("{number}\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_like_raftexample() {
        assert_eq!(
            command(Op::Push, "1,10\n").unwrap(),
            Command::StackPush {
                stack_id: 1,
                item: 10
            }
        );
        assert_eq!(
            command(Op::Create, " 7 ").unwrap(),
            Command::StackCreate { label: 7 }
        );
        assert!(command(Op::Push, "1").is_err());
        assert!(command(Op::Pop, "1,2").is_err());
        assert!(command(Op::Size, "x").is_err());
        assert!(command(Op::Push, "1,-5").is_ok());
    }
}
