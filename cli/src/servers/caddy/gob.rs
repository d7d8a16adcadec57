//! Go 1.19's `encoding/gob` of Caddy's `distributedSTEK`, byte for byte: [`encode`] and
//! [`decode`] (tests/servers/test_caddy.py checks them against a gob decoder written from Go's
//! documentation and against Debian's caddy).

use std::fmt;

use zeroize::Zeroizing;

use super::{CaddyError, SEED_LEN};

/// Seconds from 0001-01-01T00:00:00Z (Go's internal epoch) to the unix epoch.
const GO_UNIX_OFFSET: i64 = 62_135_596_800;

/// The four gob type-definition messages that start every encoding of `distributedSTEK` by a
/// fresh encoder (type ids 65 = the struct, 66 = `[32]uint8`, 67 = `[][32]uint8`, 68 =
/// `time.Time` as a GobEncoder), each a length then a negative type id then a wireType.
const TYPE_DEFINITIONS: &[u8; 135] = b"\
\x4b\xff\x81\x03\x01\x01\x0fdistributedSTEK\x01\xff\x82\x00\x01\x03\
\x01\x04Keys\x01\xff\x86\x00\x01\x0cLastRotation\x01\xff\x88\x00\x01\x0cNextRotation\x01\xff\x88\
\x00\x00\x00\
\x1a\xff\x85\x02\x01\x01\x0b[][32]uint8\x01\xff\x86\x00\x01\xff\x84\x00\x00\
\x0e\xff\x83\x01\x01\x02\xff\x84\x00\x01\x06\x01\x40\x00\x00\
\x10\xff\x87\x05\x01\x01\x04Time\x01\xff\x88\x00\x00\x00";

/// Type id 65 (the struct) as a gob int: zig-zag 130, one length byte.
const VALUE_TYPE_ID: [u8; 2] = [0xff, 0x82];
/// Length of `time.Time.MarshalBinary` (version 1): version, seconds, nanoseconds, zone.
const TIME_LEN: usize = 15;
/// [`TIME_LEN`] and [`SEED_LEN`] as the bytes gob writes for them.
const TIME_LEN_BYTE: u8 = 15;
const SEED_LEN_BYTE: u8 = 32;

/// Appends `v` as a gob unsigned integer: below 128 one byte; otherwise the byte `256 - n`
/// then the `n` big-endian bytes of `v` without leading zeros.
fn put_uint(out: &mut Vec<u8>, v: u64) {
    let bytes = v.to_be_bytes();
    if v < 0x80 {
        out.push(bytes[7]);
        return;
    }
    let skip = v.leading_zeros() / 8;
    // 1..=8 bytes follow.
    let n = u8::try_from(8 - skip).unwrap_or(8);
    out.push(0u8.wrapping_sub(n));
    out.extend_from_slice(&bytes[skip as usize..]);
}

