"""Independent reference for `keywheel stek` (SPEC.md section 4 and README "TLS session tickets"),
written with Python's hashlib only. Reads a JSON list of queries on stdin:
  {"main": hex, "label": str, "format": str, "interval": int, "keep": int, "now": int}
or, in forward-secure mode (SPEC.md section 6), "seed": hex (the state's seed) instead of
"main": keys then come from tests/cross/forward_independent.py (a hashlib implementation of the
tree, found through the KEYWHEEL_CROSS_DIR environment variable), and prints a JSON list of
answers:
  server formats: {"files": {relative path or "": hex}, "lines": [base64 lines] (HAProxy)}
  seed formats:   {"files": {"" or "stek/stek.bin": hex}, "seeds": [hex seed, ...],
                   "names": [hex Go name, ...]} (go, go-json, caddy; SPEC.md 4.5)
  json:           the JSON document `keywheel stek --format json --print-keys` writes.
"""

import base64
import hashlib
import json
import os
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


def go_seed(main: bytes, label: str, n: int) -> bytes:
    """SPEC 4.5: derive_key(LK, "kwts-g32", n, 32)."""
    return derive_key(label_key(main, label), b"kwts-g32", n, 32)


def forward_keys(seed: bytes, label: str, interval: int):
    """Forward-secure mode (SPEC 6.3): the same keys with the label key of leaf(n * interval)."""
    sys.path.insert(0, os.environ["KEYWHEEL_CROSS_DIR"])
    import forward_independent as fi

    def key(bits, n):
        k = fi.fs_ticket_key(seed, label.encode(), interval, "aes%d" % bits, n)
        return k.name, k.aes, k.hmac

    return key, lambda n: fi.fs_go_seed(seed, label.encode(), interval, n)


# Caddy's stek.bin (SERVERS.md, checked against Go 1.19.8): the four type definitions a fresh
# gob encoder writes for distributedSTEK, then one value message.
GOB_TYPES = bytes.fromhex(
    "4bff810301010f64697374726962757465645354454b01ff8200010301044b65797301ff8600010c4c617374"
    "526f746174696f6e01ff8800010c4e657874526f746174696f6e01ff88000000"
    "1aff850201010b5b5d5b33325d75696e743801ff860001ff840000"
    "0eff83010102ff8400010601400000"
    "10ff870501010454696d6501ff88000000")


def gob_uint(v: int) -> bytes:
    if v < 0x80:
        return bytes([v])
    b = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return bytes([256 - len(b)]) + b


def caddy_stek(seeds, last: int, next_: int) -> bytes:
    def t(unix):  # time.Time.MarshalBinary v1, UTC: seconds since year 1, 0 ns, zone -1
        return b"\x01\x0f\x01" + (unix + 62135596800).to_bytes(8, "big") + bytes(4) + b"\xff\xff"
    body = b"\xff\x82\x01" + gob_uint(len(seeds)) + b"".join(
        b"\x20" + b"".join(gob_uint(x) for x in s) for s in seeds) + t(last) + t(next_) + b"\x00"
    return GOB_TYPES + gob_uint(len(body)) + body


def answer(q):
    label, fmt = q["label"], q["format"]
    if "seed" in q:
        key_of, seed_of = forward_keys(bytes.fromhex(q["seed"]), label, q["interval"])
    else:
        main = bytes.fromhex(q["main"])
        key_of = lambda bits, n: ticket_key(main, label, bits, n)  # noqa: E731
        seed_of = lambda n: go_seed(main, label, n)  # noqa: E731
    interval, keep, now = q["interval"], q["keep"], q["now"]
    c = now // interval
    previous = [c - i for i in range(1, keep + 1)]
    if fmt in ("go", "go-json", "caddy"):
        seeds = [seed_of(n) for n in [c, c + 1, *previous]]
        if fmt == "go":
            data, path = b"".join(seeds), ""
        elif fmt == "go-json":
            doc = {"interval": interval, "keep": keep, "current": c,
                   "next_rotation": (c + 1) * interval,
                   "seeds": [base64.b64encode(x).decode() for x in seeds]}
            data, path = (json.dumps(doc, separators=(",", ":")) + "\n").encode(), ""
        else:
            grace = min(60, interval // 2)
            data = caddy_stek(seeds, c * interval, (c + 1) * interval + grace)
            path = "stek/stek.bin"
        return {"files": {path: data.hex()}, "seeds": [x.hex() for x in seeds],
                "names": [hashlib.sha512(x).digest()[:16].hex() for x in seeds]}
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
                name, aes, hmac = key_of(bits, n)
                k["aes%d" % bits] = {"name": name.hex(), "aes_key": aes.hex(),
                                     "hmac_key": hmac.hex()}
            keys.append(k)
        return {"label": label, "interval": interval, "keep": keep, "time": now, "current": c,
                "next_rotation": (c + 1) * interval, "max_ticket_age": (keep + 1) * interval,
                "keys": keys}
    def rec(n):
        bits, layout = FORMATS[fmt]
        name, aes, hmac = key_of(bits, n)
        return name + hmac + aes if layout == "hmac_aes" else name + aes + hmac
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
            name, aes, hmac = key_of(256, n)
            return struct.pack("<iii", 0, n * interval, (n + keep + 1) * interval - 1) + name \
                + hmac + aes
        load_check = ((c + 1) * interval - 60) // 64 * 64
        return {"files": {"": lrec(c).hex()}, "next": lrec(c + 1).hex(),
                "publish": load_check - 32, "mtime": max(now, now // 64 * 64 + 2)}
    if fmt == "h2o":
        text = ""
        for n in range(c + 1, c - keep - 1, -1):
            name, aes, hmac = key_of(256, n)
            text += (f"- name: {name.hex()}\n  cipher: aes-256-cbc\n  hash: sha256\n"
                     f"  key: {aes.hex()}{hmac.hex()}{bytes(32).hex()}\n"
                     f"  not_before: {n * interval}\n"
                     f"  not_after: {(n + keep + 1) * interval - 1}\n")
        return {"files": {"": text.encode().hex()}, "mtime": now}
    raise ValueError(fmt)


print(json.dumps([answer(q) for q in json.load(sys.stdin)]))
