//! The WebAssembly binding of keywheel: the npm package `keywheel`, for Node and edge workers
//! (Cloudflare's workerd) that must hold the same rotating keys as the origin servers.
//!
//! The binding is thin: every byte is computed by the core crate `keywheel`; this crate only
//! checks and converts JavaScript arguments and results. Its API follows the C library's
//! (`keywheel_derive_key` → `deriveKey`, `keywheel_ticket_keys_lookup` →
//! `TicketKeys.lookup`): two classes that hold secrets in wasm memory (`MainKey`, `TicketKeys`)
//! and functions; results are plain objects. Conventions:
//!
//! - Counters and subkey ids (64-bit) are `bigint`s in results; arguments take a `bigint` or a
//!   `number` that is a safe integer. Times, intervals, `keep` and lengths are `number`s (they
//!   are far below 2^53); a time may be omitted for `Date.now()`.
//! - An argument of the wrong type throws a `TypeError`; a value keywheel refuses throws an
//!   `Error` whose message names the value (the core's message, e.g. "interval 11 is odd; it
//!   must be even and in 10..=604800"). No input makes the module panic.
//! - Secrets: key material copied into wasm memory is wiped after use (`Zeroizing`, and the
//!   core's types wipe on drop). Keys handed to JavaScript are built as `Uint8Array`s straight
//!   from Rust buffers that are then wiped — never through wasm-bindgen's `Vec<u8>` results,
//!   which free wasm memory without wiping it. Copies in the JavaScript heap are not wiped.
//! - Size: the npm package's .wasm must stay small (build.sh checks its size), hence no std,
//!   js-sys, `core::fmt`, `Vec` or `String` here, no code that could panic, few imports, a
//!   small allocator (README "Size and speed").

#![no_std]
#![forbid(unsafe_code)]

use wasm_bindgen::prelude::*;

mod format;
mod js;
mod main_key;
mod state;
mod tfo;
mod ticket_keys;

pub use format::{format_record_len, formats};
pub use js::{Array, Object, Uint8Array};
pub use main_key::{MainKey, derive_key};
pub use state::State;
pub use tfo::{schedule_at, tfo_key_fingerprint, tfo_keys};
pub use ticket_keys::TicketKeys;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** A ticket-key strength: AES-256-CBC with a 32-byte HMAC-SHA256 key (80-byte records), or AES-128-CBC with a 16-byte HMAC key (48-byte records). */
export type Strength = "aes256" | "aes128";
/** A server's ticket-key format: one of `formats()`, the core's table ("nginx", "haproxy", ...). */
export type FormatName = string;
/** A key's role in a ticket window: "current" encrypts; "next" and "previous" only decrypt. */
export type Role = "current" | "next" | "previous";
/** What the TFO schedule says at one time (unix seconds). */
export interface Slot {
  now: number;
  /** floor(now / interval): the counter of the primary key. */
  primary: bigint;
  /** primary - 1 in the first half of the interval, primary + 1 in the second. */
  backup: bigint;
  /** The next half-interval boundary, where the backup key changes. */
  nextWake: number;
  /** [seconds, nanoseconds]: when a daemon wakes, nextWake + 2.02 s. */
  wakeTime: [number, number];
}
/** The TCP Fast Open keys to install at one time. */
export interface TfoKeys {
  /** 16 bytes: the kernel makes new cookies with it. */
  primary: Uint8Array;
  /** 16 bytes: the kernel still accepts cookies made with it. */
  backup: Uint8Array;
  /** "primary,backup" for /proc/sys/net/ipv4/tcp_fastopen_key (71 characters). */
  procfsText: string;
}
/** One key of a ticket window; `age` (1..=keep) is given for "previous". */
export interface WindowEntry { counter: bigint; role: Role; age?: number }
/** The ticket window at one time (unix seconds). */
export interface TicketSlot {
  now: number;
  interval: number;
  keep: number;
  /** (keep + 1) * interval: the longest a ticket is accepted for. */
  maxTicketAge: number;
  /** floor(now / interval): the counter of the key that encrypts new tickets. */
  current: bigint;
  /** (current + 1) * interval: when the next key takes over. */
  nextRotation: number;
  /** Every accepted key, oldest first: previous keep, ..., previous 1, current, next. */
  window: WindowEntry[];
}
/** One session-ticket key. The name is public (sent in clear in every ticket). */
export interface TicketKey {
  strength: Strength;
  counter: bigint;
  /** 16 bytes. */
  name: Uint8Array;
  /** 32 bytes (aes256) or 16 (aes128). */
  aesKey: Uint8Array;
  /** HMAC-SHA256 key: 32 bytes (aes256) or 16 (aes128). */
  hmacKey: Uint8Array;
}
/** The result of `TicketKeys.lookup`: "current" (decrypt, keep the ticket), "accepted" (decrypt, issue a fresh ticket; `role` and `age` say which key) or "not_found". */
export interface Lookup { kind: "current" | "accepted" | "not_found"; key?: TicketKey; role?: Role; age?: number }
"#;

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
