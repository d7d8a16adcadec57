// Shared helpers of the Node tests of the npm package.
import { readFileSync } from "node:fs";

/** The shared vectors (tests/vectors/keywheel.json at the repository root). */
export const vectors = JSON.parse(
  readFileSync(new URL("../../../tests/vectors/keywheel.json", import.meta.url), "utf8"),
);

/** The cases of one section of the vectors (never empty). */
export function cases(section) {
  const c = vectors[section]?.cases;
  if (!Array.isArray(c) || c.length === 0) throw new Error(`no cases in section ${section}`);
  return c;
}

export const unhex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
export const hex = (bytes) => Buffer.from(bytes).toString("hex");
/** A label of the vectors (label_hex is authoritative: labels are UTF-8 bytes). */
export const label = (c) => Buffer.from(c.label_hex, "hex").toString("utf8");
