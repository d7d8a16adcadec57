//! The WebAssembly binding of keywheel: the npm package `keywheel`, for Node and edge workers
//! (Cloudflare's workerd) that must hold the same rotating keys as the origin servers.
//!
//! Two layers. This crate is the inner one: narrow exports that take and return numbers (main
//! keys, ticket keys and states are handles into one table, `objects`; `u64`s are bigints),
//! with byte arguments, results and error messages passed through one exchange buffer in wasm
//! memory (`io`). `js/keywheel.mjs` is the outer one, the package's public API
//! (`pkg/keywheel.d.ts`): it checks and converts JavaScript arguments, throws, and builds the
//! result objects. Every byte and every message about a value keywheel refuses is the core's.
//!
//! - Secrets: key material copied into wasm memory is wiped after use (`Zeroizing`, and the
//!   core's types wipe on drop, also when an object is freed); JavaScript wipes the exchange
//!   buffer after each call, and a key file is wiped once JavaScript has copied it
//!   (`out_clear`). Copies in the JavaScript heap are not wiped.
//! - Size: the npm package's .wasm must stay small (build.sh checks it), hence no std, no
//!   `JsValue` arguments or results and no wasm-bindgen classes (each costs conversion glue or
//!   borrow checks in the module), no code that could panic, a small allocator (README "Size
//!   and speed").

#![no_std]
#![forbid(unsafe_code)]

mod format;
mod io;
mod main_key;
mod objects;
mod state;
mod tfo;
mod ticket_keys;

pub use format::names;
pub use io::{io, out_clear};
pub use main_key::{derive_key, main_key_fingerprint, main_key_new};
pub use objects::free;
pub use state::{
    state_advance, state_from_bytes, state_info, state_new, state_tfo_keys, state_to_bytes,
};
pub use tfo::{schedule_at, schedule_check, tfo_key_fingerprint, tfo_keys};
pub use ticket_keys::{
    label_check, max_keep, ticket_keys_advance, ticket_keys_from_state, ticket_keys_key,
    ticket_keys_lookup, ticket_keys_new, ticket_keys_render, ticket_keys_slot,
    ticket_keys_state_start, ticket_schedule_check,
};

/// Without std (the npm package's build), a panic traps at once. The core never panics and the
/// binding checks every input, so this is a last resort, and it keeps the .wasm small.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// A small allocator (see Cargo.toml), single-threaded wasm only.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());
