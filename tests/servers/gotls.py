"""Helpers of the Go crypto/tls and Caddy tests (test_go.py, test_caddy.py).

- A gob decoder, written from the documentation of Go's encoding/gob (type-definition messages
  decoded through the bootstrap types wireType/arrayType/sliceType/structType/fieldType/
  gobEncoderType, then values by their wire types). It shares nothing with keywheel's Rust
  encoder (cli/src/servers/caddy.rs) and reads what Caddy itself writes.
- A reference `stek.bin` and seed-file writer (used only with KEYWHEEL_STEK_WRITER=reference:
  the tests run against it without the CLI; tests/servers/run.sh always uses the real CLI).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import harness
import reference

GO_UNIX_OFFSET = 62135596800  # seconds from 0001-01-01 to 1970-01-01


# --- gob decoding -------------------------------------------------------------------------------


class GobError(ValueError):
    pass


class _R:
    def __init__(self, data: bytes):
        self.d, self.p = data, 0

    def byte(self) -> int:
        if self.p >= len(self.d):
            raise GobError("unexpected end of data")
        b = self.d[self.p]
        self.p += 1
        return b

    def take(self, n: int) -> bytes:
        if self.p + n > len(self.d):
            raise GobError("unexpected end of data")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def uint(self) -> int:
        b = self.byte()
        if b < 0x80:
            return b
        n = 256 - b
        if n > 8:
            raise GobError(f"bad uint length byte {b:#x}")
        return int.from_bytes(self.take(n), "big")

    def int(self) -> int:
        u = self.uint()
        return ~(u >> 1) if u & 1 else u >> 1

    def done(self) -> bool:
        return self.p == len(self.d)


# Bootstrap type ids of encoding/gob (type.go): the basic types and the wire types that describe
# user types.
T_BOOL, T_INT, T_UINT, T_FLOAT, T_BYTES, T_STRING = 1, 2, 3, 4, 5, 6
T_WIRE, T_ARRAY, T_COMMON, T_SLICE, T_STRUCT, T_FIELD, T_FIELDSLICE, T_MAP = range(16, 24)
T_GOBENC, T_BINMARSHAL, T_TEXTMARSHAL = 24, 25, 26


@dataclass
class GobType:
    kind: str  # "struct", "slice", "array", "gobencoder", "basic"
    name: str = ""
    elem: int = 0
    length: int = 0
    fields: list[tuple[str, int]] | None = None


def _struct_fields(r: _R, handlers: dict[int, callable]) -> dict[int, object]:
    """Decode a struct value: field deltas until 0; handlers[field_number](r) reads each."""
    out, f = {}, -1
    while True:
        delta = r.uint()
        if delta == 0:
            return out
        f += delta
        if f not in handlers:
            raise GobError(f"unknown field {f}")
        out[f] = handlers[f](r)


def _common(r: _R) -> dict:
    v = _struct_fields(r, {0: lambda r: r.take(r.uint()).decode(), 1: _R.int})
    return {"name": v.get(0, ""), "id": v.get(1, 0)}


def _wire_type(r: _R) -> GobType:
    def array(r):
        v = _struct_fields(r, {0: _common, 1: _R.int, 2: _R.int})
        return GobType("array", v.get(0, {}).get("name", ""), v.get(1, 0), v.get(2, 0))

    def slice_(r):
        v = _struct_fields(r, {0: _common, 1: _R.int})
        return GobType("slice", v.get(0, {}).get("name", ""), v.get(1, 0))

    def field(r):
        v = _struct_fields(r, {0: lambda r: r.take(r.uint()).decode(), 1: _R.int})
        return (v.get(0, ""), v.get(1, 0))

    def struct(r):
        def fields(r):
            return [field(r) for _ in range(r.uint())]
        v = _struct_fields(r, {0: _common, 1: fields})
        return GobType("struct", v.get(0, {}).get("name", ""), fields=v.get(1, []))

    def gobenc(r):
        v = _struct_fields(r, {0: _common})
        return GobType("gobencoder", v.get(0, {}).get("name", ""))

    v = _struct_fields(r, {0: array, 1: slice_, 2: struct, 4: gobenc, 5: gobenc, 6: gobenc})
    if len(v) != 1:
        raise GobError(f"wireType with {len(v)} fields set")
    return next(iter(v.values()))


def _value(r: _R, tid: int, types: dict[int, GobType]):
    if tid == T_UINT:
        return r.uint()
    if tid == T_INT:
        return r.int()
    if tid == T_BOOL:
        return r.uint() != 0
    if tid in (T_BYTES, T_STRING):
        return r.take(r.uint())
    t = types.get(tid)
    if t is None:
        raise GobError(f"value of undefined type {tid}")
    if t.kind == "array":
        n = r.uint()
        if n != t.length:
            raise GobError(f"array of {n} elements, type says {t.length}")
        return [_value(r, t.elem, types) for _ in range(n)]
    if t.kind == "slice":
        return [_value(r, t.elem, types) for _ in range(r.uint())]
    if t.kind == "gobencoder":
        return r.take(r.uint())
    if t.kind == "struct":
        handlers = {i: (lambda ft: lambda r: _value(r, ft, types))(ftid)
                    for i, (_, ftid) in enumerate(t.fields)}
        v = _struct_fields(r, handlers)
        return {t.fields[i][0]: x for i, x in v.items()}
    raise GobError(f"unsupported kind {t.kind}")


def gob_decode(data: bytes) -> tuple[dict[int, GobType], int, object]:
    """Decode one gob stream holding one top-level value: (types defined, its type id, value).
    Raises GobError on anything malformed, truncated or extended."""
    r = _R(data)
    types: dict[int, GobType] = {}
    while not r.done():
        n = r.uint()
        msg = _R(r.take(n))
        tid = msg.int()
        if tid < 0:
            types[-tid] = _wire_type(msg)
        else:
            t = types.get(tid)
            if t is None or t.kind != "struct":
                raise GobError(f"top-level value of type {tid} is not a defined struct")
            # a top-level non-struct would have a 0 byte first; structs start with field deltas
            value = _value(msg, tid, types)
            if not msg.done():
                raise GobError("bytes left in the value message")
            if not r.done():
                raise GobError("data after the value message")
            return types, tid, value
        if not msg.done():
            raise GobError("bytes left in a type message")
    raise GobError("no value message")


def go_time(b: bytes) -> tuple[int, int, int]:
    """time.Time.MarshalBinary (version 1): (unix seconds, nanoseconds, zone offset minutes or
    -1 for UTC)."""
    if len(b) != 15 or b[0] != 1:
        raise GobError(f"time of {len(b)} bytes, version {b[:1].hex()}")
    sec = int.from_bytes(b[1:9], "big", signed=True) - GO_UNIX_OFFSET
    return sec, int.from_bytes(b[9:13], "big", signed=True), int.from_bytes(b[13:15], "big",
                                                                             signed=True)


@dataclass
class Stek:
    keys: list[bytes]
    last_rotation: tuple[int, int, int]
    next_rotation: tuple[int, int, int]


def decode_stek(data: bytes) -> Stek:
    """Decode Caddy's stek.bin and check it has distributedSTEK's shape."""
    types, tid, value = gob_decode(data)
    t = types[tid]
    if t.name != "distributedSTEK" or [f[0] for f in t.fields] != ["Keys", "LastRotation",
                                                                    "NextRotation"]:
        raise GobError(f"not distributedSTEK: {t}")
    keys_t = types[t.fields[0][1]]
    arr = types[keys_t.elem]
    if keys_t.kind != "slice" or arr.kind != "array" or arr.length != 32 or arr.elem != T_UINT:
        raise GobError("Keys is not [][32]byte")
    if types[t.fields[1][1]].name != "Time" or types[t.fields[2][1]].name != "Time":
        raise GobError("rotation times are not time.Time")
    keys = [bytes(k) for k in value.get("Keys", [])]
    return Stek(keys, go_time(value["LastRotation"]), go_time(value["NextRotation"]))


# --- reference writers (KEYWHEEL_STEK_WRITER=reference only) ---------------------------------


def _guint(v: int) -> bytes:
    if v < 0x80:
        return bytes([v])
    b = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return bytes([256 - len(b)]) + b


def _gint(v: int) -> bytes:
    return _guint((~v << 1) | 1 if v < 0 else v << 1)


def _gstr(s: str) -> bytes:
    return _guint(len(s)) + s.encode()


def _msg(body: bytes) -> bytes:
    return _guint(len(body)) + body


def encode_stek(keys: list[bytes], last: int, next_: int) -> bytes:
    """What Go's gob.NewEncoder(w).Encode(distributedSTEK{...}) writes (UTC times, no
    nanoseconds), built up from the documented wire format."""
    def common(name, tid):
        return (b"\x01" + _gstr(name) if name else b"") + (b"\x01" if name else b"\x02") + \
            _gint(tid) + b"\x00"
    struct = _gint(-65) + b"\x03" + b"\x01" + common("distributedSTEK", 65) + b"\x01" + \
        _guint(3) + b"".join(b"\x01" + _gstr(n) + b"\x01" + _gint(t) + b"\x00"
                             for n, t in [("Keys", 67), ("LastRotation", 68),
                                          ("NextRotation", 68)]) + b"\x00\x00"
    slice_ = _gint(-67) + b"\x02" + b"\x01" + common("[][32]uint8", 67) + b"\x01" + _gint(66) + \
        b"\x00\x00"
    array = _gint(-66) + b"\x01" + b"\x01" + common("", 66) + b"\x01" + _gint(T_UINT) + b"\x01" + \
        _gint(32) + b"\x00\x00"
    timet = _gint(-68) + b"\x05" + b"\x01" + common("Time", 68) + b"\x00\x00"

    def t(unix):
        return b"\x01" + (unix + GO_UNIX_OFFSET).to_bytes(8, "big") + bytes(4) + b"\xff\xff"
    value = _gint(65) + b"\x01" + _guint(len(keys)) + b"".join(
        _guint(32) + b"".join(_guint(x) for x in k) for k in keys)
    value += b"\x01" + _guint(15) + t(last) + b"\x01" + _guint(15) + t(next_) + b"\x00"
    return b"".join(_msg(m) for m in (struct, slice_, array, timet, value))


def default_grace(interval: int) -> int:
    """SPEC/README: NextRotation = next interval start + min(60, interval / 2)."""
    return min(60, interval // 2)


def expected_stek(main: bytes, label: str, now: int, interval: int, keep: int) -> Stek:
    c = reference.current_counter(now, interval)
    return Stek(reference.go_window(main, label, now, interval, keep),
                (c * interval, 0, -1), ((c + 1) * interval + default_grace(interval), 0, -1))


def _atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.ref.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def reference_write(fmt: str, main: bytes, label: str, now: int, interval: int, keep: int,
                    out: Path) -> None:
    c = reference.current_counter(now, interval)
    seeds = reference.go_window(main, label, now, interval, keep)
    if fmt == "caddy":
        data = encode_stek(seeds, c * interval, (c + 1) * interval + default_grace(interval))
        _atomic_write(Path(out) / "stek" / "stek.bin", data)
    elif fmt == "go":
        _atomic_write(Path(out), b"".join(seeds))
    elif fmt == "go-json":
        _atomic_write(Path(out), (json.dumps(go_json(main, label, now, interval, keep)) +
                                  "\n").encode())
    else:
        raise ValueError(fmt)


def go_json(main: bytes, label: str, now: int, interval: int, keep: int) -> dict:
    """SPEC 4.5's JSON form of a seed window."""
    c = reference.current_counter(now, interval)
    return {"interval": interval, "keep": keep, "current": c, "next_rotation": (c + 1) * interval,
            "seeds": [base64.b64encode(s).decode()
                      for s in reference.go_window(main, label, now, interval, keep)]}


