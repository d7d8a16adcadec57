// keywheel/tls: a Node tls.Server kept on keywheel's session-ticket keys.
//
// Expected keys come from tests/servers/reference.py (SPEC.md section 4 in Python hashlib,
// sharing no code with keywheel), run with python3. Real TLS: two Node servers on 127.0.0.1,
// a Node client; the ticket a server issues is checked with node:crypto against the reference
// (name, HMAC-SHA256, AES-128-CBC), which proves Node reads the 48 bytes as name ‖ HMAC ‖ AES.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import tls from "node:tls";
import { MainKey, TicketKeys } from "keywheel";
import { keepTicketKeys, nodeTicketKey } from "keywheel/tls";

const root = fileURLToPath(new URL("../../", import.meta.url)); // wasm/
const referenceDir = join(root, "..", "tests", "servers");
const LABEL = "node-cluster";
const INTERVAL = 3600;

/** Reference aes128 keys {counter: {name, hmac, aes}} (hex) from tests/servers/reference.py. */
function reference(main, label, counters) {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(referenceDir)})
import reference as r
main = bytes.fromhex(sys.argv[1])
out = {}
for c in sys.argv[3:]:
    k = r.ticket_key(main, sys.argv[2], "aes128", int(c))
    out[c] = {"name": k.name.hex(), "hmac": k.hmac.hex(), "aes": k.aes.hex()}
