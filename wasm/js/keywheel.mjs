import * as raw from "./keywheel_raw.js";
// The public API of the npm package `keywheel` (types: pkg/keywheel.d.ts), over the narrow
// exports of the Rust crate keywheel-wasm (wasm-bindgen glue: ./keywheel_raw.js, or
// ./keywheel_raw.node.js in Node: build.sh rewrites the first line for pkg/keywheel.node.js).
//
// This layer checks and converts JavaScript arguments (a wrong type throws a TypeError, a
// value that is no integer or out of every range an Error naming it), passes bytes to the
// module through its exchange buffer, and builds the result objects. Every key byte, name and
// message about a value keywheel refuses comes from the core, through the module: a call that
// fails there leaves the core's message in the buffer, thrown here as an Error.
//
// Secrets: the exchange buffer is wiped after every call (a test checks it), a key file in
// wasm memory once copied out; the module wipes its own copies, and an object's secrets when
// it is freed (`free()`, `using`, or garbage collection through a FinalizationRegistry).
// Keys handed out are ordinary Uint8Arrays (not wiped).

const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;
const U64_END = 1n << 64n;
const COUNTER_RULE = "in 0..=18446744073709551615 (above 2^53 - 1 as a bigint)";
const TIME_RULE = "in 1000000..=100000000000";
const TREE_TIME_RULE = "in 0..=1099511627775";
const INTERVAL_RULE = "even and in 10..=604800";
/** tofurkey's default interval (one day). */
const DEFAULT_INTERVAL = 86400n;
/** The exchange buffer's length (io.rs IO_LEN); longer results (a window, a key file) are
 * left elsewhere in wasm memory (`takeOut`). */
const IO_LEN = 2048;
/** Bytes of a context, a TFO key, a ticket-key name, a seed; the longest main key read. */
const CONTEXT_LEN = 8;
const TFO_KEY_LEN = 16;
const NAME_LEN = 16;
const SEED_LEN = 32;
const MAIN_KEY_LEN = 32;
const DERIVE_MAX_LEN = 64;
/** What `raw.ticket_keys_key` writes (ticket_keys.rs: KEY_CURRENT, ...). */
const KEY_CURRENT = 0;
const KEY_BY_COUNTER = 1;
const KEY_GO_SEED = 2;
/** One byte more than the longest state file (version 1: 41 + 32 × 40 bytes). */
const STATE_FILE_READ = 41 + 32 * 40 + 1;

const memory = raw.memory;
const ioPtr = raw.io();
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let mem = new Uint8Array(memory.buffer);

/** The exchange buffer (a view, renewed when the memory has grown). */
function io() {
  if (mem.buffer !== memory.buffer) mem = new Uint8Array(memory.buffer);
  return mem.subarray(ioPtr, ioPtr + IO_LEN);
}

/** Wipes the first `n` bytes of the buffer. */
function wipe(n = IO_LEN) {
  io().fill(0, 0, n);
}

/** The core's error left in the buffer by a call that failed: an Error with its message. */
function failure() {
  const b = io();
  const len = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  const error = new Error(decoder.decode(b.subarray(4, 4 + len)));
  wipe(4 + len);
  return error;
}

/** A copy of the first `n` bytes of the buffer, which are then wiped. */
function readBytes(n) {
  const out = io().slice(0, n);
  wipe(n);
  return out;
}

/** Throws the core's error unless `ok`. */
function check(ok) {
  if (!ok) throw failure();
  return ok;
}

/** Reads the fields a call wrote (io.rs `Put`): 8-byte little-endian numbers, byte strings
 * and names after a one-byte length. */
class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }
  u64() {
    const n = this.v.getBigUint64(this.at, true);
    this.at += 8;
    return n;
  }
  /** A u64 known to be below 2^53 (times, intervals, ages), as a number. */
  num() {
    return Number(this.u64());
  }
  /** A new Uint8Array copy. */
  bytes() {
    const len = this.b[this.at];
    const out = this.b.slice(this.at + 1, this.at + 1 + len);
    this.at += 1 + len;
    return out;
  }
  text() {
    const len = this.b[this.at];
    const s = decoder.decode(this.b.subarray(this.at + 1, this.at + 1 + len));
    this.at += 1 + len;
    return s;
  }
  ticketKey() {
    return { strength: this.text(), counter: this.u64(), name: this.bytes(), aesKey: this.bytes(), hmacKey: this.bytes() };
  }
  /** A role into `obj`: `role`, and `age` for "previous". */
  role(obj) {
    obj.role = ROLES[this.b[this.at++]];
    const age = this.num();
    if (age !== 0) obj.age = age;
    return obj;
  }
}

/** The core's names: formats (and the length of one record of each), strengths and roles
 * (by their numbers in the module). */
