// The npm package against every case of the shared vectors. Expected values come from the
// vectors (made by the generator and checked against hashlib and libsodium in tests/cross).
import { test } from "node:test";
import assert from "node:assert/strict";
import { MainKey, TicketKeys, deriveKey, scheduleAt, tfoKeys } from "keywheel";
import { cases, hex, label, unhex } from "./helpers.mjs";

const mainKey = (c) => new MainKey(unhex(c.main_key));
const ticketKeys = (c, strength = c.strength) =>
  new TicketKeys(mainKey(c), label(c), strength, c.interval, c.keep);

test("derive_key", () => {
  for (const c of cases("derive_key")) {
    const out = deriveKey(mainKey(c), unhex(c.context), BigInt(c.subkey_id), c.output_len);
    assert.ok(out instanceof Uint8Array);
    assert.equal(hex(out), c.output, JSON.stringify(c));
    // A subkey id that is a safe integer may also be a number, and a context a string.
    if (BigInt(c.subkey_id) <= BigInt(Number.MAX_SAFE_INTEGER) && c.context_ascii) {
      assert.equal(hex(deriveKey(mainKey(c), c.context_ascii, Number(c.subkey_id), c.output_len)), c.output);
    }
  }
});

test("tfo", () => {
  for (const c of cases("tfo")) {
    const slot = scheduleAt(c.interval, c.time);
    assert.deepEqual(slot, {
      now: c.time,
      primary: BigInt(c.primary),
      backup: BigInt(c.backup),
      nextWake: c.next_wake,
      wakeTime: [c.wake_time_secs, c.wake_time_nanos],
    });
    const keys = tfoKeys(mainKey(c), c.interval, c.time);
    assert.equal(hex(keys.primary), c.primary_key);
    assert.equal(hex(keys.backup), c.backup_key);
    assert.equal(keys.procfsText, c.procfs);
    if (c.interval === 86400) {
      // The interval defaults to tofurkey's 86400.
      assert.equal(tfoKeys(mainKey(c), undefined, c.time).procfsText, c.procfs);
      assert.deepEqual(scheduleAt(undefined, c.time), slot);
    }
  }
});

test("errors", () => {
  for (const c of cases("errors")) {
    const run = {
      main_key: () => mainKey(c),
      schedule: () => scheduleAt(c.interval, 1700000000),
      schedule_at: () => scheduleAt(c.interval, c.time),
      derive_key: () => deriveKey(mainKey(c), unhex(c.context), BigInt(c.subkey_id), c.output_len),
    }[c.operation];
    assert.ok(run, `unknown operation ${c.operation}`);
    assert.throws(run, (e) => e.constructor === Error && e.message === c.message, JSON.stringify(c));
    if (c.operation === "schedule" || c.operation === "schedule_at") {
      assert.throws(() => tfoKeys(new MainKey(new Uint8Array(32)), c.interval, c.time ?? 1700000000), {
        message: c.message,
      });
    }
  }
});

test("ticket_key", () => {
  for (const c of cases("ticket_key")) {
    const keys = new TicketKeys(mainKey(c), label(c), c.strength, 3600);
    for (const counter of [BigInt(c.counter), ...(BigInt(c.counter) <= 2n ** 53n - 1n ? [Number(c.counter)] : [])]) {
      const key = keys.byCounter(counter);
      assert.deepEqual(
        { ...key, name: hex(key.name), aesKey: hex(key.aesKey), hmacKey: hex(key.hmacKey) },
        { strength: c.strength, counter: BigInt(c.counter), name: c.name, aesKey: c.aes, hmacKey: c.hmac },
        JSON.stringify(c),
      );
    }
  }
});

test("ticket_schedule", () => {
  for (const c of cases("ticket_schedule")) {
    const keys = new TicketKeys(new MainKey(new Uint8Array(32)), "schedule", "aes256", c.interval, c.keep);
    assert.deepEqual(keys.slot(c.time), {
      now: c.time,
      interval: c.interval,
      keep: c.keep,
      maxTicketAge: c.max_ticket_age,
      current: BigInt(c.current),
      nextRotation: c.next_rotation,
      window: c.window.map((w) => ({ ...w, counter: BigInt(w.counter) })),
    }, JSON.stringify(c));
  }
});

test("ticket_lookup", () => {
  for (const c of cases("ticket_lookup")) {
    const keys = ticketKeys(c);
    const found = keys.lookup(unhex(c.name), c.time);
    if (c.result === "not_found") {
      assert.deepEqual(found, { kind: "not_found" }, JSON.stringify(c));
      continue;
    }
    const want = { kind: c.result, key: keys.byCounter(BigInt(c.counter)), role: c.role };
    if (c.age !== undefined) want.age = c.age;
    assert.deepEqual(found, want, JSON.stringify(c));
    assert.equal(hex(found.key.aesKey), c.aes);
    assert.equal(hex(found.key.hmacKey), c.hmac);
    assert.equal(keys.current(c.time).counter, BigInt(c.current));
  }
});

test("format", () => {
  for (const c of cases("format")) {
    const out = ticketKeys(c).render(c.format, c.time);
    assert.ok(out instanceof Uint8Array);
    assert.equal(hex(out), c.output, JSON.stringify(c));
    if (c.output_text !== undefined) assert.equal(Buffer.from(out).toString("latin1"), c.output_text);
  }
});

test("ticket_errors", () => {
  const zero = new MainKey(new Uint8Array(32));
  for (const c of cases("ticket_errors")) {
    let run;
    switch (c.operation) {
      case "label_key":
        run = () => new TicketKeys(mainKey(c), label(c), "aes256", 3600);
        break;
      case "ticket_schedule":
        run = () => new TicketKeys(zero, "x", "aes256", c.interval, c.keep);
        break;
      case "ticket_schedule_at": {
        const keys = new TicketKeys(zero, "x", "aes256", c.interval, c.keep);
        for (const op of [() => keys.current(c.time), () => keys.lookup(new Uint8Array(16), c.time), () => keys.render("nginx", c.time)]) {
          assert.throws(op, { message: c.message });
        }
        run = () => keys.slot(c.time);
        break;
      }
      case "format_render": {
        // The package sizes every output itself: a buffer cannot be too small.
        if (c.kind === "BufferTooSmall") continue;
        const strength = ["nginx48", "haproxy48", "apache", "ats"].includes(c.format) ? "aes128" : "aes256";
        run = () => ticketKeys(c, strength).render(c.format, c.time);
        break;
      }
      default:
        assert.fail(`unknown operation ${c.operation}`);
    }
    assert.throws(run, (e) => e.constructor === Error && e.message === c.message, JSON.stringify(c));
  }
});

test("go_seeds: TicketKeys.goSeed", () => {
  for (const c of cases("go_seeds")) {
    for (const strength of ["aes256", "aes128"]) {
      const keys = ticketKeys(c, strength);
      let out = "";
      for (const e of c.seeds) {
        const seed = keys.goSeed(BigInt(e.counter));
        assert.ok(seed instanceof Uint8Array && seed.length === 32);
        assert.equal(hex(seed), e.seed, JSON.stringify(e));
        assert.equal(hex(keys.goSeed(Number(e.counter))), e.seed);
        out += hex(seed);
      }
      assert.equal(out, c.output);
    }
  }
});
