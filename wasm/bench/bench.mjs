// Derivations per second through the npm package vs @noble/hashes' blake2b (pure JavaScript)
// computing the same function — derive_key(main, "tofurkey", id, 16), libsodium's
// crypto_kdf_blake2b_derive_from_key — in the same run, in interleaved rounds (robust to a
// busy machine: the ratio is the median of per-round ratios). Also prints the .wasm size.
//
//   node bench/bench.mjs [rounds] [ms-per-round]
import { statSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { blake2b } from "@noble/hashes/blake2.js";
import { MainKey, deriveKey } from "keywheel";

const ROUNDS = Number(process.argv[2] ?? 7);
const MS = Number(process.argv[3] ?? 400);
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3);
const CONTEXT = new TextEncoder().encode("tofurkey");
const main = new MainKey(KEY);

function noble(id) {
  const salt = new Uint8Array(16);
  new DataView(salt.buffer).setBigUint64(0, id, true);
  const personalization = new Uint8Array(16);
  personalization.set(CONTEXT);
  return blake2b(new Uint8Array(0), { key: KEY, salt, personalization, dkLen: 16 });
}

const viaPackage = (id) => deriveKey(main, CONTEXT, id, 16);

// Both compute the same function (checked before measuring).
for (const id of [0n, 1n, 11n, 2n ** 63n + 5n, 2n ** 64n - 1n]) {
  const a = Buffer.from(viaPackage(id)).toString("hex");
  const b = Buffer.from(noble(id)).toString("hex");
  if (a !== b) throw new Error(`package and noble differ for id ${id}: ${a} != ${b}`);
}

/** Derivations per second of f during about `ms` milliseconds. */
function rate(f, ms) {
  let n = 0;
  let id = 0n;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 256; i++) f(id++);
    n += 256;
    now = process.hrtime.bigint();
  }
  return (n * 1e9) / Number(now - start);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
rate(viaPackage, 200); // warm-up
rate(noble, 200);
const pkgRates = [];
const nobleRates = [];
const ratios = [];
for (let r = 0; r < ROUNDS; r++) {
  const p = rate(viaPackage, MS);
  const n = rate(noble, MS);
  pkgRates.push(p);
  nobleRates.push(n);
  ratios.push(p / n);
}
const wasm = new URL("../pkg/keywheel_bg.wasm", import.meta.url);
const size = statSync(wasm).size;
const gz = gzipSync(readFileSync(wasm), { level: 9 }).length;
const fmt = (x) => `${(x / 1e6).toFixed(2)} M/s`;
console.log(`node ${process.version}, ${ROUNDS} interleaved rounds of ${MS} ms; derive_key(main, "tofurkey", id, 16):`);
console.log(`  keywheel (wasm) : ${fmt(median(pkgRates))}`);
console.log(`  @noble/hashes   : ${fmt(median(nobleRates))}`);
console.log(`  ratio           : ${median(ratios).toFixed(2)}x (median of per-round ratios; target >= 3x)`);
console.log(`  keywheel_bg.wasm: ${size} bytes (${(size / 1024).toFixed(1)} KiB), ${gz} bytes gzipped`);