const RECORD_LENS = [];
const [FORMATS, STRENGTHS, ROLES] = (() => {
  raw.names();
  const r = new Reader(io());
  const formats = Array.from({ length: r.num() }, () => {
    const name = r.text();
    RECORD_LENS.push(r.num());
    return name;
  });
  const list = () => Array.from({ length: r.num() }, () => r.text());
  const lists = [formats, list(), list()];
  wipe(r.at);
  return lists;
})();

// Argument checks.

const kind = (value) => (value === null ? "null" : typeof value);

function typeError(what, mustBe, value) {
  return new TypeError(`${what}${mustBe}${kind(value)}`);
}

/** An unsigned 64-bit integer argument, as a bigint: a bigint in 0..=2^64-1, or a number that
 * is a safe integer (a bigger number may not be the integer the caller wrote). Other values
 * get an Error naming them that ends with "it must be <rule>"; the range of a valid u64 is
 * left to the core, so that its message is the one every binding gives. */
function uint(value, what, rule) {
  let problem;
  if (typeof value === "number") {
    const whole = Number.isInteger(value);
    if (whole && value >= 0 && value <= MAX_SAFE_INTEGER) return BigInt(value);
    // Negative, too big or an infinity; else a fraction, or NaN.
    problem = whole || Math.abs(value) > MAX_SAFE_INTEGER ? " is out of range; it must be " : " is not an integer; it must be ";
  } else if (typeof value === "bigint") {
    if (value >= 0n && value < U64_END) return value;
    problem = " is out of range; it must be ";
  } else {
    throw typeError(what, " must be a number or a bigint, not ", value);
  }
  throw new Error(`${what} ${String(value)}${problem}${rule}`);
}

const counter = (value, what) => uint(value, what, COUNTER_RULE);

/** A unix time in seconds; `undefined` means now (Date.now(), rounded down to a second). */
function time(value) {
  if (value === undefined) return BigInt(Math.floor(Date.now() / 1000));
  return uint(value, "time", TIME_RULE);
}

const interval = (value) => uint(value, "interval", INTERVAL_RULE);

/** A TFO interval, checked by the core (default: tofurkey's). */
function tfoInterval(value) {
  if (value === undefined) return DEFAULT_INTERVAL;
  const i = interval(value);
  check(raw.schedule_check(i));
  return i;
}

/** A string argument as UTF-8 bytes. A string with a lone surrogate has no UTF-8 form (it
 * would silently become U+FFFD), so it is refused. */
function utf8(value, what) {
  if (typeof value !== "string") throw typeError(what, " must be a string, not ", value);
  if (!value.isWellFormed()) {
    throw new Error(`${what} ${JSON.stringify(value)} is not valid Unicode (it holds a lone surrogate)`);
  }
  return encoder.encode(value);
}

/** A Uint8Array argument. */
function bytes(value, what) {
  if (!(value instanceof Uint8Array)) throw typeError(what, " must be a Uint8Array, not ", value);
  return value;
}

/** `Error: <what><"value"> is unknown; it must be <lead><names joined by sep, in quote>`. */
function nameIndex(value, what, names, lead, sep, quote) {
  if (typeof value !== "string") throw typeError(what, " must be a string, not ", value);
  const i = names.indexOf(value);
  if (i >= 0) return i;
  throw new Error(`${what} ${JSON.stringify(value)} is unknown; it must be ${lead}${quote}${names.join(sep)}${quote}`);
}

const formatIndex = (value) => nameIndex(value, "format", FORMATS, "one of ", ", ", "");

/** Copies the first bytes of `src` (as many as fit in `max`) into the buffer. */
function put(src, max = src.length) {
  io().set(src.length > max ? src.subarray(0, max) : src);
}

// Objects: each public object holds the handle of its object in the module (0 once freed).

const HANDLE = Symbol("keywheel handle");
/** Frees the module's object of a garbage-collected public object (its secrets are wiped). */
const registry = new FinalizationRegistry((handle) => raw.free(handle));

/** The handle of `obj`, which must be a live `Class` object. */
function own(obj, Class) {
  if (!(obj instanceof Class)) throw new Error(`expected instance of ${Class.name}`);
  const h = obj[HANDLE];
  if (!h) throw new Error("null pointer passed to rust");
  return h;
}

/** `obj` holding the module's object `handle`, or the core's error if `handle` is 0. */
function adopt(obj, handle) {
  check(handle);
  obj[HANDLE] = handle;
  registry.register(obj, handle, obj);
  return obj;
}

/** A new `Class` object holding `handle`. */
const wrap = (Class, handle) => adopt(Object.create(Class.prototype), handle);

class Handle {
  /** Wipes the object's secrets in wasm memory and frees it. */
  free() {
    const h = this[HANDLE];
    if (!h) return;
    this[HANDLE] = 0;
    registry.unregister(this);
    raw.free(h);
  }
  [Symbol.dispose]() {
    this.free();
  }
}

