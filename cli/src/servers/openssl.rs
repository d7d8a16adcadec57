//! A program on OpenSSL's `SSL_CTX_set_tlsext_ticket_keys`: one raw 80-byte key
//! (name ‖ hmac32 ‖ aes32), the current key only, in one file the program reads.

use crate::servers::Server;

/// OpenSSL's ticket-keys call.
pub(crate) struct Openssl;

impl Server for Openssl {
    fn formats(&self) -> &'static [&'static str] {
        &["openssl"]
    }
}
