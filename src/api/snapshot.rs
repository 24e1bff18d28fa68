//! `GET /v1/snapshot`: a backup of the leader's applied state, in the snapshot file format
//! (`raftkv snapshot save FILE` calls it). A follower forwards it to the leader (or redirects).
//!
//! The leader hands over an O(1) clone of its state machine; a blocking thread writes it to an
//! unnamed temporary file, which is then streamed in 1 MiB chunks: neither the node nor the
//! response ever holds a second full copy of the state in memory.

use std::io::{BufWriter, Seek, SeekFrom, Write};

use actix_web::{web, HttpRequest, HttpResponse};
use futures::stream;
use tokio::io::AsyncReadExt;

use super::error::ApiError;
use super::ApiState;
use crate::replicator::{SnapshotView, TxlogLines};
use crate::state::write_snapshot;

const CHUNK_BYTES: usize = 1 << 20;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/snapshot").route(web::get().to(snapshot)))
        .service(web::resource("/v1/txlog").route(web::get().to(txlog_lines)));
}

#[derive(serde::Deserialize)]
struct LineRange {
    from: u64,
    to: u64,
}

/// The range `GET /v1/txlog` asks for with `query_string` (`from=N&to=M`).
pub fn line_range(query_string: &str) -> Result<TxlogLines, ApiError> {
    let range = web::Query::<LineRange>::from_query(query_string)
        .map_err(|e| ApiError::BadRequest(format!("expected ?from=N&to=M: {e}")))?;
    Ok(TxlogLines {
        from: range.from,
        to: range.to,
    })
}

/// `GET /v1/txlog?from=&to=`: this node's transaction-log lines in that range, as written (at
/// most 4 MiB; fewer when the range is longer). 404 when the line of `from` is not held. A node
/// that installs a snapshot fetches the lines it did not apply from the snapshot's sender, with
/// its member credential. With auth on, only root or a member may read them: they hold every
/// value written.
async fn txlog_lines(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    st.require_root_or_member(&req, super::TXLOG_PURPOSE)
        .await?;
    let ask = line_range(req.query_string())?;
    let from = ask.from;
    let lines = st
        .replicator
        .send(ask)
        .await
        .map_err(|_| ApiError::Unavailable("the node is stopping".into()))?
        .map_err(ApiError::Internal)?;
    match lines {
        Some(lines) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(lines)),
        None => Err(ApiError::NotFound(format!(
            "no transaction-log line {} is held here",
            from
        ))),
    }
}

async fn snapshot(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    st.require_root(&req).await?;
    let (state, membership) = st
        .replicator
        .send(SnapshotView)
        .await
        .map_err(|_| ApiError::Unavailable("the node is stopping".into()))?
        .map_err(|e| st.map_err(e, &req))?;
    let index = state.applied_index();
    let file = web::block(move || -> std::io::Result<std::fs::File> {
        let mut file = unnamed_temp_file()?;
        let mut out = BufWriter::new(&mut file);
        write_snapshot(&state, &membership, &mut out)?;
        out.flush()?;
        drop(out);
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("snapshot writer: {e}")))?
    .map_err(|e| ApiError::Internal(format!("cannot write the snapshot: {e}")))?;
    let file = tokio::fs::File::from_std(file);
    let body = stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; CHUNK_BYTES];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(web::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("X-Raftkv-Snapshot-Index", index.to_string()))
        .streaming(body))
}

/// A file with no name: created in the temporary directory and unlinked at once, so it is gone
/// when closed whatever happens.
pub(crate) fn unnamed_temp_file() -> std::io::Result<std::fs::File> {
    let path = std::env::temp_dir().join(format!(
        "raftkv-snapshot-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}
