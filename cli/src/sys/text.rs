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

/// Standard base64 (RFC 4648 §4, with padding) of secret bytes, wiped on drop.
pub(crate) fn base64_secret(bytes: &[u8]) -> Zeroizing<String> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(3) * 4));
    for group in bytes.chunks(3) {
        let b = |k: usize| u32::from(group.get(k).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        let sextet = |shift: u32| char::from(B64[((v >> shift) & 63) as usize]);
        s.push(sextet(18));
        s.push(sextet(12));
        s.push(if group.len() > 1 { sextet(6) } else { '=' });
        s.push(if group.len() > 2 { sextet(0) } else { '=' });
    }
    s
}

/// Standard base64 (with padding) decoded, wiped on drop; `None` when malformed.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3));
    for chunk in text.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut v = 0u32;
        for &c in &chunk[..4 - pad] {
            v = (v << 6) | val(c)?;
        }
        for _ in 0..pad {
            v <<= 6;
        }
        out.extend_from_slice(&v.to_be_bytes()[1..4 - pad]);
    }
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
