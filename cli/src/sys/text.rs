//! Hex of the public and secret bytes the CLI shows; secret text is built in place in a buffer
//! wiped on drop. (Base64 of key files is the core crate's: `Format::render_key`, `Format::names`.)

use zeroize::Zeroizing;

/// Lowercase hex of public bytes (key names, fingerprints).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    push_hex(&mut s, bytes);
    s
}

/// Lowercase hex of secret bytes, wiped on drop.
pub(crate) fn hex_secret(bytes: &[u8]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(2 * bytes.len()));
    push_hex(&mut s, bytes);
    s
}

/// Appends lowercase hex (no temporary copies).
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(&*hex_secret(&[0xff]), "ff");
    }
}
