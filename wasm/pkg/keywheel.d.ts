/* tslint:disable */
/* eslint-disable */
// The public types of the npm package keywheel, written by hand with js/keywheel.mjs (the
// JavaScript layer); tests/node/package.test.mjs fails when the two disagree.

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



/**
 * The cluster's long-term main secret: the first 32 bytes of the key material. Its bytes live
 * in wasm memory and are wiped by `free()` (or when the object is garbage-collected); nothing
 * reads them back.
 */
export class MainKey {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The main key's public 8-byte fingerprint: equal on nodes with the same main key; it
     * reveals nothing about the key.
     */
    fingerprint(): Uint8Array;
    /**
     * The main key made of the first 32 bytes of `material` (at least 32 bytes; longer
     * material is accepted and the rest ignored, as tofurkey reads its key file).
     */
    constructor(material: Uint8Array);
}

/**
 * A forward-secure state (SPEC.md section 6): the tree nodes covering the unix seconds from
 * its start `s0` on, and nothing that derives an earlier second. Its nodes live in wasm
 * memory, wiped when `advance` replaces them and by `free()` (or garbage collection).
 */
export class State {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Moves the start forward to `s1` (never backwards); every node it replaces is wiped.
     */
    advance(s1: bigint | number): void;
    /**
     * Reads a state from the bytes of a state file (version 1, strict: every malformed field,
     * truncation, trailing byte or bad checksum is refused with a message naming it).
     */
    static fromBytes(data: Uint8Array): State;
    /**
     * The state at `s0` of the tree of `seed` (exactly 32 random bytes made for this mode).
     */
    constructor(seed: Uint8Array, s0: bigint | number);
    /**
     * The forward-secure TCP Fast Open keys (not tofurkey's) to install at unix time `now`
     * (default: now) with `interval` (default 86400).
     */
    tfoKeys(interval?: number, now?: number): TfoKeys;
    /**
     * The state file (version 1, 41 + 32 × nodeCount bytes). It is a secret.
     */
    toBytes(): Uint8Array;
    /**
     * The number of nodes held (1..=40).
     */
    readonly nodeCount: number;
    /**
     * The public 8-byte id of the tree's root: equal on every node of one seed.
     */
    readonly rootId: Uint8Array;
    /**
     * The start: the first second whose keys this state derives.
     */
    readonly s0: number;
}

/**
 * The session-ticket keys of one label (a service or cluster name, 1..=64 bytes of UTF-8) in
 * one strength and rotation schedule: `interval` (even, 10..=604800 s) and `keep`, how many
 * previous keys stay accepted ((keep + 1) × interval ≤ 604800, RFC 8446's 7 days). It holds
 * the label's key (derived from the main key) in wasm memory, wiped by `free()`.
 */
export class TicketKeys {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Forward-secure mode: punctures this object's copy of the state up to the start of the
     * oldest key accepted at `now` (default: now; the nodes it replaces are wiped), after
     * checking that every key accepted at `now` can be derived. Main-key mode: checks `now`.
     */
    advance(now?: number): void;
    /**
     * The key of interval `counter` (any counter, in the window or not).
     */
    byCounter(counter: bigint | number): TicketKey;
    /**
     * The key that encrypts new tickets at unix time `now` (default: now).
     */
    current(now?: number): TicketKey;
    /**
     * The keys of `label` in forward-secure mode from `state` (SPEC.md section 6): the same
     * object as `new TicketKeys(main, ...)`, names, keys and every format as in main-key mode.
     * It keeps its own copy of the state (wiped by `free()`), advanced to the start of the
     * oldest key accepted at `now` (default: now), so it derives no older key; `advance`
     * moves it on. `state` stays the caller's.
     */
    static fromState(state: State, label: string, strength: Strength, interval: number, keep?: number, now?: number): TicketKeys;
    /**
     * The Go crypto/tls / Caddy session-ticket seed (32 bytes) of interval `counter`.
     */
    goSeed(counter: bigint | number): Uint8Array;
    /**
     * Looks a ticket's 16-byte key name up among the keys accepted at unix time `now`
     * (default: now). A name of another length is never found.
     */
    lookup(name: Uint8Array, now?: number): Lookup;
    /**
     * The keys of `label` under `main` in `strength` ("aes256" or "aes128"), rotated every
     * `interval` seconds, with `keep` previous keys accepted (default 1).
     */
    constructor(main: MainKey, label: string, strength: Strength, interval: number, keep?: number);
    /**
     * Main-key rollover (SPEC.md §5.2): `render(format, now)`, then, for formats that hold any
     * number of keys (nginx, nginx48, ats), the same window of `decryptOnly` (the
     * `TicketKeys` of the same label under the previous or the next main key) as decrypt-only
     * keys. Other formats get this object's keys alone.
     */
    renderRollover(format: FormatName, decryptOnly: TicketKeys, now?: number): Uint8Array;
    /**
     * The key file of `format` at unix time `now` (default: now): every key the format holds,
     * in its order — for nginx, which takes one key per file, the files concatenated (file i
     * is bytes i × 80 (or 48) to (i + 1) × 80). The key's strength must be the format's.
     */
    render(format: FormatName, now?: number): Uint8Array;
    /**
     * The ticket window at unix time `now` (default: now).
     */
    slot(now?: number): TicketSlot;
    /**
     * Forward-secure mode: the start of this object's copy of the state (unix seconds);
     * `undefined` in main-key mode.
     */
    readonly stateStart: number | undefined;
}

/**
 * Derives `length` bytes (16..=64): the subkey `subkeyId` of `main` under the 8-byte `context`
 * (a `Uint8Array`, or a string of 8 UTF-8 bytes such as `"tofurkey"`). This is libsodium's
 * `crypto_kdf_blake2b_derive_from_key`: BLAKE2b(key = main, salt = LE64(subkeyId) ‖ 0⁸,
 * personal = context ‖ 0⁸, empty message).
 */
export function deriveKey(main: MainKey, context: Uint8Array | string, subkeyId: bigint | number, length: number): Uint8Array;

/**
 * The length of one record of `format`: 80 or 48 raw bytes, or a base64 line with its newline
 * (109 or 65) for HAProxy. For nginx, which takes one key per file, file i of
 * `TicketKeys.render` is record i.
 */
export function formatRecordLen(format: FormatName): number;

/**
 * The names of the server formats, from the core's table: "nginx", "nginx48", ...
 */
export function formats(): FormatName[];

/**
 * The TFO schedule: a slot at unix time `now` (seconds; default: now) for `interval` (even,
 * 10..=604800 s; default 86400, tofurkey's).
 */
export function scheduleAt(interval?: number, now?: number): Slot;

/**
 * The public 8-byte fingerprint of one 16-byte TCP Fast Open key (e.g. `tfoKeys(...).primary`):
 * nodes whose primary keys have the same fingerprint accept each other's cookies.
 */
export function tfoKeyFingerprint(key: Uint8Array): Uint8Array;

/**
 * The TCP Fast Open keys to install at unix time `now` (default: now) with `interval`
 * (default 86400): tofurkey 1.3.4's keys.
 */
export function tfoKeys(main: MainKey, interval?: number, now?: number): TfoKeys;
