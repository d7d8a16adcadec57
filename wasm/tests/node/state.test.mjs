// Forward-secure mode from JavaScript: State and TicketKeys.fromState over the shared fs_*
// vectors (checked against an independent hashlib implementation by
// tests/cross/test_forward_independent.py) and every bad input, with the core's messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MainKey, State, TicketKeys } from "keywheel";
import { cases, hex, unhex } from "./helpers.mjs";

const MIN_TIME = 1_000_000;
const MAX_TIME = 100_000_000_000;
const EXAMPLE_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const EXAMPLE_S0 = 1749978000;
const punctured = /: it was punctured$/;

test("fs_state: new, s0, nodeCount, rootId, toBytes, fromBytes", () => {
  for (const c of cases("fs_state")) {
    const st = new State(unhex(c.seed), c.s0);
    assert.equal(st.s0, c.s0);
    assert.equal(st.nodeCount, c.node_count);
    assert.equal(hex(st.rootId), c.root_id);
    assert.equal(hex(st.toBytes()), c.file);
    const back = State.fromBytes(unhex(c.file));
    assert.equal(hex(back.toBytes()), c.file);
    st.free();
    back.free();
  }
});

test("the worked example", () => {
  const st = new State(EXAMPLE_SEED, EXAMPLE_S0);
  assert.equal(hex(st.rootId), "75f95ca3c7860947");
  assert.equal(st.toBytes().length, 809);
  const keys = TicketKeys.fromState(st, "example.com", "aes256", 3600, 1, 1750000000);
  assert.equal(hex(keys.current(1750000000).name), "cc62ca55be0593d0b9ba96bcd13184f6");
});

test("fs_ticket_key through TicketKeys.fromState", () => {
  let n = 0;
  for (const c of cases("fs_ticket_key")) {
    const counter = BigInt(c.counter);
    const t = Number(counter) * c.interval;
    if (t < MIN_TIME || t > MAX_TIME) continue;
    const st = new State(unhex(c.seed), c.s0);
    const keys = TicketKeys.fromState(st, c.label, c.strength, c.interval, 0, t);
    st.free(); // the object keeps its own copy
    const k = keys.byCounter(counter);
    assert.deepEqual([hex(k.name), hex(k.aesKey), hex(k.hmacKey)], [c.name, c.aes, c.hmac]);
    assert.equal(hex(keys.current(t).name), c.name);
    const found = keys.lookup(unhex(c.name), t);
    assert.equal(found.kind, "current");
    assert.equal(hex(found.key.aesKey), c.aes);
    assert.equal(keys.stateStart, t);
    assert.throws(() => keys.byCounter(counter - 1n), punctured);
    n++;
  }
  assert.ok(n >= 5);
});

test("fs_ticket_keys: every server format", () => {
  for (const c of cases("fs_ticket_keys")) {
    const st = new State(unhex(c.seed), c.s0);
    const make = () =>
      TicketKeys.fromState(st, c.label, c.strength, c.interval, c.keep, c.time);
    if (c.error) {
      assert.throws(make, { message: c.error.message });
      continue;
    }
    const keys = make();
    st.advance(c.time); // the caller's state moves on; the object keeps its copy
    assert.equal(keys.stateStart, c.state_start);
    assert.equal(hex(keys.render(c.format, c.time)), c.output);
    const span = (c.keep + 1) * c.interval;
    assert.throws(() => keys.render(c.format, c.time - span), punctured);
    keys.advance(c.time + span);
    keys.render(c.format, c.time + span);
    assert.throws(() => keys.render(c.format, c.time), punctured);
  }
});

test("fs_tfo", () => {
  for (const c of cases("fs_tfo")) {
    const st = new State(unhex(c.seed), c.s0);
    const keys = st.tfoKeys(c.interval, c.time);
    assert.deepEqual([hex(keys.primary), hex(keys.backup)], [c.primary_key, c.backup_key]);
    assert.equal(keys.procfsText, c.procfs);
  }
});

test("fs_advance", () => {
  for (const c of cases("fs_advance")) {
    const st = new State(unhex(c.seed), c.s0);
    const before = hex(st.toBytes());
    if (c.error) {
      assert.throws(() => st.advance(c.to), { message: c.error.message });
      assert.equal(hex(st.toBytes()), before);
    } else {
      st.advance(c.to);
      assert.equal(hex(st.toBytes()), c.file);
    }
  }
});

test("fs_state_file_errors", () => {
  for (const c of cases("fs_state_file_errors")) {
    assert.throws(() => State.fromBytes(unhex(c.file)), { message: c.error.message }, c.note);
  }
});

