// The names the package takes from the core (formats, record lengths) against the vectors, and
// the fingerprints against @noble/hashes' BLAKE2b.
import { test } from "node:test";
import assert from "node:assert/strict";
import { blake2b } from "@noble/hashes/blake2.js";
import { MainKey, TicketKeys, formats, formatRecordLen, tfoKeyFingerprint } from "keywheel";
import { cases, hex, label, unhex } from "./helpers.mjs";

test("formats() lists the formats of the vectors, in the table's order", () => {
  const fromVectors = [...new Set(cases("format").map((c) => c.format))];
  assert.deepEqual(formats(), ["nginx", "nginx48", "haproxy", "haproxy48", "apache", "ats", "openssl"]);
  assert.deepEqual([...formats()].sort(), [...fromVectors].sort());
  for (const c of cases("format")) assert.equal(formatRecordLen(c.format), c.record_len, c.format);
  assert.throws(() => formatRecordLen("iis"), {
    message: 'format "iis" is unknown; it must be one of nginx, nginx48, haproxy, haproxy48, apache, ats, openssl',
  });
});

test("nginx's file i is record i of formatRecordLen bytes", () => {
  const c = cases("format").find((x) => x.format === "nginx" && x.keep >= 1);
  const keys = new TicketKeys(new MainKey(unhex(c.main_key)), label(c), c.strength, c.interval, c.keep);
  const out = keys.render("nginx", c.time);
  const n = formatRecordLen("nginx");
  assert.equal(out.length, n * c.key_count);
  c.keys.forEach((k, i) => {
    assert.equal(hex(out.subarray(i * n, i * n + 16)), hex(keys.byCounter(BigInt(k.counter)).name));
  });
});

test("MainKey.fingerprint() is BLAKE2b(key = main, personal = keywheel.mainfp, 8 bytes)", () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const personalization = new Uint8Array(16);
  personalization.set(new TextEncoder().encode("keywheel.mainfp"));
  const want = blake2b(new Uint8Array(0), { key, personalization, dkLen: 8 });
  assert.equal(hex(new MainKey(key).fingerprint()), hex(want));
  // The C test's value for the same key (hashlib).
  assert.equal(hex(want), "57085b23931c036c");
});

test("tfoKeyFingerprint() is BLAKE2b(personal = keywheel.tfofp, 8 bytes) of the key", () => {
  // The primary key of tofurkey's test vector (SPEC 3.3); hashlib gives 63f0af72476c6cbb.
  const key = unhex("c998252e8f89667d31961e083897526b");
  const personalization = new Uint8Array(16);
  personalization.set(new TextEncoder().encode("keywheel.tfofp"));
  assert.equal(hex(blake2b(key, { personalization, dkLen: 8 })), "63f0af72476c6cbb");
  assert.equal(hex(tfoKeyFingerprint(key)), "63f0af72476c6cbb");
  assert.throws(() => tfoKeyFingerprint(new Uint8Array(15)), { message: "TFO key is 15 bytes; it must be 16 bytes" });
  assert.throws(() => tfoKeyFingerprint("c998"), TypeError);
});

test("renderRollover appends the other main key's window for nginx, nginx48 and ats only", () => {
  const now = 1_700_000_000;
  const mk = (bytes) => new MainKey(Uint8Array.from({ length: 32 }, () => bytes));
  for (const [format, strength] of [["nginx", "aes256"], ["ats", "aes128"], ["haproxy", "aes256"], ["apache", "aes128"]]) {
    const keys = new TicketKeys(mk(1), "svc", strength, 3600);
    const old = new TicketKeys(mk(2), "svc", strength, 3600);
    const own = keys.render(format, now);
    const theirs = old.render(format, now);
    const both = keys.renderRollover(format, old, now);
    const want = ["nginx", "ats"].includes(format) ? Buffer.concat([own, theirs]) : Buffer.from(own);
    assert.equal(hex(both), hex(want), format);
  }
  const keys = new TicketKeys(mk(1), "svc", "aes256", 3600);
  assert.throws(() => keys.renderRollover("nginx", "old", now), Error);
});
