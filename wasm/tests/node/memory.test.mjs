// The module's memory, seen from outside (the memory of the wasm-bindgen glue that the package
// entry imports, so the same instance): what is freed is reused, and what the JavaScript layer
// passes through the exchange buffer does not stay there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MainKey, State, TicketKeys, deriveKey, tfoKeys } from "keywheel";
import * as raw from "../../pkg/keywheel_raw.node.js";

const T = 1700000000;
const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
const SEED = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
/** The exchange buffer's bytes (2048, io.rs IO_LEN). */
const io = () => new Uint8Array(raw.memory.buffer, raw.io(), 2048);
const zero = (bytes) => bytes.every((b) => b === 0);

/** Whether `needle` occurs in `hay`. */
function contains(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

test("objects, key files and windows freed are reused: memory stays as large as one round", () => {
  const round = (i) => {
    const main = new MainKey(KEY);
    const keys = new TicketKeys(main, `label ${i % 97}`, "aes256", 3600, i % 5);
    assert.equal(keys.render("nginx", T).length, 80 * (2 + (i % 5)));
    assert.equal(keys.slot(T).window.length, 2 + (i % 5));
    const st = new State(SEED, T - 7200);
    const fs = TicketKeys.fromState(st, "fs", "aes128", 3600, 1, T);
    assert.equal(fs.render("ats", T).length, 48 * 3);
    for (const o of [fs, st, keys, main]) o.free();
  };
  round(0);
  const size = raw.memory.buffer.byteLength;
  for (let i = 1; i < 1500; i++) round(i);
  assert.equal(raw.memory.buffer.byteLength, size);
});

test("a garbage-collected object is freed", { skip: typeof globalThis.gc !== "function" && "needs node --expose-gc" }, async () => {
  // Run with --expose-gc to include it; the objects' FinalizationRegistry frees them.
  const round = async () => {
    for (let i = 0; i < 200; i++) new TicketKeys(new MainKey(KEY), "gc", "aes256", 3600, 2);
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  };
  await round();
  await round();
  const size = raw.memory.buffer.byteLength;
  for (let r = 0; r < 50; r++) {
    await round();
  }
  assert.equal(raw.memory.buffer.byteLength, size);
});

test("nothing stays in the exchange buffer after a call", () => {
  const main = new MainKey(KEY);
  const keys = new TicketKeys(main, "example.com", "aes256", 3600, 1);
  const st = new State(SEED, T - 2 * 86400);
  const fs = TicketKeys.fromState(st, "fs", "aes256", 3600, 1, T);
  const calls = {
    "new MainKey": () => new MainKey(KEY).free(),
    deriveKey: () => deriveKey(main, "tofurkey", 5n, 64),
    tfoKeys: () => tfoKeys(main, 86400, T),
    current: () => keys.current(T),
    byCounter: () => keys.byCounter(472222n),
    goSeed: () => keys.goSeed(472222n),
    lookup: () => keys.lookup(keys.current(T).name, T),
    render: () => keys.render("haproxy", T),
    "new State": () => new State(SEED, T).free(),
    "State.toBytes": () => st.toBytes(),
    "State.fromBytes": () => State.fromBytes(st.toBytes()).free(),
    "State.tfoKeys": () => st.tfoKeys(86400, T),
    "fromState current": () => fs.current(T),
  };
  for (const [name, call] of Object.entries(calls)) {
    const result = call();
    assert.ok(zero(io()), `${name} left bytes in the exchange buffer`);
    // The results were read before the wipe.
    if (result?.aesKey) assert.ok(!zero(result.aesKey), name);
  }
  // Nor does a refused value (the core's message is read, then wiped).
  assert.throws(() => new MainKey(new Uint8Array(31)), /main key is 31 bytes/);
  assert.throws(() => keys.render("haproxy48", T), /strength does not match/);
  assert.ok(zero(io()));
});

test("a key file is wiped in wasm memory once copied out", () => {
  const keys = new TicketKeys(new MainKey(KEY), "wipe.example", "aes256", 3600, 1);
  const file = keys.render("nginx", T);
  assert.equal(file.length, 240);
  const memory = new Uint8Array(raw.memory.buffer);
  for (let i = 0; i < 3; i++) {
    const record = file.subarray(i * 80, (i + 1) * 80);
    assert.ok(!contains(memory, record), `record ${i} of the key file is still in wasm memory`);
  }
  // The search finds what is there (the module's own copy of the names).
  assert.ok(contains(memory, new TextEncoder().encode("nginx48")));
});