test("fs_errors: state_new and ticket_key", () => {
  for (const c of cases("fs_errors")) {
    if (c.operation === "state_new") {
      assert.throws(() => new State(unhex(c.seed), c.s0), { message: c.error.message });
    } else if (c.operation === "ticket_key") {
      const t = Number(BigInt(c.counter)) * c.interval;
      const kind = c.error.kind;
      if (!(kind === "LabelLength" || kind === "Interval" ||
            (kind === "KeyPunctured" && t >= MIN_TIME && t <= MAX_TIME))) continue;
      const st = new State(unhex(c.seed), c.s0);
      assert.throws(() => TicketKeys.fromState(st, c.label, c.strength, c.interval, 0, t),
        { message: c.error.message });
    }
  }
});

test("bad arguments", () => {
  const st = new State(EXAMPLE_SEED, EXAMPLE_S0);
  assert.throws(() => new State("x", 0), { name: "TypeError", message: "seed must be a Uint8Array, not string" });
  assert.throws(() => new State(EXAMPLE_SEED, "0"), TypeError);
  assert.throws(() => new State(EXAMPLE_SEED, -1),
    { message: "time -1 is out of range; it must be in 0..=1099511627775" });
  assert.throws(() => new State(EXAMPLE_SEED, 2 ** 40),
    { message: "time 1099511627776 is past the forward-secure tree; it must be in 0..=1099511627775" });
  assert.throws(() => new State(EXAMPLE_SEED.subarray(0, 31), 0),
    { message: "seed is 31 bytes; it must be exactly 32 bytes" });
  assert.throws(() => new State(new Uint8Array(40), 0),
    { message: "seed is 40 bytes; it must be exactly 32 bytes" });
  assert.throws(() => st.advance(0), {
    message: "state starts at 1749978000 (2025-06-15T09:00:00Z); it cannot go back to 0 (1970-01-01T00:00:00Z)",
  });
  assert.equal(st.s0, EXAMPLE_S0);
  assert.throws(() => State.fromBytes(new Uint8Array(0)),
    { message: "state file: truncated: 0 bytes, shorter than the 25-byte header" });
  // Longer than any state file: the message names the real length.
  const long = new Uint8Array(2000);
  long.set(st.toBytes());
  assert.throws(() => State.fromBytes(long),
    { message: "state file: trailing bytes: 2000 bytes; its header announces 809 bytes" });
  assert.throws(() => st.tfoKeys(86400, EXAMPLE_S0), punctured);
  assert.throws(() => TicketKeys.fromState(st, "a", "aes256", 3600, 1, EXAMPLE_S0), {
    message: "state starts at 1749978000 (2025-06-15T09:00:00Z); the key for counter 486104 " +
      "(interval 3600) starts at 1749974400 (2025-06-15T08:00:00Z): it was punctured",
  });
  assert.throws(() => TicketKeys.fromState(st, "a", "aes512", 3600, 1, 1750000000),
    /strength "aes512" is unknown/);
  assert.throws(() => TicketKeys.fromState(st, "", "aes256", 3600, 1, 1750000000),
    { message: "label is 0 bytes; it must be 1..=64 bytes of UTF-8" });
  const keys = TicketKeys.fromState(st, "a", "aes256", 3600, 1, 1750000000);
  assert.throws(() => keys.advance(1750000000 - 3600), punctured);
  assert.equal(keys.stateStart, 486110 * 3600);
  const main = new TicketKeys(new MainKey(new Uint8Array(32)), "a", "aes256", 3600);
  assert.equal(main.stateStart, undefined);
  main.advance(1750000000);
});

test("fs_go_seeds: TicketKeys.fromState(...).goSeed", () => {
  let made = 0;
  for (const c of cases("fs_go_seeds")) {
    const st = new State(unhex(c.seed), c.s0);
    const make = () => TicketKeys.fromState(st, c.label, "aes128", c.interval, c.keep, c.time);
    if (c.error) {
      assert.throws(make, { message: c.error.message });
      continue;
    }
    const keys = make();
    assert.equal(keys.stateStart, c.state_start);
    assert.equal(c.seeds.map((e) => hex(keys.goSeed(BigInt(e.counter)))).join(""), c.output);
    for (const r of c.refused) {
      assert.throws(() => keys.goSeed(BigInt(r.counter)), { message: r.error.message });
    }
    assert.throws(() => keys.goSeed(-1), /counter/);
    made++;
  }
  assert.ok(made >= 5);
});