print(json.dumps(out))`;
  const out = execFileSync("python3", ["-c", script, Buffer.from(main).toString("hex"), label, ...counters.map(String)]);
  return JSON.parse(out.toString());
}

const nodeOrder = (k) => Buffer.from(k.name + k.hmac + k.aes, "hex");

function fakeClock(start) {
  const clock = {
    t: start,
    timers: [],
    now: () => clock.t,
    setTimeout(fn, ms) {
      const handle = { fn, ms, at: clock.t };
      clock.timers.push(handle);
      return handle;
    },
    clearTimeout(handle) {
      clock.timers = clock.timers.filter((h) => h !== handle);
    },
    /** Sets the time and runs the timers due (in order). */
    advanceTo(t) {
      clock.t = t;
      for (;;) {
        const due = clock.timers.find((h) => h.at + h.ms / 1000 <= t);
        if (!due) return;
        clock.timers = clock.timers.filter((h) => h !== due);
        due.fn();
      }
    },
  };
  return clock;
}

test("the key for a given time is the reference key in Node's order", () => {
  const material = Buffer.from([...Array(32).keys()]);
  const keys = new TicketKeys(new MainKey(material), LABEL, "aes128", INTERVAL, 1);
  const t = 1_700_000_000;
  const c = Math.floor(t / INTERVAL);
  const ref = reference(material, LABEL, [c]);
  const got = nodeTicketKey(keys, t);
  assert.equal(Buffer.from(got).toString("hex"), nodeOrder(ref[c]).toString("hex"));
  // What a server holds after keepTicketKeys at that time.
  const server = tls.createServer({});
  const keeper = keepTicketKeys(server, keys, { clock: fakeClock(t + 0.25) });
  assert.equal(server.getTicketKeys().toString("hex"), nodeOrder(ref[c]).toString("hex"));
  assert.equal(keeper.counter, BigInt(c));
  assert.equal(keeper.nextRotation, (c + 1) * INTERVAL);
  keeper.stop();
});

test("rotation happens at the interval boundary (fake clock), not before", () => {
  const material = randomBytes(32);
  const keys = new TicketKeys(new MainKey(material), LABEL, "aes128", INTERVAL, 1);
  const c = 500_000;
  const boundary = (c + 1) * INTERVAL;
  const ref = reference(material, LABEL, [c, c + 1, c + 2]);
  const clock = fakeClock(boundary - 10);
  const rotations = [];
  const server = tls.createServer({});
  const keeper = keepTicketKeys(server, keys, { clock, onRotate: (r) => rotations.push(r) });
  assert.equal(server.getTicketKeys().toString("hex"), nodeOrder(ref[c]).toString("hex"));
  assert.equal(clock.timers.length, 1);
  assert.equal(clock.timers[0].ms, 10_000, "the timer is set for the boundary");
  // A timer that fires half a second early changes nothing and waits again.
  const early = clock.timers[0];
  clock.timers = [];
  clock.t = boundary - 0.5;
  early.fn();
  assert.equal(server.getTicketKeys().toString("hex"), nodeOrder(ref[c]).toString("hex"));
  assert.equal(clock.timers.length, 1);
  assert.equal(clock.timers[0].ms, 500);
  clock.advanceTo(boundary);
  assert.equal(server.getTicketKeys().toString("hex"), nodeOrder(ref[c + 1]).toString("hex"));
  assert.equal(clock.timers[0].ms, INTERVAL * 1000);
  clock.advanceTo(boundary + INTERVAL);
  assert.equal(server.getTicketKeys().toString("hex"), nodeOrder(ref[c + 2]).toString("hex"));
  assert.deepEqual(
    rotations.map((r) => r.counter),
    [BigInt(c), BigInt(c + 1), BigInt(c + 2)],
  );
  keeper.stop();
  assert.equal(clock.timers.length, 0, "stop() clears the timer");
});

test("aes256 keys are refused with a clear error; a non-server is a TypeError", () => {
  const keys = new TicketKeys(new MainKey(randomBytes(32)), LABEL, "aes256", INTERVAL, 1);
  assert.throws(() => keepTicketKeys(tls.createServer({}), keys), {
    message: 'Node takes 48-byte ticket keys (AES-128): make the TicketKeys with strength "aes128", not "aes256"',
  });
  assert.throws(() => keepTicketKeys({}, keys), TypeError);
});

test("the rotation timer does not keep the process alive", () => {
  const code = `
    import tls from "node:tls";
    import { MainKey, TicketKeys } from "keywheel";
    import { keepTicketKeys } from "keywheel/tls";
    const keys = new TicketKeys(new MainKey(new Uint8Array(32).fill(1)), "x", "aes128", 604800, 0);
    keepTicketKeys(tls.createServer({}), keys);
    process.stdout.write("set");`;
  const started = Date.now();
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, timeout: 20_000 });
  assert.equal(out.toString(), "set");
  assert.ok(Date.now() - started < 15_000);
});

// --- real TLS --------------------------------------------------------------------------------

const certDir = mkdtempSync(join(tmpdir(), "keywheel-tls-"));
process.on("exit", () => rmSync(certDir, { recursive: true, force: true }));
execFileSync("openssl", [
  "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
  "-subj", "/CN=localhost", "-days", "2", "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem"),
], { stdio: "ignore" });
const cert = readFileSync(join(certDir, "cert.pem"));
const key = readFileSync(join(certDir, "key.pem"));

async function startServer(keys) {
  // No session cache: a resumption can only come from a ticket.
  const server = tls.createServer({ cert, key, sessionTimeout: INTERVAL }, (socket) => {
    socket.end("ok\n");
  });
  const keeper = keepTicketKeys(server, keys);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, keeper, port: server.address().port };
}

function stopServer(s) {
  s.keeper.stop();
  return new Promise((resolve) => s.server.close(resolve));
}

/** One connection; resolves {reused, session, ticket} once the server closed it. */
function connect(port, version, session) {
  return new Promise((resolve, reject) => {
    let got;
    const socket = tls.connect({
      host: "127.0.0.1", port, ca: cert, servername: "localhost", session,
      minVersion: version, maxVersion: version,
    });
    socket.on("session", (s) => {
      got = s;
    });
    socket.on("error", reject);
    socket.on("data", () => {});
    socket.on("end", () => {
      const ticket = version === "TLSv1.2" ? socket.getTLSTicket() : undefined;
      resolve({ reused: socket.isSessionReused(), session: got, ticket });
    });
  });
}

/** An OpenSSL-family ticket (name16 | IV16 | AES-128-CBC ciphertext | HMAC-SHA256) checked
 *  against a reference key. */
function assertTicket(ticket, ref) {
  assert.ok(ticket && ticket.length >= 16 + 16 + 16 + 32, "no TLS 1.2 ticket");
  assert.equal(ticket.subarray(0, 16).toString("hex"), ref.name, "ticket name");
  const mac = createHmac("sha256", Buffer.from(ref.hmac, "hex")).update(ticket.subarray(0, -32)).digest();
  assert.ok(mac.equals(ticket.subarray(-32)), "ticket HMAC with the reference HMAC key");
  const d = createDecipheriv("aes-128-cbc", Buffer.from(ref.aes, "hex"), ticket.subarray(16, 32));
  const plain = Buffer.concat([d.update(ticket.subarray(32, -32)), d.final()]); // throws on bad padding
  assert.equal(plain[0], 0x30, "the plaintext is a DER SSL_SESSION");
}

for (const version of ["TLSv1.2", "TLSv1.3"]) {
  test(`two Node servers on keywheel's keys resume each other's tickets (${version})`, async () => {
    const material = randomBytes(32);
    const keysA = new TicketKeys(new MainKey(material), LABEL, "aes128", INTERVAL, 1);
    const keysB = new TicketKeys(new MainKey(material), LABEL, "aes128", INTERVAL, 1);
    const keysC = new TicketKeys(new MainKey(material), "another-label", "aes128", INTERVAL, 1);
    const [a, b, other] = await Promise.all([startServer(keysA), startServer(keysB), startServer(keysC)]);
    try {
      const c = Number(a.keeper.counter);
      const ref = reference(material, LABEL, [c]);
      for (const [first, second] of [[a, b], [b, a]]) {
        const full = await connect(first.port, version);
        assert.equal(full.reused, false);
        assert.ok(full.session, "no session ticket received");
        if (version === "TLSv1.2") assertTicket(full.ticket, ref[c]);
        const again = await connect(second.port, version, full.session);
        assert.equal(again.reused, true, "the other server did not resume the ticket");
      }
      const full = await connect(a.port, version);
      const foreign = await connect(other.port, version, full.session);
      assert.equal(foreign.reused, false, "a ticket resumed under another label");
    } finally {
      await Promise.all([a, b, other].map(stopServer));
    }
  });
}

test("the README's Node TLS server example runs", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  let code = /## Node TLS servers[^\n]*\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)[1];
  const dir = mkdtempSync(join(tmpdir(), "keywheel-readme-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-subj", "/CN=localhost", "-days", "2", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    // The example's paths and port, made local; the server closes once it listens.
    code = code
      .replace('readFileSync("/etc/keywheel/main.key")', "new Uint8Array(32).fill(1)")
      .replace('readFileSync("cert.pem")', `readFileSync(${JSON.stringify(join(dir, "cert.pem"))})`)
      .replace('readFileSync("key.pem")', `readFileSync(${JSON.stringify(join(dir, "key.pem"))})`)
      .replace("server.listen(8443);", 'server.listen(0, "127.0.0.1", () => server.close());');
    assert.ok(!code.includes("/etc/") && !code.includes("8443"), "the substitutions did not apply");
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, timeout: 20_000 });
    const c = Math.floor(Date.now() / 1000 / 86400);
    assert.match(out.toString(), new RegExp(`^ticket key (${c}|${c - 1})\\n$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("js/tls.d.ts declares what js/tls.mjs exports; package.json exports it", async () => {
  const declared = readFileSync(join(root, "js/tls.d.ts"), "utf8");
  const functions = [...declared.matchAll(/^export function (\w+)/gm)].map((m) => m[1]).sort();
  const runtime = Object.keys(await import("keywheel/tls")).sort();
  assert.deepEqual(functions, runtime);
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  assert.deepEqual(pkg.exports["./tls"], { types: "./js/tls.d.ts", default: "./js/tls.mjs" });
});
