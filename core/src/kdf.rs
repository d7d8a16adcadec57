//! The key-derivation function: libsodium's `crypto_kdf_blake2b_derive_from_key`.

use blake2::Blake2bVarCore;
use blake2::digest::Output;
use blake2::digest::block_api::{Block, VariableOutputCore};
use blake2::digest::block_buffer::LazyBuffer;
use zeroize::Zeroize;

use crate::{CONTEXT_LEN, DERIVE_MAX_LEN, DERIVE_MIN_LEN, Error, MAIN_KEY_LEN, MainKey};

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
    let mut personal = [0u8; 16];
    personal[..CONTEXT_LEN].copy_from_slice(context);

    // A keyed BLAKE2b of an empty message is one compression of the zero-padded key block,
    // flagged as the last block.
    let mut key_block = Block::<Blake2bVarCore>::default();
    key_block[..MAIN_KEY_LEN].copy_from_slice(main.bytes());
    let mut buffer = LazyBuffer::new(&key_block);
    key_block.as_mut_slice().zeroize();
    let mut core = Blake2bVarCore::new_with_params(&salt, &personal, MAIN_KEY_LEN, len);
    let mut full = Output::<Blake2bVarCore>::default();
    core.finalize_variable_core(&mut buffer, &mut full);
    buffer.zeroize();
    out.copy_from_slice(&full[..len]);
    full.as_mut_slice().zeroize();
    Ok(())
}
