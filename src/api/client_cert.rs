//! The HTTP door's side of etcd's client-certificate auth: the Common Name of a connection's
//! verified client certificate, read once when the TLS handshake is done and kept with the
//! connection, and the rule for when a request may take it as its caller.

use std::any::Any;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use actix_web::HttpRequest;

use super::FORWARDED_BY;

/// The Common Name of a connection's client certificate, kept in its connection data.
#[derive(Clone, Debug)]
struct PeerName(String);

/// For `HttpServer::on_connect`: keeps the name a TLS connection's client certificate carries.
/// The certificate was verified in the handshake (`client_cert_auth = true`); without it rustls
/// asks for none and there is nothing to keep.
pub fn remember_peer_name(conn: &dyn Any, data: &mut Extensions) {
    let Some(tls) = conn.downcast_ref::<TlsStream<TcpStream>>() else {
        return;
    };
    let (_, session) = tls.get_ref();
    if let Some(name) = session
        .peer_certificates()
        .and_then(crate::security::cert::common_name)
    {
        data.insert(PeerName(name));
    }
}

/// The name `req`'s client certificate gives its caller, if any. Never for a request a member
/// forwarded (`Raftkv-Forwarded-By`): its connection carries the member's own certificate, and
/// the forwarding member sends the caller's identity as a token instead
/// ([`super::ApiState::certificate_token`]). A client setting that header itself only gives up
/// its certificate's name.
pub(super) fn certificate_name(req: &HttpRequest) -> Option<String> {
    if req.headers().contains_key(FORWARDED_BY) {
        return None;
    }
    let data = req.conn_data::<PeerName>()?;
    Some(data.0.clone())
}
