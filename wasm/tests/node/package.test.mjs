// The npm package as users get it: the exports map (Node and workerd entries, types), the
// files `npm pack` ships, an install from the packed tarball, and types that match the code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as keywheel from "keywheel";

const root = fileURLToPath(new URL("../../", import.meta.url)); // wasm/
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const TOFURKEY_KEY = "363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b";
const TOFURKEY_TEXT = "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577";

/** Where `keywheel` resolves from wasm/ under the given extra import conditions. */
function resolve(conditions) {
  const out = execFileSync(
    process.execPath,
    [...conditions.map((c) => `--conditions=${c}`), "--input-type=module", "-e", 'process.stdout.write(import.meta.resolve("keywheel"))'],
    { cwd: root },
  );
  return fileURLToPath(out.toString());
}

test("exports map: Node gets the Node glue, workerd the --target module glue", () => {
  assert.equal(resolve([]), join(root, "pkg/keywheel.node.js"));
  assert.equal(resolve(["workerd"]), join(root, "pkg/keywheel.js"));
  // The example worker's config embeds exactly what the "workerd" condition resolves to.
  const config = readFileSync(join(root, "examples/worker/config.capnp"), "utf8");
  const embedded = /name = "keywheel", esModule = embed "([^"]+)"/.exec(config)[1];
  assert.equal(join(root, "examples/worker", embedded), resolve(["workerd"]));
  assert.equal(pkg.exports["."].types, "./pkg/keywheel.d.ts");
  assert.equal(pkg.types, pkg.exports["."].types);
});

test("the types declare what the entries export, and both entries export the same", () => {
  const declared = (text) =>
    [...text.matchAll(/^export (?:declare )?(?:class|function) (\w+)/gm)].map((m) => m[1]).sort();
  const dts = declared(readFileSync(join(root, "pkg/keywheel.d.ts"), "utf8"));
  const runtime = Object.keys(keywheel).sort();
  assert.deepEqual(dts, runtime);
  assert.deepEqual(declared(readFileSync(join(root, "pkg/keywheel.js"), "utf8")), runtime);
  assert.deepEqual(declared(readFileSync(join(root, "pkg/keywheel.node.js"), "utf8")), runtime);
  // The Node entry is the module entry but for the glue it imports.
  const [js, node] = ["pkg/keywheel.js", "pkg/keywheel.node.js"].map((f) => readFileSync(join(root, f), "utf8"));
  assert.equal(node, js.replace('from "./keywheel_raw.js";', 'from "./keywheel_raw.node.js";'));
  assert.notEqual(node, js);
});

/** What pkg/keywheel.d.ts declares: per function its parameter count; per class its
 * constructor's, its methods' and static methods' parameter counts and its getters. */
function declarations(dts) {
  const params = (list) => (list.trim() === "" ? 0 : list.split(",").length);
  const out = { functions: {}, classes: {} };
  for (const m of dts.matchAll(/^export function (\w+)\(([^)]*)\)/gm)) out.functions[m[1]] = params(m[2]);
  for (const m of dts.matchAll(/^export class (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const members = { methods: {}, statics: {}, getters: [] };
    for (const line of m[2].split("\n").map((l) => l.trim())) {
      let g;
      if ((g = /^constructor\(([^)]*)\)/.exec(line))) members.constructor = params(g[1]);
      else if ((g = /^static (\w+)\(([^)]*)\)/.exec(line))) members.statics[g[1]] = params(g[2]);
      else if ((g = /^readonly (\w+):/.exec(line))) members.getters.push(g[1]);
      else if ((g = /^(\w+)\(([^)]*)\)/.exec(line))) members.methods[g[1]] = params(g[2]);
    }
    members.getters.sort();
    out.classes[m[1]] = members;
  }
  return out;
}

/** The same of the runtime module (JavaScript functions count their declared parameters). */
function runtimeDeclarations(mod) {
  const out = { functions: {}, classes: {} };
  for (const [name, value] of Object.entries(mod)) {
    if (!/^class /.test(Function.prototype.toString.call(value))) {
      out.functions[name] = value.length;
      continue;
    }
    const members = { methods: {}, statics: {}, getters: [] };
    members.constructor = value.length;
    for (let proto = value.prototype; proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const key of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, key);
        if (key === "constructor") continue;
        if (d.get) members.getters.push(key);
        else if (!(key in members.methods)) members.methods[key] = d.value.length;
      }
    }
    for (const key of Object.getOwnPropertyNames(value)) {
      if (typeof value[key] === "function" && !["length", "name", "prototype"].includes(key)) members.statics[key] = value[key].length;
    }
    members.getters.sort();
    out.classes[name] = members;
  }
  return out;
}

