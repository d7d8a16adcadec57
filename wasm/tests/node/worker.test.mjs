// The example worker (examples/worker) in real workerd (127.0.0.1 only, offline), validating
// tokens minted by examples/worker/mint_token.py with the keywheel Python package. workerd is
// the binary of npm's `@cloudflare/workerd-linux-64` (what `npm install workerd` installs on
// Linux x86-64; package.json names it directly because `npm ci` of `workerd` needs the lock
// entries of every platform's binary package, which the registry here does not all serve).
//
// The Python interpreter must have the keywheel package: $KEYWHEEL_PYTHON, or the repository's
// test venv (.venv/bin/python, made by test.sh). The main key reaches workerd through its
// environment, never argv.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const wasmDir = fileURLToPath(new URL("../../", import.meta.url));
const repo = join(wasmDir, "..");
const python = process.env.KEYWHEEL_PYTHON ?? join(repo, ".venv/bin/python");
const mintScript = join(wasmDir, "examples/worker/mint_token.py");
const INTERVAL = 3600; // as in worker.js and mint_token.py
const WORKERD = join(wasmDir, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

describe("example worker in workerd", () => {
  let dir, keyFile, otherKeyFile, workerd, base, log = "";

  before(async () => {
    try {
      execFileSync(python, ["-c", "import keywheel"], { stdio: "pipe" });
    } catch (e) {
      throw new Error(`${python} cannot import keywheel (set KEYWHEEL_PYTHON, or pip install ./python into .venv): ${e.stderr ?? e}`);
    }
    dir = mkdtempSync(join(tmpdir(), "keywheel-worker-"));
    const key = randomBytes(32);
    keyFile = join(dir, "main.key");
    writeFileSync(keyFile, key, { mode: 0o600 });
    otherKeyFile = join(dir, "other.key");
    writeFileSync(otherKeyFile, randomBytes(32), { mode: 0o600 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    workerd = spawn(
      WORKERD,
      ["serve", join(wasmDir, "examples/worker/config.capnp"), "--socket-addr", `http=127.0.0.1:${port}`],
      { env: { ...process.env, KEYWHEEL_MAIN_KEY: key.toString("hex") }, stdio: ["ignore", "pipe", "pipe"] },
    );
    workerd.stdout.on("data", (d) => (log += d));
    workerd.stderr.on("data", (d) => (log += d));
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/ticket-names`)).ok) break;
      } catch {}
      if (i >= 100 || workerd.exitCode !== null) throw new Error(`workerd did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(() => {
    workerd?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mint = (subject, time, file = keyFile) =>
    execFileSync(python, [mintScript, "--key-file", file, "--subject", subject, "--time", String(time)]).toString().trim();

  async function verify(token) {
    const res = await fetch(`${base}/verify`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  }

  /** Runs `check` until the interval did not change while it ran (at most 3 times). */
  async function inOneInterval(check) {
    for (let attempt = 0; ; attempt++) {
      const start = Math.floor(Date.now() / 1000);
      await check(start);
      const end = Math.floor(Date.now() / 1000);
      if (Math.floor(start / INTERVAL) === Math.floor(end / INTERVAL) || attempt === 2) return;
    }
  }

  test("a token of the current interval is accepted", () =>
    inOneInterval(async (now) => {
      assert.deepEqual(await verify(mint("alice", now)), { status: 200, body: { valid: true, subject: "alice", key: "current" } });
    }));

  test("tokens of the adjacent intervals are accepted (clock skew, rotation)", () =>
    inOneInterval(async (now) => {
      assert.deepEqual(await verify(mint("bob", now - INTERVAL)), { status: 200, body: { valid: true, subject: "bob", key: "previous 1" } });
      assert.deepEqual(await verify(mint("carol", now + INTERVAL)), { status: 200, body: { valid: true, subject: "carol", key: "next" } });
    }));

  test("an expired token is rejected", () =>
    inOneInterval(async (now) => {
      for (const t of [now - 2 * INTERVAL, now - 24 * INTERVAL, now + 2 * INTERVAL]) {
        assert.deepEqual(await verify(mint("alice", t)), { status: 401, body: { valid: false, reason: "unknown or expired key" } });
      }
    }));

  test("a tampered token is rejected", () =>
    inOneInterval(async (now) => {
      const [name, payload, mac] = mint("alice", now).split(".");
      const forged = [
        [name, b64url("admin"), mac],
        [name, payload, mac.slice(0, -2) + (mac.slice(-2) === "AA" ? "AQ" : "AA")],
        [name, payload, b64url(Buffer.from(mac, "base64url").subarray(0, 16))],
        [name, payload, ""],
      ];
      for (const parts of forged) {
        const res = await verify(parts.join("."));
        assert.equal(res.status, 401, parts.join("."));
        assert.equal(res.body.valid, false);
      }
      // A token made with another main key: its key name is unknown.
      assert.deepEqual(await verify(mint("alice", now, otherKeyFile)), { status: 401, body: { valid: false, reason: "unknown or expired key" } });
      assert.deepEqual(await verify("not-a-token"), { status: 401, body: { valid: false, reason: "malformed" } });
    }));

  test("the worker's ticket key names are the Python package's", async () => {
    const { now, window } = await (await fetch(`${base}/ticket-names`)).json();
    const names = JSON.parse(
      execFileSync(python, ["-c", `
import json, sys, keywheel
main = keywheel.MainKey.from_file(sys.argv[1])
keys = keywheel.TicketKeys(main, "tokens.example", "aes256", 3600, keep=1)
slot = keys.slot(int(sys.argv[2]))
print(json.dumps([{"counter": str(c), "role": r.kind, "name": keys.by_counter(c).name.hex()} for c, r in slot.window()]))
`, keyFile, String(now)]).toString(),
    );
    assert.equal(window.length, 3);
    assert.deepEqual(window, names);
  });
});
