// Every bad input of the npm package: a wrong type throws a TypeError, a bad value an Error
// whose message names the value; nothing breaks the module instance (the last test uses it
// after every failure above). Messages of values the core checks are the core's own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MainKey, TicketKeys, deriveKey, scheduleAt, tfoKeys } from "keywheel";
import { hex } from "./helpers.mjs";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const main = new MainKey(KEY);
const T = 1700000000;
const COUNTER_RULE = "in 0..=18446744073709551615 (above 2^53 - 1 as a bigint)";

/** Asserts that f throws exactly `type` with exactly `message`. */
function throws(f, type, message) {
  assert.throws(f, (e) => {
    assert.equal(e.constructor, type, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

test("main key: type and length", () => {
  for (const [v, t] of [["00".repeat(32), "string"], [Array(32).fill(1), "object"], [new ArrayBuffer(32), "object"], [null, "null"], [undefined, "undefined"], [32, "number"]]) {
    throws(() => new MainKey(v), TypeError, `main key must be a Uint8Array, not ${t}`);
  }
  throws(() => new MainKey(), TypeError, "main key must be a Uint8Array, not undefined");
  for (const n of [0, 1, 16, 31]) {
    throws(() => new MainKey(new Uint8Array(n)), Error, `main key is ${n} bytes; it must be at least 32 bytes`);
  }
  // All zero (SPEC.md 1): refused, however long; 31 zero bytes are too short first.
  const zero = "main key is all zero bytes; it must be 32 random bytes (generate them with `keywheel gen-secret`)";
  for (const material of [new Uint8Array(32), new Uint8Array(64), Uint8Array.from([...Array(32).fill(0), 0xff])]) {
    throws(() => new MainKey(material), Error, zero);
  }
  throws(() => new MainKey(new Uint8Array(31)), Error, "main key is 31 bytes; it must be at least 32 bytes");
  new MainKey(Uint8Array.from([...Array(31).fill(0), 1])).free();
  // Longer material (here a Node Buffer, a Uint8Array) is accepted; only 32 bytes are used.
  const long = Buffer.concat([Buffer.from(KEY), Buffer.alloc(10_000_000, 0xff)]);
  assert.equal(hex(deriveKey(new MainKey(long), "tofurkey", 7n, 32)), hex(deriveKey(main, "tofurkey", 7n, 32)));
});

test("deriveKey: context", () => {
  throws(() => deriveKey(main, 12345678, 1n, 16), TypeError, "context must be a Uint8Array or a string, not number");
  throws(() => deriveKey(main, undefined, 1n, 16), TypeError, "context must be a Uint8Array or a string, not undefined");
  for (const [ctx, n] of [["tofurke", 7], ["tofurkey!", 9], ["", 0], [new Uint8Array(7), 7], [new Uint8Array(9), 9], [new Uint8Array(1000), 1000], ["tofurké!", 9]]) {
    throws(() => deriveKey(main, ctx, 1n, 16), Error, `context is ${n} bytes; it must be 8 bytes`);
  }
  // A string context is its UTF-8 bytes ("é" is two).
  assert.equal(hex(deriveKey(main, "tofurké", 1n, 16)), hex(deriveKey(main, Buffer.from("tofurké"), 1n, 16)));
  throws(() => deriveKey(main, "tofurk\ud800", 1n, 16), Error, 'context "tofurk\\ud800" is not valid Unicode (it holds a lone surrogate)');
});

test("deriveKey: subkey id", () => {
  for (const v of [-1n, 2n ** 64n, -(2n ** 70n), -1, 2 ** 53, 2 ** 64, 1e300, -Infinity, Infinity]) {
    throws(() => deriveKey(main, "tofurkey", v, 16), Error, `subkey id ${String(v)} is out of range; it must be ${COUNTER_RULE}`);
  }
  for (const v of [1.5, NaN, -0.5]) {
    throws(() => deriveKey(main, "tofurkey", v, 16), Error, `subkey id ${String(v)} is not an integer; it must be ${COUNTER_RULE}`);
  }
  for (const [v, t] of [["1", "string"], [undefined, "undefined"], [null, "null"], [{}, "object"], [true, "boolean"], [Symbol("x"), "symbol"]]) {
    throws(() => deriveKey(main, "tofurkey", v, 16), TypeError, `subkey id must be a number or a bigint, not ${t}`);
  }
  // The largest ids are fine, as bigints; 2^53 - 1 also as a number.
  assert.equal(deriveKey(main, "tofurkey", 2n ** 64n - 1n, 16).length, 16);
  assert.equal(hex(deriveKey(main, "tofurkey", 2 ** 53 - 1, 16)), hex(deriveKey(main, "tofurkey", 2n ** 53n - 1n, 16)));
});

test("deriveKey: length", () => {
  for (const n of [0, 15, 65, 128, 2 ** 32 + 16, 2 ** 53 - 1]) {
    throws(() => deriveKey(main, "tofurkey", 1n, n), Error, `output length ${n} is out of range; it must be in 16..=64`);
  }
  throws(() => deriveKey(main, "tofurkey", 1n, 16.5), Error, "output length 16.5 is not an integer; it must be in 16..=64");
  throws(() => deriveKey(main, "tofurkey", 1n, -16), Error, "output length -16 is out of range; it must be in 16..=64");
  throws(() => deriveKey(main, "tofurkey", 1n, "16"), TypeError, "output length must be a number or a bigint, not string");
  throws(() => deriveKey(main, "tofurkey", 1n), TypeError, "output length must be a number or a bigint, not undefined");
  // A shorter output is not a prefix of a longer one; bigint lengths work too.
  assert.notEqual(hex(deriveKey(main, "tofurkey", 1n, 32)).slice(0, 32), hex(deriveKey(main, "tofurkey", 1n, 16n)));
});

test("main key argument", () => {
  for (const v of [{}, null, KEY, new TicketKeys(main, "x", "aes256", 3600)]) {
    throws(() => deriveKey(v, "tofurkey", 1n, 16), Error, "expected instance of MainKey");
    throws(() => tfoKeys(v, 86400, T), Error, "expected instance of MainKey");
    throws(() => new TicketKeys(v, "x", "aes256", 3600), Error, "expected instance of MainKey");
  }
  const freed = new MainKey(KEY);
  freed.free();
  throws(() => deriveKey(freed, "tofurkey", 1n, 16), Error, "null pointer passed to rust");
});

test("TFO schedule: interval and time", () => {
  for (const f of [(i, t) => scheduleAt(i, t), (i, t) => tfoKeys(main, i, t)]) {
    throws(() => f(11, T), Error, "interval 11 is odd; it must be even and in 10..=604800");
    throws(() => f(8, T), Error, "interval 8 is out of range; it must be even and in 10..=604800");
    throws(() => f(-2, T), Error, "interval -2 is out of range; it must be even and in 10..=604800");
    throws(() => f(3600.5, T), Error, "interval 3600.5 is not an integer; it must be even and in 10..=604800");
    throws(() => f("86400", T), TypeError, "interval must be a number or a bigint, not string");
    throws(() => f(null, T), TypeError, "interval must be a number or a bigint, not null");
    throws(() => f(86400, 999999), Error, "time 999999 is out of range; it must be in 1000000..=100000000000");
    throws(() => f(86400, 1e11 + 1), Error, "time 100000000001 is out of range; it must be in 1000000..=100000000000");
    throws(() => f(86400, -1), Error, "time -1 is out of range; it must be in 1000000..=100000000000");
    throws(() => f(86400, 1e300), Error, "time 1e+300 is out of range; it must be in 1000000..=100000000000");
    throws(() => f(86400, T + 0.5), Error, "time 1700000000.5 is not an integer; it must be in 1000000..=100000000000");
    throws(() => f(86400, NaN), Error, "time NaN is not an integer; it must be in 1000000..=100000000000");
    throws(() => f(86400, new Date()), TypeError, "time must be a number or a bigint, not object");
    throws(() => f(86400, null), TypeError, "time must be a number or a bigint, not null");
    throws(() => f(86400, "1700000000"), TypeError, "time must be a number or a bigint, not string");
    // bigints are accepted where numbers are.
    assert.deepEqual(f(86400n, BigInt(T)), f(86400, T));
  }
});

test("time defaults to Date.now()", () => {
  const before = Math.floor(Date.now() / 1000);
  const slot = scheduleAt(10);
  const tslot = new TicketKeys(main, "x", "aes256", 10, 0).slot();
  const after = Math.floor(Date.now() / 1000);
  for (const now of [slot.now, tslot.now]) assert.ok(before <= now && now <= after, `${before} <= ${now} <= ${after}`);
  assert.equal(slot.primary, BigInt(Math.floor(slot.now / 10)));
});

test("TicketKeys: label, strength, interval, keep", () => {
  throws(() => new TicketKeys(main, 123, "aes256", 3600), TypeError, "label must be a string, not number");
  throws(() => new TicketKeys(main, undefined, "aes256", 3600), TypeError, "label must be a string, not undefined");
  throws(() => new TicketKeys(main, "", "aes256", 3600), Error, "label is 0 bytes; it must be 1..=64 bytes of UTF-8");
  throws(() => new TicketKeys(main, "ü".repeat(33), "aes256", 3600), Error, "label is 66 bytes; it must be 1..=64 bytes of UTF-8");
  throws(() => new TicketKeys(main, "a\ud800", "aes256", 3600), Error, 'label "a\\ud800" is not valid Unicode (it holds a lone surrogate)');
  throws(() => new TicketKeys(main, "x", "aes512", 3600), Error, 'strength "aes512" is unknown; it must be "aes256" or "aes128"');
  throws(() => new TicketKeys(main, "x", "AES256", 3600), Error, 'strength "AES256" is unknown; it must be "aes256" or "aes128"');
  throws(() => new TicketKeys(main, "x", 256, 3600), TypeError, "strength must be a string, not number");
  throws(() => new TicketKeys(main, "x", "aes256"), TypeError, "interval must be a number or a bigint, not undefined");
  throws(() => new TicketKeys(main, "x", "aes256", 3601), Error, "interval 3601 is odd; it must be even and in 10..=604800");
  throws(() => new TicketKeys(main, "x", "aes256", 86400, 7), Error,
    "keep 7 with interval 86400 accepts tickets up to 691200 s old; (keep + 1) * interval must be at most 604800 (7 days, RFC 8446), so keep must be in 0..=6");
  throws(() => new TicketKeys(main, "x", "aes256", 86400, -1), Error, "keep -1 is out of range; it must be in 0..=6");
  throws(() => new TicketKeys(main, "x", "aes256", 3600, 0.5), Error, "keep 0.5 is not an integer; it must be in 0..=167");
  throws(() => new TicketKeys(main, "x", "aes256", 3600, "1"), TypeError, "keep must be a number or a bigint, not string");
  // The order of the spec: label, then interval, then keep.
  throws(() => new TicketKeys(main, "", "aes512", 11, -1), Error, "label is 0 bytes; it must be 1..=64 bytes of UTF-8");
  throws(() => new TicketKeys(main, "x", "aes256", 11, -1), Error, "interval 11 is odd; it must be even and in 10..=604800");
  // keep defaults to 1.
  assert.equal(new TicketKeys(main, "x", "aes256", 3600).slot(T).keep, 1);
});

test("TicketKeys: counters, names, formats", () => {
  const keys = new TicketKeys(main, "example.com", "aes256", 3600, 2);
  for (const v of [-1n, 2n ** 64n, -1, 2 ** 53]) {
    throws(() => keys.byCounter(v), Error, `counter ${String(v)} is out of range; it must be ${COUNTER_RULE}`);
  }
  throws(() => keys.byCounter("472222"), TypeError, "counter must be a number or a bigint, not string");
  throws(() => keys.lookup("27bacd5e6ff059140338f970af998d42", T), TypeError, "name must be a Uint8Array, not string");
  throws(() => keys.lookup([1, 2, 3], T), TypeError, "name must be a Uint8Array, not object");
  // A name of another length than 16 bytes is never found, whatever its first 16 bytes.
  const name = keys.current(T).name;
  assert.equal(keys.lookup(name, T).kind, "current");
  for (const n of [0, 1, 15, 17, 10_000_000]) {
    const other = new Uint8Array(n);
    other.set(name.subarray(0, Math.min(n, 16)));
    assert.deepEqual(keys.lookup(other, T), { kind: "not_found" });
  }
  throws(() => keys.render("iis", T), Error,
    'format "iis" is unknown; it must be one of nginx, nginx48, haproxy, haproxy48, apache, ats, openssl');
  throws(() => keys.render(7, T), TypeError, "format must be a string, not number");
  throws(() => keys.render("nginx48", T), Error, "the key's strength does not match format nginx48");
  throws(() => keys.render("haproxy", T), Error,
    "keep 2 does not fit format haproxy: HAProxy uses exactly 3 keys (previous, current, next), so keep must be 1");
  throws(() => keys.render("nginx", 5), Error, "time 5 is out of range; it must be in 1000000..=100000000000");
  const freed = new TicketKeys(main, "x", "aes256", 3600);
  freed.free();
  throws(() => freed.slot(T), Error, "null pointer passed to rust");
});

test("the instance keeps working after every failure", () => {
  // tofurkey's own test (SPEC.md 3.3), on the instance that refused everything above.
  const m = new MainKey(Buffer.from("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b", "hex"));
  assert.equal(tfoKeys(m, 86400, 1000000).procfsText,
    "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577");
  const keys = new TicketKeys(main, "example.com", "aes256", 3600, 2);
  for (let i = 0; i < 3; i++) {
    assert.throws(() => keys.render("haproxy", T));
    assert.equal(keys.slot(T).window.length, 4);
  }
});