test("the types and the JavaScript layer agree: classes, methods, getters, parameter counts", () => {
  const dts = declarations(readFileSync(join(root, "pkg/keywheel.d.ts"), "utf8"));
  assert.deepEqual(runtimeDeclarations(keywheel), dts);
  // The parser sees what it must: every class, with its constructor, and `free`.
  assert.deepEqual(Object.keys(dts.classes).sort(), ["MainKey", "State", "TicketKeys"]);
  for (const c of Object.values(dts.classes)) assert.equal(c.methods.free, 0);
  assert.equal(dts.functions.deriveKey, 4);
  // Every class disposes (`using`).
  for (const name of Object.keys(dts.classes)) assert.equal(typeof keywheel[name].prototype[Symbol.dispose], "function");
});

test("npm pack ships the package; it installs offline and works", () => {
  const dir = mkdtempSync(join(tmpdir(), "keywheel-pack-"));
  try {
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root, stdio: ["ignore", "pipe", "ignore"] }),
    )[0];
    const files = packed.files.map((f) => f.path).sort();
    assert.deepEqual(files, [
      "LICENSE-APACHE", "LICENSE-MIT", "README.md", "js/tls.d.ts", "js/tls.mjs", "package.json",
      "pkg/keywheel.d.ts", "pkg/keywheel.js", "pkg/keywheel.node.js", "pkg/keywheel_bg.wasm",
      "pkg/keywheel_raw.js", "pkg/keywheel_raw.node.js",
    ]);
    // The license texts are the repository's (the package.json "license" names both).
    assert.equal(pkg.license, "MIT OR Apache-2.0");
    for (const f of ["LICENSE-MIT", "LICENSE-APACHE"]) {
      assert.equal(readFileSync(join(root, f), "utf8"), readFileSync(join(root, "..", f), "utf8"), f);
    }
    const app = join(dir, "app");
    execFileSync("mkdir", [app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", join(dir, packed.filename)], { cwd: app, stdio: "ignore" });
    assert.ok(readdirSync(join(app, "node_modules/keywheel/pkg")).includes("keywheel_bg.wasm"));
    writeFileSync(
      join(app, "main.js"),
      `import { MainKey, tfoKeys } from "keywheel";
       const main = new MainKey(Buffer.from("${TOFURKEY_KEY}", "hex"));
       process.stdout.write(tfoKeys(main, 86400, 1000000).procfsText);`,
    );
    assert.equal(execFileSync(process.execPath, ["main.js"], { cwd: app }).toString(), TOFURKEY_TEXT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the README's Node example runs", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const code = /## Node example\n\n```js\n([\s\S]*?)```/.exec(readme)[1];
  // Run from wasm/, where `keywheel` resolves to this package (Node's self-reference).
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root }).toString().split("\n");
  assert.match(out[0], /^([0-9a-f]{8}-){3}[0-9a-f]{8},([0-9a-f]{8}-){3}[0-9a-f]{8}$/);
  assert.match(out[1], /^previous \d+ [0-9a-f]{32}$/);
  assert.match(out[2], /^current \d+ [0-9a-f]{32}$/);
  assert.match(out[3], /^next \d+ [0-9a-f]{32}$/);
  assert.equal(out[4], "current");
  // 80-byte records (name, AES key, HMAC key) in base64: 108 characters.
  for (const line of out.slice(5, 8)) assert.match(line, /^[A-Za-z0-9+/]{107}=$/);
});

test("the top-level README's Node example is this package's README example", () => {
  const top = readFileSync(join(root, "..", "README.md"), "utf8");
  const section = top.slice(top.indexOf("## JavaScript / Workers"));
  const mine = /## Node example\n\n```js\n([\s\S]*?)```/.exec(readFileSync(join(root, "README.md"), "utf8"))[1];
  const theirs = /### Node example\n\n```js\n([\s\S]*?)```/.exec(section)[1];
  assert.equal(theirs, mine);
});
