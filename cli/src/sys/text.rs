//! Hex of the public and secret bytes the CLI shows; secret text is built in place in a buffer
//! wiped on drop; base64 (the `base64` crate) for Go's seeds in JSON. (Base64 of key files is the
//! core crate's: `Format::render_key`, `Format::names`.)

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
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

/// Standard base64 (RFC 4648 §4, with padding) of secret bytes, wiped on drop (encoded in place
/// into the returned buffer: no other copy).
pub(crate) fn base64_secret(bytes: &[u8]) -> Zeroizing<String> {
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let written = STANDARD.encode_slice(bytes, &mut buf[..]).unwrap_or(0);
    buf.truncate(written);
    // Base64 is ASCII: the conversion takes the buffer over without copying it.
    Zeroizing::new(String::from_utf8(std::mem::take(&mut *buf)).unwrap_or_default())
}

/// Standard base64 (with padding) decoded, wiped on drop; `None` when malformed.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; text.len() / 4 * 3 + 3]);
    let n = STANDARD.decode_slice(text, &mut out[..]).ok()?;
    out.truncate(n);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn base64_of_rfc4648_vectors() {
        // RFC 4648 §10.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_secret(input.as_bytes()).as_str(), expected);
        }
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(&base64_decode(b"aGVsbG8=").unwrap()[..], b"hello");
        assert_eq!(&base64_decode(b"aGVsbG8h").unwrap()[..], b"hello!");
        assert_eq!(&base64_decode(b"aGk=").unwrap()[..], b"hi");
        assert_eq!(&base64_decode(b"aA==").unwrap()[..], b"h");
        assert!(base64_decode(b"aGk").is_none());
        assert!(base64_decode(b"a*k=").is_none());
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(&*hex_secret(&[0xff]), "ff");
    }
}