/// Appends a UTC `time.Time` of `unix` seconds (nanoseconds 0) as Go's `MarshalBinary` v1.
fn put_time(out: &mut Vec<u8>, unix: i64) {
    out.push(1); // version
    out.extend_from_slice(&(unix + GO_UNIX_OFFSET).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // nanoseconds
    out.extend_from_slice(&(-1i16).to_be_bytes()); // zone offset: -1 = UTC
}

/// Checks a unix time for the file: not zero (gob would omit the field) and within keywheel's
/// time range.
fn unix_time(t: u64) -> Result<i64, CaddyError> {
    match i64::try_from(t) {
        Ok(v) if (1..=100_000_000_000).contains(&v) => Ok(v),
        _ => Err(CaddyError::Time(t)),
    }
}

/// The bytes of `stek.bin` for `keys` (in Caddy's order: the first encrypts), with
/// `LastRotation` and `NextRotation` at the unix times given (UTC, whole seconds): exactly what
/// Go 1.19's `gob.NewEncoder(&buf).Encode(distributedSTEK{…})` writes. Wiped on drop.
///
/// # Errors
/// [`CaddyError::NoKeys`] for an empty list, [`CaddyError::Time`] for a time outside
/// 1..=100000000000.
pub fn encode(
    keys: &[[u8; SEED_LEN]],
    last_rotation: u64,
    next_rotation: u64,
) -> Result<Zeroizing<Vec<u8>>, CaddyError> {
    if keys.is_empty() {
        return Err(CaddyError::NoKeys);
    }
    let (last, next) = (unix_time(last_rotation)?, unix_time(next_rotation)?);
    // The value message: type id, then per field its delta from the previous field and value.
    let mut body = Zeroizing::new(Vec::with_capacity(8 + keys.len() * 65 + 2 * (2 + TIME_LEN)));
    body.extend_from_slice(&VALUE_TYPE_ID);
    body.push(1); // field 0, Keys: a slice of N arrays of 32 uints
    put_uint(&mut body, keys.len() as u64);
    for key in keys {
        body.push(SEED_LEN_BYTE);
        for &b in key {
            put_uint(&mut body, u64::from(b));
        }
    }
    for t in [last, next] {
        body.push(1); // fields 1 and 2: GobEncoder bytes, length-prefixed
        body.push(TIME_LEN_BYTE);
        put_time(&mut body, t);
    }
    body.push(0); // end of struct
    let mut out = Zeroizing::new(Vec::with_capacity(TYPE_DEFINITIONS.len() + 9 + body.len()));
    out.extend_from_slice(TYPE_DEFINITIONS);
    put_uint(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    Ok(out)
}

/// A decoded `stek.bin`.
pub struct Stek {
    /// The seeds, in file order (the first encrypts). Wiped on drop.
    pub keys: Zeroizing<Vec<[u8; SEED_LEN]>>,
    /// `LastRotation`, unix seconds (nanoseconds dropped).
    pub last_rotation: i64,
    /// `NextRotation`, unix seconds (nanoseconds dropped).
    pub next_rotation: i64,
}

impl fmt::Debug for Stek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Stek {{ keys: {} (not shown), last_rotation: {}, next_rotation: {} }}",
            self.keys.len(),
            self.last_rotation,
            self.next_rotation
        )
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, CaddyError> {
        let b = self
            .data
            .get(self.pos)
            .copied()
            .ok_or(CaddyError::Decode(what))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CaddyError> {
        let s = self
            .data
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(CaddyError::Decode(what))?;
        self.pos += n;
        Ok(s)
    }

    fn uint(&mut self, what: &'static str) -> Result<u64, CaddyError> {
        let b = self.byte(what)?;
        if b < 0x80 {
            return Ok(u64::from(b));
        }
        let n = usize::from(0u8.wrapping_sub(b));
        if n > 8 {
            return Err(CaddyError::Decode(what));
        }
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0, |v, &d| (v << 8) | u64::from(d)))
    }

    fn expect(&mut self, bytes: &[u8], what: &'static str) -> Result<(), CaddyError> {
        if self.take(bytes.len(), what)? == bytes {
            Ok(())
        } else {
            Err(CaddyError::Decode(what))
        }
    }

    fn time(&mut self, what: &'static str) -> Result<i64, CaddyError> {
        self.expect(&[1, TIME_LEN_BYTE, 1], what)?; // field delta, length, version 1
        let t = self.take(TIME_LEN - 1, what)?;
        let mut sec = [0u8; 8];
        sec.copy_from_slice(&t[..8]);
        Ok(i64::from_be_bytes(sec) - GO_UNIX_OFFSET)
    }
}

/// Reads a `stek.bin` written by keywheel or by Caddy 2.6 (Go 1.19's gob with the type ids a
/// fresh encoder assigns, as both write it). Strict: anything else is an error saying where.
///
/// # Errors
/// [`CaddyError::Decode`].
pub fn decode(data: &[u8]) -> Result<Stek, CaddyError> {
    let mut r = Reader { data, pos: 0 };
    r.expect(
        TYPE_DEFINITIONS,
        "the type definitions are not distributedSTEK's",
    )?;
    let len = r.uint("truncated value length")?;
    let len = usize::try_from(len).map_err(|_| CaddyError::Decode("value length"))?;
    if data.len() - r.pos != len {
        return Err(CaddyError::Decode(
            "the value message's length is not the rest of the file (truncated or extended)",
        ));
    }
    r.expect(&VALUE_TYPE_ID, "the value is not of type distributedSTEK")?;
    r.expect(&[1], "no Keys field")?;
    let n = r.uint("truncated key count")?;
    if n == 0 || n > 1 << 16 {
        return Err(CaddyError::Decode("key count out of range"));
    }
    let mut keys = Zeroizing::new(Vec::new());
    for _ in 0..n {
        r.expect(&[SEED_LEN_BYTE], "a key is not 32 bytes")?;
        let mut key = [0u8; SEED_LEN];
        for b in &mut key {
            *b = u8::try_from(r.uint("truncated key")?)
                .map_err(|_| CaddyError::Decode("a key byte is above 255"))?;
        }
        keys.push(key);
        zeroize::Zeroize::zeroize(&mut key);
    }
    let last_rotation = r.time("LastRotation missing or not a version-1 time")?;
    let next_rotation = r.time("NextRotation missing or not a version-1 time")?;
    r.expect(&[0], "extra fields after NextRotation")?;
    Ok(Stek {
        keys,
        last_rotation,
        next_rotation,
    })
}