# --- the real CLI ---------------------------------------------------------------------------


def write(fmt: str, label: str, main_key_file: Path, interval: int, keep: int, out: Path,
          now: int, extra: list[str] | None = None) -> subprocess.CompletedProcess | None:
    """Write fmt's keys with the writer in use (the CLI: harness.write_keys' command line)."""
    if harness.writer() == "reference":
        reference_write(fmt, Path(main_key_file).read_bytes()[:32], label, now, interval, keep,
                        out)
        return None
    harness.write_keys(fmt, label, main_key_file, interval, keep, out, now, extra)
    return None


# --- Go 1.19 tickets --------------------------------------------------------------------------


def go_ticket_key(seed: bytes) -> tuple[bytes, bytes, bytes]:
    """Go 1.19 crypto/tls ticketKeyFromBytes: SHA-512(seed) = name16 | aes16 | hmac16 | ..."""
    import hashlib

    h = hashlib.sha512(seed).digest()
    return h[:16], h[16:32], h[32:48]


def go_ticket_matches(ticket: bytes, seed: bytes) -> bool:
    """A Go 1.19 ticket (name16 | IV16 | AES-128-CTR ciphertext | HMAC-SHA256 over all before)
    made with `seed`: name and HMAC both check."""
    import hashlib
    import hmac

    name, _aes, mac_key = go_ticket_key(seed)
    if len(ticket) < 16 + 16 + 32 or ticket[:16] != name:
        return False
    return hmac.compare_digest(hmac.new(mac_key, ticket[:-32], hashlib.sha256).digest(),
                               ticket[-32:])


def assert_go_ticket(ticket: bytes, main: bytes, label: str, counter: int) -> None:
    seed = reference.go_seed(main, label, counter)
    if not go_ticket_matches(ticket, seed):
        found = [n for n in range(counter - 8, counter + 9)
                 if ticket[:16] == go_ticket_key(reference.go_seed(main, label, n))[0]]
        raise AssertionError(f"ticket ({len(ticket)} bytes, name {ticket[:16].hex()}) is not "
                             f"made with seed {counter} of label {label!r}; its name matches "
                             f"counters {found}")


def build_goserver(workdir: Path) -> Path:
    """examples/go built offline with Debian's Go (GOPROXY=off), once per workdir."""
    out = workdir / "goserver"
    if out.exists():
        return out
    env = dict(os.environ, GOPROXY="off", GOCACHE=str(workdir / "gocache"),
               GOPATH=str(workdir / "gopath"))
    r = subprocess.run(["go", "build", "-o", str(out), "."],
                       cwd=harness.REPO_ROOT / "examples" / "go", capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, f"go build failed:\n{r.stdout}{r.stderr}"
    return out