/** The result a call left in wasm memory (a window, a key file), copied; then wiped there. */
function takeOut() {
  const r = new Reader(io());
  const ptr = r.num();
  const len = r.num();
  wipe(r.at);
  if (mem.buffer !== memory.buffer) mem = new Uint8Array(memory.buffer);
  const data = mem.slice(ptr, ptr + len);
  raw.out_clear();
  return data;
}

/**
 * The cluster's long-term main secret: the first 32 bytes of the key material. Its bytes live
 * in wasm memory and are wiped by `free()` (or when the object is garbage-collected).
 */
export class MainKey extends Handle {
  constructor(material) {
    super();
    const m = bytes(material, "main key");
    const n = Math.min(m.length, MAIN_KEY_LEN);
    put(m, n);
    try {
      adopt(this, raw.main_key_new(n));
    } finally {
      wipe(MAIN_KEY_LEN);
    }
  }

  fingerprint() {
    raw.main_key_fingerprint(own(this, MainKey));
    return readBytes(8);
  }
}

export function deriveKey(main, context, subkeyId, length) {
  const m = own(main, MainKey);
  let ctx;
  if (typeof context === "string") {
    ctx = utf8(context, "context");
  } else if (context instanceof Uint8Array) {
    ctx = context;
  } else {
    throw typeError("context", " must be a Uint8Array or a string, not ", context);
  }
  if (ctx.length !== CONTEXT_LEN) throw new Error(`context is ${ctx.length} bytes; it must be 8 bytes`);
  const id = counter(subkeyId, "subkey id");
  const rule = "in 16..=64";
  const len = uint(length, "output length", rule);
  // Longer than any derived key: named as given. Shorter lengths are the core's to refuse.
  if (len > DERIVE_MAX_LEN) throw new Error(`output length ${String(length)} is out of range; it must be ${rule}`);
  const n = Number(len);
  put(ctx);
  try {
    check(raw.derive_key(m, id, n));
    return io().slice(0, n);
  } finally {
    wipe(DERIVE_MAX_LEN);
  }
}

export function scheduleAt(intervalValue, now) {
  const i = tfoInterval(intervalValue);
  check(raw.schedule_at(i, time(now)));
  const r = new Reader(io());
  const slot = { now: r.num(), primary: r.u64(), backup: r.u64(), nextWake: r.num(), wakeTime: [r.num(), r.num()] };
  wipe(r.at);
  return slot;
}

/** TFO keys written by the module. */
function readTfoKeys() {
  const r = new Reader(io());
  try {
    return { primary: r.bytes(), backup: r.bytes(), procfsText: r.text() };
  } finally {
    wipe(r.at);
  }
}

export function tfoKeys(main, intervalValue, now) {
  const m = own(main, MainKey);
  const i = tfoInterval(intervalValue);
  check(raw.tfo_keys(m, i, time(now)));
  return readTfoKeys();
}

export function tfoKeyFingerprint(key) {
  const k = bytes(key, "TFO key");
  if (k.length !== TFO_KEY_LEN) throw new Error(`TFO key is ${k.length} bytes; it must be 16 bytes`);
  put(k);
  try {
    raw.tfo_key_fingerprint();
    return readBytes(8);
  } finally {
    wipe(TFO_KEY_LEN);
  }
}

export function formats() {
  return [...FORMATS];
}

export function formatRecordLen(format) {
  return RECORD_LENS[formatIndex(format)];
}

/**
 * A forward-secure state (SPEC.md section 6): the tree nodes covering the unix seconds from
 * its start `s0` on, and nothing that derives an earlier second.
 */
export class State extends Handle {
  constructor(seed, s0) {
    super();
    const s = bytes(seed, "seed");
    const start = uint(s0, "time", TREE_TIME_RULE);
    if (s.length === SEED_LEN) put(s);
    try {
      adopt(this, raw.state_new(s.length, start));
    } finally {
      wipe(SEED_LEN);
    }
  }

  static fromBytes(data) {
    const d = bytes(data, "state file");
    const n = Math.min(d.length, STATE_FILE_READ);
    put(d, n);
    try {
      return wrap(State, raw.state_from_bytes(n, d.length));
    } finally {
      wipe(n);
    }
  }

  toBytes() {
    const n = raw.state_to_bytes(own(this, State));
    try {
      return io().slice(0, n);
    } finally {
      wipe(n);
    }
  }

  advance(s1) {
    const h = own(this, State);
    check(raw.state_advance(h, uint(s1, "time", TREE_TIME_RULE)));
  }

  get s0() {
    return this.#info().s0;
  }

  get rootId() {
    return this.#info().rootId;
  }

