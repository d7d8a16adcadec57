//! BLAKE2b (RFC 7693) with the parameters keywheel uses: a main key or none, a salt, a
//! personalization, any message, a digest of 1..=64 bytes.
//!
//! Two implementations of one function, [`hash`]: the `blake2` crate's, whose compression the
//! compiler vectorises (fast natively, but about 6 KiB of WebAssembly), and on `wasm32` a
//! compact one written out here (under 1.5 KiB). The tests below check that both give the same
//! bytes, and the RFC's example; every binding's tests check the shared vectors on their own
//! target.

use crate::MAIN_KEY_LEN;

/// The parameters of one hash besides the message and the digest length.
pub(crate) struct Params<'a> {
    /// The key: a main key (or a key derived from one), or none.
    pub key: Option<&'a [u8; MAIN_KEY_LEN]>,
    pub salt: &'a [u8; 16],
    pub personal: &'a [u8; 16],
}

/// `bytes` (at most 16) zero-padded to 16 bytes: a salt or a personalization.
pub(crate) fn pad16(bytes: &[u8]) -> [u8; 16] {
    let mut padded = [0u8; 16];
    for (p, b) in padded.iter_mut().zip(bytes) {
        *p = *b;
    }
    padded
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use vectorised::hash;

#[cfg(target_arch = "wasm32")]
pub(crate) use compact::hash;

/// The `blake2` crate's BLAKE2b.
#[cfg(not(target_arch = "wasm32"))]
mod vectorised {
    use blake2::Blake2bVarCore;
    use blake2::digest::Output;
    use blake2::digest::block_api::{UpdateCore, VariableOutputCore};
    use blake2::digest::block_buffer::LazyBuffer;
    use blake2::digest::consts::U128;
    use zeroize::{Zeroize, ZeroizeOnDrop};

    use super::Params;
    use crate::MAIN_KEY_LEN;

    /// The zeros that pad a main key to a full block.
    const KEY_PAD: [u8; 128 - MAIN_KEY_LEN] = [0; 128 - MAIN_KEY_LEN];

    /// The block buffer and the BLAKE2b state hold the key (and values derived from it): both
    /// must wipe themselves when dropped. This fails to compile if blake2's `zeroize` feature
    /// is lost.
    const _: () = {
        const fn wipes_on_drop<T: ZeroizeOnDrop>() {}
        wipes_on_drop::<LazyBuffer<U128>>();
        wipes_on_drop::<Blake2bVarCore>();
    };

    /// `BLAKE2b(key, salt, personal, message)` with a digest of `out.len()` bytes (1..=64)
    /// written to `out`. Inlined, so that a derivation (a key, no message) compiles to its
    /// one compression.
    #[inline(always)]
    pub(crate) fn hash(params: &Params<'_>, message: &[u8], out: &mut [u8]) {
        let key_len = if params.key.is_some() {
            MAIN_KEY_LEN
        } else {
            0
        };
        let mut core =
            Blake2bVarCore::new_with_params(params.salt, params.personal, key_len, out.len());
        // The key, zero-padded to a block, goes straight into the block buffer, with no staging
        // copy. A lazy buffer keeps a full block until more data comes: with an empty message
        // (a derivation), the key block is the last one, compressed once by the finalisation.
        let mut buffer = LazyBuffer::<U128>::default();
        if let Some(key) = params.key {
            buffer.digest_blocks(key, |_| {});
            buffer.digest_blocks(&KEY_PAD, |_| {});
        }
        if !message.is_empty() {
            buffer.digest_blocks(message, |blocks| core.update_blocks(blocks));
        }
        let mut full = Output::<Blake2bVarCore>::default();
        core.finalize_variable_core(&mut buffer, &mut full);
        if let Some(digest) = full.get(..out.len()) {
            out.copy_from_slice(digest);
        }
        // The copy blake2 makes of a block to compress it is out of zeroize's reach.
        full.as_mut_slice().zeroize();
    }
}

/// A compact BLAKE2b: the rounds and the mixing function as loops, which the optimiser keeps
/// rolled for size.
#[cfg(any(target_arch = "wasm32", test))]
mod compact {
    use zeroize::Zeroize;

    use super::Params;
    use crate::MAIN_KEY_LEN;

    /// The block length in bytes.
    const BLOCK_LEN: usize = 128;

    /// The initialisation vector (SHA-512's).
    const IV: [u64; 8] = [
        0x6a09_e667_f3bc_c908,
        0xbb67_ae85_84ca_a73b,
        0x3c6e_f372_fe94_f82b,
        0xa54f_f53a_5f1d_36f1,
        0x510e_527f_ade6_82d1,
        0x9b05_688c_2b3e_6c1f,
        0x1f83_d9ab_fb41_bd6b,
        0x5be0_cd19_137e_2179,
    ];

    /// The message schedule of rounds 0..=9 (rounds 10 and 11 repeat rounds 0 and 1).
    const SIGMA: [[u8; 16]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ];

    /// `BLAKE2b(key, salt, personal, message)` with a digest of `out.len()` bytes (1..=64)
    /// written to `out`.
    pub(crate) fn hash(params: &Params<'_>, message: &[u8], out: &mut [u8]) {
        let mut h = IV;
        let key_len = if params.key.is_some() {
            MAIN_KEY_LEN
        } else {
            0
        };
        // The parameter block: digest length, key length, fanout 1, depth 1; salt;
        // personalization.
        h[0] ^= 0x0101_0000 ^ ((key_len as u64) << 8) ^ (out.len() as u64);
        let salt = u128::from_le_bytes(*params.salt);
        let personal = u128::from_le_bytes(*params.personal);
        #[allow(clippy::cast_possible_truncation)] // the low and high halves
        {
            h[4] ^= salt as u64;
            h[5] ^= (salt >> 64) as u64;
            h[6] ^= personal as u64;
            h[7] ^= (personal >> 64) as u64;
        }
        // The block being compressed, as words: the key's, then the message's.
        let mut m = [0u64; 16];
        // Bytes hashed so far (the counter's high 64 bits stay zero for any message in memory).
        let mut t: u64 = 0;
        if let Some(key) = params.key {
            // The key, zero-padded to a block, is the first block; the last when the message
            // is empty.
            load(&mut m, key);
            t = BLOCK_LEN as u64;
            compress(&mut h, &m, t, message.is_empty());
        }
        if params.key.is_none() || !message.is_empty() {
            // Every block but the last is full; the last is zero-padded (with no key and an
            // empty message, it is a block of zeros).
            let mut rest = message;
            loop {
                let n = rest.len().min(BLOCK_LEN);
                let (block, tail) = rest.split_at(n);
                load(&mut m, block);
                t = t.wrapping_add(n as u64);
                compress(&mut h, &m, t, tail.is_empty());
                rest = tail;
                if rest.is_empty() {
                    break;
                }
            }
        }
        for (i, o) in out.iter_mut().enumerate() {
            // Byte i of the little-endian state.
            #[allow(clippy::cast_possible_truncation)]
            {
                *o = (h[(i / 8) % 8] >> (8 * (i % 8))) as u8;
            }
        }
        m.zeroize();
        h.zeroize();
    }

    /// `bytes` (at most a block) as the little-endian words of a zero-padded block.
    fn load(m: &mut [u64; 16], bytes: &[u8]) {
        *m = [0; 16];
        for (i, &b) in bytes.iter().enumerate() {
            m[(i / 8) % 16] |= u64::from(b) << (8 * (i % 8));
        }
    }

    /// The compression function F of the block `m`, `t` bytes hashed in all, `last` for the
    /// final block.
    fn compress(h: &mut [u64; 8], m: &[u64; 16], t: u64, last: bool) {
        let mut v = [0u64; 16];
        v[..8].copy_from_slice(h);
        v[8..].copy_from_slice(&IV);
        v[12] ^= t;
        if last {
            v[14] = !v[14];
        }
        for r in 0..12 {
            let s = &SIGMA[r % 10];
            for i in 0..8 {
                // G on a column (i < 4), then on a diagonal: a in row 0, and b, c, d in rows
                // 1, 2, 3, shifted right by 0 (columns) or by 1, 2, 3 words (diagonals).
                let a = i % 4;
                let shift = i / 4;
                let b = 4 + (a + shift) % 4;
                let c = 8 + (a + 2 * shift) % 4;
                let d = 12 + (a + 3 * shift) % 4;
                let x = m[usize::from(s[2 * i]) % 16];
                let y = m[usize::from(s[2 * i + 1]) % 16];
                v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
                v[d] = (v[d] ^ v[a]).rotate_right(32);
                v[c] = v[c].wrapping_add(v[d]);
                v[b] = (v[b] ^ v[c]).rotate_right(24);
                v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
                v[d] = (v[d] ^ v[a]).rotate_right(16);
                v[c] = v[c].wrapping_add(v[d]);
                v[b] = (v[b] ^ v[c]).rotate_right(63);
            }
        }
        for (i, w) in h.iter_mut().enumerate() {
            *w ^= v[i] ^ v[i + 8];
        }
        v.zeroize();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::{Params, compact, pad16};

    #[cfg(not(target_arch = "wasm32"))]
    use super::vectorised;

    fn hex(bytes: &[u8]) -> std::string::String {
        bytes.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc7693_abc() {
        // RFC 7693 appendix A: BLAKE2b-512("abc").
        let none = Params {
            key: None,
            salt: &[0; 16],
            personal: &[0; 16],
        };
        let mut out = [0u8; 64];
        compact::hash(&none, b"abc", &mut out);
        let expected = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
                        7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";
        assert_eq!(hex(&out), expected);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let mut out = [0u8; 64];
            vectorised::hash(&none, b"abc", &mut out);
            assert_eq!(hex(&out), expected);
        }
    }

    /// The compact implementation gives the `blake2` crate's bytes for every kind of
    /// parameters, message lengths around the block boundaries and every digest length.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    #[allow(clippy::cast_possible_truncation)] // test bytes: truncation intended
    fn compact_is_the_blake2_crate() {
        let key: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5c);
        let message: Vec<u8> = (0..300u32).map(|i| (i * 11 % 251) as u8).collect();
        let salts = [pad16(&[]), pad16(&7u64.to_le_bytes()), [0xa5; 16]];
        let personals = [pad16(b"tofurkey"), pad16(b"keywheel.label"), [0xff; 16]];
        for key in [None, Some(&key)] {
            for (salt, personal) in salts.iter().zip(&personals) {
                let params = Params {
                    key,
                    salt,
                    personal,
                };
                for len in [0, 1, 3, 8, 16, 64, 127, 128, 129, 255, 256, 257, 300] {
                    for out_len in [1, 8, 16, 32, 33, 63, 64] {
                        let mut a = [0u8; 64];
                        let mut b = [0u8; 64];
                        compact::hash(&params, &message[..len], &mut a[..out_len]);
                        vectorised::hash(&params, &message[..len], &mut b[..out_len]);
                        assert_eq!(a, b, "key {} len {len} out {out_len}", key.is_some());
                    }
                }
            }
        }
    }
}
