"""Independent reference for `keywheel stek` (SPEC.md section 4 and README "TLS session tickets"),
written with Python's hashlib only. Reads a JSON list of queries on stdin:
  {"main": hex, "label": str, "format": str, "interval": int, "keep": int, "now": int}
and prints a JSON list of answers:
  server formats: {"files": {relative path or "": hex}, "lines": [base64 lines] (HAProxy)}
  json:           the JSON document `keywheel stek --format json --print-keys` writes.
"""

import base64
import hashlib
import json
import struct
import sys


def derive_key(key: bytes, ctx: bytes, n: int, length: int) -> bytes:
    return hashlib.blake2b(b"", digest_size=length, key=key,
                           salt=n.to_bytes(8, "little") + bytes(8), person=ctx + bytes(8)).digest()


def label_key(main: bytes, label: str) -> bytes:
    return hashlib.blake2b(label.encode(), digest_size=32, key=main[:32],
                           person=b"keywheel.label").digest()


def ticket_key(main: bytes, label: str, bits: int, n: int):
    lk = label_key(main, label)
    size = bits // 8
    name = derive_key(lk, b"kwtn-%d" % bits, n, 16)
    material = derive_key(lk, b"kwtk-%d" % bits, n, 2 * size)
    return name, material[:size], material[size:]  # name, aes, hmac


# format: (bits, layout); layout "hmac_aes" = name|hmac|aes, "aes_hmac" = name|aes|hmac
FORMATS = {
    "nginx": (256, "hmac_aes"), "nginx48": (128, "aes_hmac"),
    "haproxy": (256, "aes_hmac"), "haproxy48": (128, "aes_hmac"),
    "apache": (128, "hmac_aes"), "ats": (128, "hmac_aes"), "openssl": (256, "hmac_aes"),
}


def record(main, label, fmt, n):
    bits, layout = FORMATS[fmt]
    name, aes, hmac = ticket_key(main, label, bits, n)
    return name + hmac + aes if layout == "hmac_aes" else name + aes + hmac


def answer(q):
    main, label, fmt = bytes.fromhex(q["main"]), q["label"], q["format"]
    interval, keep, now = q["interval"], q["keep"], q["now"]
    c = now // interval
    previous = [c - i for i in range(1, keep + 1)]
    if fmt == "json":
        keys = []
        for n in range(c - keep, c + 2):
            k = {"counter": n,
                 "role": "current" if n == c else "next" if n == c + 1 else "previous"}
            if n < c:
                k["age"] = c - n
            k["current_from"] = n * interval
            k["current_until"] = (n + 1) * interval
            for bits in (256, 128):
                name, aes, hmac = ticket_key(main, label, bits, n)
                k["aes%d" % bits] = {"name": name.hex(), "aes_key": aes.hex(),
                                     "hmac_key": hmac.hex()}
            keys.append(k)
        return {"label": label, "interval": interval, "keep": keep, "time": now, "current": c,
                "next_rotation": (c + 1) * interval, "max_ticket_age": (keep + 1) * interval,
                "keys": keys}
    rec = lambda n: record(main, label, fmt, n)  # noqa: E731
    if fmt in ("nginx", "nginx48"):
        order = [c, c + 1, *previous]
        return {"files": {f"keys.{c}/{i}.key": rec(n).hex() for i, n in enumerate(order)}}
    if fmt in ("haproxy", "haproxy48"):
        lines = [base64.b64encode(rec(n)).decode() for n in (c - 1, c, c + 1)]
        return {"files": {"": ("\n".join(lines) + "\n").encode().hex()}, "lines": lines}
    if fmt in ("apache", "openssl"):
        return {"files": {"": rec(c).hex()}}
    if fmt == "ats":
        return {"files": {"": b"".join(rec(n) for n in [c, c + 1, *previous]).hex()}}
    if fmt == "lighttpd":
        # SPEC 4.4: one 92-byte record; a fresh file gets the current key c (the next one is
        # written once lighttpd loaded c); the file holds c + 1 from W(c + 1) on.
        def lrec(n):
            name, aes, hmac = ticket_key(main, label, 256, n)
            return struct.pack("<iii", 0, n * interval, (n + keep + 1) * interval - 1) + name \
                + hmac + aes
        load_check = ((c + 1) * interval - 60) // 64 * 64
        return {"files": {"": lrec(c).hex()}, "next": lrec(c + 1).hex(),
                "publish": load_check - 32, "mtime": max(now, now // 64 * 64 + 2)}
    if fmt == "h2o":
        text = ""
        for n in range(c + 1, c - keep - 1, -1):
            name, aes, hmac = ticket_key(main, label, 256, n)
            text += (f"- name: {name.hex()}\n  cipher: aes-256-cbc\n  hash: sha256\n"
                     f"  key: {aes.hex()}{hmac.hex()}{bytes(32).hex()}\n"
                     f"  not_before: {n * interval}\n"
                     f"  not_after: {(n + keep + 1) * interval - 1}\n")
        return {"files": {"": text.encode().hex()}, "mtime": now}
    raise ValueError(fmt)


print(json.dumps([answer(q) for q in json.load(sys.stdin)]))
