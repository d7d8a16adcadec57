//! The key-derivation function: libsodium's `crypto_kdf_blake2b_derive_from_key`.

use crate::blake2b::{self, Params};
use crate::{CONTEXT_LEN, DERIVE_MAX_LEN, DERIVE_MIN_LEN, Error, MainKey};

/// Derives the subkey `subkey_id` of `main` under `context` into `out`, exactly as libsodium's
/// `crypto_kdf_blake2b_derive_from_key(out, out.len(), subkey_id, context, main)` does:
///
/// BLAKE2b(key = main, salt = LE64(subkey_id) ‖ 0⁸, personal = context ‖ 0⁸, message = empty,
/// output length = `out.len()`).
///
/// # Errors
/// [`Error::OutputLength`] when `out.len()` is not in
/// [`DERIVE_MIN_LEN`]`..=`[`DERIVE_MAX_LEN`]; `out` is then left untouched.
pub fn derive_key(
    main: &MainKey,
    context: &[u8; CONTEXT_LEN],
    subkey_id: u64,
    out: &mut [u8],
) -> Result<(), Error> {
    let len = out.len();
    if !(DERIVE_MIN_LEN..=DERIVE_MAX_LEN).contains(&len) {
        return Err(Error::OutputLength { len });
    }
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&subkey_id.to_le_bytes());
    let params = Params {
        key: Some(main.bytes()),
        salt: &salt,
        personal: &blake2b::pad16(context),
    };
    blake2b::hash(&params, &[], out);
    Ok(())
}
