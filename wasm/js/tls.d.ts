import type { TicketKeys } from "../pkg/keywheel.js";

/** Anything with Node's `setTicketKeys` (a `tls.Server` or `https.Server`). */
export interface TicketKeyServer {
  setTicketKeys(keys: Buffer): void;
}

/** The clock `keepTicketKeys` uses: unix seconds and timers (replaceable in tests). */
export interface Clock {
  /** Unix time in seconds (may be fractional). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface KeepTicketKeysOptions {
  /** Called after each key change (and once at start). */
  onRotate?: (info: { counter: bigint; nextRotation: number }) => void;
  /** Called with an error raised at a rotation; default: rethrown (an uncaught exception). */
  onError?: (err: unknown) => void;
  /** Default: Date.now() and unref'd timers (they do not keep the process alive). */
  clock?: Clock;
}

export interface TicketKeysKeeper {
  /** Stops the rotation timer (the key in use stays set). */
  stop(): void;
  /** The counter of the key in use. */
  readonly counter: bigint;
  /** When (unix seconds) the next key takes over. */
  readonly nextRotation: number;
}

/**
 * The 48-byte key Node's `server.setTicketKeys` takes at unix time `now` (default: now):
 * name (16) ‖ HMAC-SHA256 key (16) ‖ AES-128 key (16). `keys` must be of strength "aes128".
 * `fill(0)` it when done.
 */
export function nodeTicketKey(keys: TicketKeys, now?: number): Uint8Array;

/**
 * Keeps `server` on `keys`' current ticket key: sets it now and at every interval boundary.
 * Node holds one key, so each rotation drops the tickets issued before it (see README).
 */
export function keepTicketKeys(
  server: TicketKeyServer,
  keys: TicketKeys,
  options?: KeepTicketKeysOptions,
): TicketKeysKeeper;
