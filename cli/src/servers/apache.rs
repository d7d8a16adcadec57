//! Apache httpd: `SSLSessionTicketKeyFile FILE`, one raw 48-byte key (name ‖ hmac16 ‖ aes16),
//! the current key only (Apache holds no decrypt-only key), replaced atomically; then a
//! graceful restart (`--reload 'apachectl -k graceful'`).

use crate::servers::Server;

/// Apache httpd.
pub(crate) struct Apache;

impl Server for Apache {
    fn formats(&self) -> &'static [&'static str] {
        &["apache"]
    }
}