  get nodeCount() {
    return this.#info().nodeCount;
  }

  /** The start, the number of nodes and the root's id. */
  #info() {
    raw.state_info(own(this, State));
    const r = new Reader(io());
    const info = { s0: r.num(), nodeCount: r.num(), rootId: io().slice(16, 24) };
    wipe(24);
    return info;
  }

  tfoKeys(intervalValue, now) {
    const h = own(this, State);
    const i = tfoInterval(intervalValue);
    check(raw.state_tfo_keys(h, i, time(now)));
    return readTfoKeys();
  }
}

/** The label, strength and schedule arguments of `new TicketKeys` and `TicketKeys.fromState`,
 * checked in the order of the spec: label, interval, keep (then the strength's name). */
function ticketArgs(label, strength, intervalValue, keep) {
  const l = utf8(label, "label");
  check(raw.label_check(l.length));
  const i = interval(intervalValue);
  let k = 1n;
  if (keep !== undefined) {
    // The interval is checked before keep, as the core does.
    check(raw.ticket_schedule_check(i, 0n));
    k = uint(keep, "keep", `in 0..=${raw.max_keep(i)}`);
  }
  check(raw.ticket_schedule_check(i, k));
  const s = nameIndex(strength, "strength", STRENGTHS, "", '" or "', '"');
  return [l, s, i, k];
}

/** The key of a ticket (written by the module), then the buffer wiped. */
function readTicketKey() {
  const r = new Reader(io());
  try {
    return r.ticketKey();
  } finally {
    wipe(r.at);
  }
}

/**
 * The session-ticket keys of one label in one strength and rotation schedule. It holds the
 * label's key (derived from the main key) in wasm memory, wiped by `free()`.
 */
export class TicketKeys extends Handle {
  constructor(main, label, strength, intervalValue, keep) {
    super();
    const m = own(main, MainKey);
    const [l, s, i, k] = ticketArgs(label, strength, intervalValue, keep);
    adopt(this, raw.ticket_keys_new(m, label, s, i, k));
  }

  static fromState(state, label, strength, intervalValue, keep, now) {
    const st = own(state, State);
    const [l, s, i, k] = ticketArgs(label, strength, intervalValue, keep);
    const t = time(now);
    return wrap(TicketKeys, raw.ticket_keys_from_state(st, label, s, i, k, t));
  }

  advance(now) {
    const h = own(this, TicketKeys);
    check(raw.ticket_keys_advance(h, time(now)));
  }

  get stateStart() {
    const s = raw.ticket_keys_state_start(own(this, TicketKeys));
    return s < 0 ? undefined : s;
  }

  slot(now) {
    const h = own(this, TicketKeys);
    check(raw.ticket_keys_slot(h, time(now)));
    const r = new Reader(takeOut());
    const slot = {
      now: r.num(),
      interval: r.num(),
      keep: r.num(),
      maxTicketAge: r.num(),
      current: r.u64(),
      nextRotation: r.num(),
    };
    slot.window = Array.from({ length: r.num() }, () => r.role({ counter: r.u64() }));
    return slot;
  }

  current(now) {
    const h = own(this, TicketKeys);
    check(raw.ticket_keys_key(h, KEY_CURRENT, time(now)));
    return readTicketKey();
  }

  byCounter(c) {
    const h = own(this, TicketKeys);
    check(raw.ticket_keys_key(h, KEY_BY_COUNTER, counter(c, "counter")));
    return readTicketKey();
  }

  goSeed(c) {
    const h = own(this, TicketKeys);
    check(raw.ticket_keys_key(h, KEY_GO_SEED, counter(c, "counter")));
    try {
      return io().slice(0, 32);
    } finally {
      wipe(32);
    }
  }

  lookup(name, now) {
    const h = own(this, TicketKeys);
    const n = bytes(name, "name");
    // Names are public; one byte more than a name is enough to tell a longer one.
    const len = Math.min(n.length, NAME_LEN + 1);
    put(n, len);
    check(raw.ticket_keys_lookup(h, len, time(now)));
    const rd = new Reader(io());
    try {
      const found = { kind: rd.text() };
      if (rd.u64() === 1n) {
        found.key = rd.ticketKey();
        rd.role(found);
      }
      return found;
    } finally {
      wipe(Math.max(rd.at, len));
    }
  }

  render(format, now) {
    const h = own(this, TicketKeys);
    const f = formatIndex(format);
    check(raw.ticket_keys_render(h, f, 0, time(now)));
    return takeOut();
  }

  renderRollover(format, decryptOnly, now) {
    const h = own(this, TicketKeys);
    const other = own(decryptOnly, TicketKeys);
    const f = formatIndex(format);
    check(raw.ticket_keys_render(h, f, other, time(now)));
    return takeOut();
  }
}
