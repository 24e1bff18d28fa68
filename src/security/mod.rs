//! Client security, shared by every door (HTTP, gRPC, the text protocol): TLS configurations,
//! who a caller is and what it may do, and the bound on open connections. The replicated half of
//! auth (users, roles, permissions) lives in [`crate::state::auth`]; this module only reads it.

pub mod auth;
pub mod cert;
pub mod limits;
pub mod tls;

pub use auth::{Authenticator, Caller};
pub use limits::ConnectionLimit;
pub use tls::ClientTls;
