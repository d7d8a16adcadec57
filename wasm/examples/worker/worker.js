// Example worker: validates tokens minted by origin servers (mint_token.py) with the keys every
// node of the cluster computes from the shared main key and the clock — no key distribution.
//
// Token key: the HMAC-SHA256 key of keywheel's session-ticket key for the label LABEL (aes256,
// a new key every INTERVAL seconds, KEEP = 1 previous key accepted). The label keeps these keys
// apart from any TLS ticket keys of the same main key.
//
// Token: base64url(name) "." base64url(payload) "." base64url(mac), where name is the 16-byte
// public key name of the key that made it and mac = HMAC-SHA256(key, name ‖ payload). The worker
// looks the name up in the window of the current time: the current key, the next one (a node
// whose clock runs ahead) and the previous one are accepted; anything older is expired.
//
//   GET /verify        Authorization: Bearer <token>  → 200 {valid, subject, key} or 401
//   GET /ticket-names  → the names of the window's keys, to compare with the servers'
import { MainKey, TicketKeys } from "keywheel";

const LABEL = "tokens.example";
const INTERVAL = 3600;
const KEEP = 1;

let keys; // per isolate: the label's key, derived once from MAIN_KEY

function ticketKeys(env) {
  if (!keys) {
    const main = new MainKey(fromHex(env.MAIN_KEY));
    keys = new TicketKeys(main, LABEL, "aes256", INTERVAL, KEEP);
    main.free(); // wipes the main key in wasm memory; the label's key is all we need
  }
  return keys;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/verify") return verify(request, ticketKeys(env));
    if (pathname === "/ticket-names") return names(ticketKeys(env));
    return json(404, { error: "not found" });
  },
};

async function verify(request, keys) {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)$/.exec(
    request.headers.get("authorization") ?? "",
  );
  if (!m) return json(401, { valid: false, reason: "malformed" });
  const [name, payload, mac] = m.slice(1).map(fromBase64url);
  const found = keys.lookup(name); // at Date.now()
  if (found.kind === "not_found") return json(401, { valid: false, reason: "unknown or expired key" });
  const hmacKey = await crypto.subtle.importKey(
    "raw", found.key.hmacKey, { name: "HMAC", hash: "SHA-256" }, false, ["verify"],
  );
  found.key.hmacKey.fill(0);
  found.key.aesKey.fill(0);
  const signed = new Uint8Array(name.length + payload.length);
  signed.set(name);
  signed.set(payload, name.length);
  if (!(await crypto.subtle.verify("HMAC", hmacKey, mac, signed))) {
    return json(401, { valid: false, reason: "bad signature" });
  }
  const key = found.role === "previous" ? `previous ${found.age}` : found.role;
  return json(200, { valid: true, subject: new TextDecoder().decode(payload), key });
}

function names(keys) {
  const slot = keys.slot();
  return json(200, {
    now: slot.now,
    window: slot.window.map((e) => ({
      counter: String(e.counter),
      role: e.role,
      name: toHex(keys.byCounter(e.counter).name),
    })),
  });
}

function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function fromHex(hex) {
  if (!/^([0-9a-f]{2})+$/i.test(hex ?? "")) throw new Error("MAIN_KEY must be hex");
  return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
}

function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromBase64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}
