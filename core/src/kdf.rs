//! The key-derivation function: libsodium's `crypto_kdf_blake2b_derive_from_key`.

use blake2::Blake2bVarCore;
use blake2::digest::Output;
use blake2::digest::block_api::VariableOutputCore;
use blake2::digest::block_buffer::LazyBuffer;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CONTEXT_LEN, DERIVE_MAX_LEN, DERIVE_MIN_LEN, Error, MAIN_KEY_LEN, MainKey};

/// BLAKE2b's block length in bytes.
const BLOCK_LEN: usize = 128;

/// The zeros that pad the main key to a full BLAKE2b block.
const KEY_PAD: [u8; BLOCK_LEN - MAIN_KEY_LEN] = [0; BLOCK_LEN - MAIN_KEY_LEN];

/// The block buffer and the BLAKE2b state hold the key (and values derived from it): both must
/// wipe themselves when dropped. This fails to compile if blake2's `zeroize` feature is lost.
const _: () = {
    const fn wipes_on_drop<T: ZeroizeOnDrop>() {}
    wipes_on_drop::<LazyBuffer<blake2::digest::consts::U128>>();
    wipes_on_drop::<Blake2bVarCore>();
};

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
    // flagged as the last block. The key goes straight into the block buffer, with no staging
    // copy; a lazy buffer keeps a full block for finalisation, so the closures (which would
    // compress) are never called. The buffer and the state wipe themselves on drop (checked
    // above); the copy blake2 makes of the block to compress it is out of zeroize's reach.
    let mut buffer = LazyBuffer::default();
    buffer.digest_blocks(main.bytes(), |_| {});
    buffer.digest_blocks(&KEY_PAD, |_| {});
    debug_assert_eq!(buffer.get_pos(), BLOCK_LEN);
    let mut core = Blake2bVarCore::new_with_params(&salt, &personal, MAIN_KEY_LEN, len);
    let mut full = Output::<Blake2bVarCore>::default();
    core.finalize_variable_core(&mut buffer, &mut full);
    out.copy_from_slice(&full[..len]);
    full.as_mut_slice().zeroize();
    Ok(())
}
