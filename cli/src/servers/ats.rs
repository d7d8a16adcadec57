//! Apache Traffic Server: `proxy.config.ssl.server.ticket_key.filename`, raw 48-byte records
//! (name ‖ hmac16 ‖ aes16) in one file, the first encrypting, all decrypting; then
//! `traffic_ctl config reload` (`--reload`).

use crate::servers::Server;

/// Apache Traffic Server.
pub(crate) struct Ats;

impl Server for Ats {
    fn formats(&self) -> &'static [&'static str] {
        &["ats"]
    }
}
