#!/usr/bin/env python3
"""Real-kernel TCP Fast Open test for the `tofurkey` binary.

Usage: tfo_kernel_test.py [PATH_TO_TOFURKEY]   (default: <repo>/target/debug/tofurkey)

Needs root. Every scenario runs in its own fresh network namespace (`unshare -n`), so the host's
/proc/sys/net/ipv4/tcp_fastopen_key is never written (it is compared before and after the run).
Inside a namespace the binary writes the namespace's real tcp_fastopen_key (its default -P path),
the kernel's read-back is compared with the binary's -V line and with an independent Python
computation (hashlib.blake2b with key/salt/person), and a loopback TFO listener and a
MSG_FASTOPEN client show, through the TcpExt counters of /proc/net/netstat, that a cookie handed
out under the keys of "node A" is accepted under the keys of "node B" (same main key, clock skew
below half an interval) with the primary or the alternate key as the schedule predicts, and
refused under keys from another main key. The client's cached cookie (`ip tcp_metrics`) is also
checked against an independent SipHash-2-4 of the installed primary key.

Output: one PASS/FAIL line per scenario, then `N passed, N failed` alone on a line; the exit
status is non-zero on any failure. Prints a SKIP line and exits 0 when not root or when
`unshare -n` is unavailable. Python 3 standard library only; needs iproute2 (`ip`).
"""

import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

PROCFS_KEY = "/proc/sys/net/ipv4/tcp_fastopen_key"
PROCFS_MODE = "/proc/sys/net/ipv4/tcp_fastopen"
NETSTAT = "/proc/net/netstat"
LOOPBACK = "127.0.0.1"
TCPI_OPT_SYN_DATA = 32  # linux/tcp.h: tcpi_options bit, data in SYN acked (client) / received (server)
TCP_INFO_LEN = 104
VERBOSE_RE = re.compile(r"^info: Generated ASCII TFO keys for procfs write: \[(\d+)\] (\S+)$")

# Test main keys: fixed, non-secret test material (32 bytes each, the file holds exactly that).
MAIN_M = hashlib.sha256(b"keywheel kernel test: main key M").digest()
MAIN_OTHER = hashlib.sha256(b"keywheel kernel test: another main key").digest()
KEY_FILES = {"M": MAIN_M, "other": MAIN_OTHER}

HOUR = 3600
BASE = 1_700_000_000 // HOUR * HOUR  # 1699999200: a multiple of 3600 (and of 1800)
DAY = 86_400
DBASE = 1_700_000_000 // DAY * DAY

# Skew scenarios: (name, interval or None for the default, time A, time B, main key of B, expected)
# expected: "primary" = the cached cookie matches B's primary key (TCPFastOpenPassive only),
#           "alt" = it matches B's backup key (TCPFastOpenPassive + TCPFastOpenPassiveAltKey),
#           "fail" = no match (TCPFastOpenPassiveFail, data only after the handshake).
SKEWS = [
    ("skew +900, same half-interval", HOUR, BASE + 100, BASE + 1000, "M", "primary"),
    ("skew +200 across the mid-interval boundary", HOUR, BASE + 1700, BASE + 1900, "M", "primary"),
    ("skew -200 across the mid-interval boundary", HOUR, BASE + 1900, BASE + 1700, "M", "primary"),
    ("skew +200 across the interval boundary", HOUR, BASE + 3500, BASE + 3700, "M", "alt"),
    ("skew -200 across the interval boundary", HOUR, BASE + 3700, BASE + 3500, "M", "alt"),
    ("skew +1799 to exactly an interval boundary", HOUR, BASE + 1801, BASE + 3600, "M", "alt"),
    ("skew -1799 from exactly an interval boundary", HOUR, BASE + 3600, BASE + 1801, "M", "alt"),
    ("skew +1799 within one interval", HOUR, BASE + 1, BASE + 1800, "M", "primary"),
    ("skew +100 across a day boundary, default -i", None, DBASE - 50, DBASE + 50, "M", "alt"),
    ("control: skew +5400 (beyond half an interval)", HOUR, BASE + 100, BASE + 5500, "M", "fail"),
    ("control: same time, another main key", HOUR, BASE + 100, BASE + 100, "other", "fail"),
]

# Read-back cases: (main key, interval or None, time)
READBACK = [
    ("M", HOUR, BASE),
    ("M", HOUR, BASE + 1799),
    ("M", HOUR, BASE + 1800),
    ("M", 10, 1_000_000),
    ("M", 604_800, 100_000_000_000),
    ("M", None, DBASE + 43_199),
    ("other", None, DBASE + 43_200),
]


# ---------------------------------------------------------------- independent computations


def tfo_key(main, n):
    """libsodium crypto_kdf_blake2b_derive_from_key(16, n, "tofurkey", main[:32])."""
    return hashlib.blake2b(
        b"",
        digest_size=16,
        key=main[:32],
        salt=n.to_bytes(8, "little") + bytes(8),
        person=b"tofurkey" + bytes(8),
    ).digest()


def counters(now, interval):
    """(primary, backup) counters of tofurkey's schedule."""
    n = now // interval
    return n, (n + 1 if now % interval >= interval // 2 else n - 1)


def key_text(key):
    h = key.hex()
    return "-".join(h[i : i + 8] for i in range(0, 32, 8))


def procfs_text(main, now, interval):
    p, b = counters(now, interval)
    return key_text(tfo_key(main, p)) + "," + key_text(tfo_key(main, b))


_M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24(key, msg):
    """Reference SipHash-2-4 (Aumasson & Bernstein), 16-byte key, 8-byte little-endian output."""
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:16], "little")
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rnd():
        v[0] = (v[0] + v[1]) & _M64
        v[1] = _rotl(v[1], 13) ^ v[0]
        v[0] = _rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & _M64
        v[3] = _rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & _M64
        v[3] = _rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & _M64
        v[1] = _rotl(v[1], 17) ^ v[2]
        v[2] = _rotl(v[2], 32)

    end = len(msg) - len(msg) % 8
    for i in range(0, end, 8):
        m = int.from_bytes(msg[i : i + 8], "little")
        v[3] ^= m
        rnd()
        rnd()
        v[0] ^= m
    b = ((len(msg) & 0xFF) << 56) | int.from_bytes(msg[end:], "little")
    v[3] ^= b
    rnd()
    rnd()
    v[0] ^= b
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")


def expected_cookie(primary_group_text):
    """The IPv4 TFO cookie Linux derives from a procfs key (net/ipv4/tcp_fastopen.c): SipHash-2-4
    of saddr||daddr, keyed by the key's four 32-bit groups stored little-endian."""
    key = b"".join(int(g, 16).to_bytes(4, "little") for g in primary_group_text.split("-"))
    addr = socket.inet_aton(LOOPBACK)
    return siphash24(key, addr + addr).hex()


def self_check():
    """Known-answer checks of the independent implementations themselves."""
    # SipHash paper, appendix A: key 00..0f, message 00..0e -> 0xa129ca6149be45e5
    assert siphash24(bytes(range(16)), bytes(range(15))) == (0xA129CA6149BE45E5).to_bytes(8, "little")
    # The schedule table must agree with the rule it claims to exercise.
    for name, interval, ta, tb, which, expect in SKEWS:
        ival = interval or DAY
        pa, _ = counters(ta, ival)
        pb, bb = counters(tb, ival)
        same = which == "M"
        got = "primary" if same and pa == pb else "alt" if same and pa == bb else "fail"
        assert got == expect, (name, got, expect)
        if same and expect != "fail":
            assert abs(tb - ta) < ival // 2, name


# ---------------------------------------------------------------- inside a namespace


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def tfo_counters():
    lines = open(NETSTAT).read().splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            names = head.split()[1:]
            nums = [int(x) for x in vals.split()[1:]]
            return {k: v for k, v in zip(names, nums) if "FastOpen" in k}
    raise Failure("no TcpExt line in " + NETSTAT)


def cached_cookie():
    """The client's cached TFO cookie for 127.0.0.1 (hex), or None."""
    out = subprocess.run(["ip", "tcp_metrics", "show"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(re.escape(LOOPBACK) + r" .*\bfo_cookie ([0-9a-f]+)", line)
        if m:
            return m.group(1)
    return None


def install(args, which, interval, now):
    """Install keys for (main key, interval, time); check -V line, Python and kernel read-back."""
    want = procfs_text(KEY_FILES[which], now, interval or DAY)
    if args.self_write:
        with open(PROCFS_KEY, "w") as f:
            f.write(want)
    else:
        cmd = [args.binary, "-V", "-o", "-k", os.path.join(args.keydir, which), "-T", str(now)]
        if interval is not None:
            cmd += ["-i", str(interval)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
        lines = [m for m in map(VERBOSE_RE.match, r.stderr.splitlines()) if m]
        check(len(lines) == 1, f"expected one key line from -V, stderr was: {r.stderr.strip()!r}")
        check(lines[0].group(1) == str(now), f"-V line time {lines[0].group(1)} != {now}")
        check(lines[0].group(2) == want, f"-V keys {lines[0].group(2)} != Python {want} (t={now})")
    back = open(PROCFS_KEY).read().strip()
    check(back == want, f"kernel read-back {back} != expected {want} (t={now})")
    return want


def connect(listener, payload):
    """One MSG_FASTOPEN connection; returns what the server saw and the counter deltas."""
    before = tfo_counters()
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Blocking socket (Python's settimeout would make MSG_FASTOPEN return EINPROGRESS); the
    # kernel bounds the implicit connect by SO_SNDTIMEO.
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
    cli.sendto(payload, socket.MSG_FASTOPEN, listener.getsockname())
    srv, _ = listener.accept()
    srv.settimeout(5)
    got = b""
    while len(got) < len(payload):
        chunk = srv.recv(len(payload) - len(got))
        if not chunk:
            break
        got += chunk
    srv_opts = srv.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)[5]
    cli_opts = cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)[5]
    cli.close()
    srv.close()
    after = tfo_counters()
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    check(got == payload, f"server received {got!r}, sent {payload!r}")
    return {
        "delta": delta,
        "server_syn_data": bool(srv_opts & TCPI_OPT_SYN_DATA),
        "client_syn_data": bool(cli_opts & TCPI_OPT_SYN_DATA),
        "cookie": cached_cookie(),
    }


def expect_conn(step, res, delta, syn_data, cookie):
    check(res["delta"] == delta, f"{step}: counters moved {res['delta']}, expected {delta}")
    check(res["server_syn_data"] == syn_data, f"{step}: server saw data in SYN = {res['server_syn_data']}")
    check(res["client_syn_data"] == syn_data, f"{step}: client data-in-SYN acked = {res['client_syn_data']}")
    check(res["cookie"] == cookie, f"{step}: cached cookie {res['cookie']}, expected {cookie}")


def fmt_delta(d):
    return ", ".join(f"{k} +{v}" for k, v in sorted(d.items())) or "none"


def setup_namespace(args):
    ino = os.stat("/proc/self/ns/net").st_ino
    if ino == args.parent_netns:
        raise Failure("not in a private network namespace; refusing to write " + PROCFS_KEY)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open(PROCFS_MODE, "w") as f:
        f.write("3")
    check(open(PROCFS_MODE).read().strip() == "3", "net.ipv4.tcp_fastopen did not become 3")


def run_readback(args):
    setup_namespace(args)
    for which, interval, now in READBACK:
        install(args, which, interval, now)
    who = "Python (--self-write)" if args.self_write else "binary"
    return f"{who} wrote the namespace's {PROCFS_KEY} for {len(READBACK)} (key, interval, time) cases; kernel read-back == -V line == Python"


def run_skew(args, idx):
    name, interval, ta, tb, which, expect = SKEWS[idx]
    setup_namespace(args)
    text_a = install(args, "M", interval, ta)
    cookie_a = expected_cookie(text_a.split(",")[0])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
    listener.bind((LOOPBACK, 0))
    listener.listen(16)
    check(cached_cookie() is None, "fresh namespace already has a cached TFO cookie")

    # 1. Cookie request under A's keys: no data in SYN; the cached cookie is A's primary's.
    r = connect(listener, b"1 cookie request")
    expect_conn("A cookie request", r, {"TCPFastOpenCookieReqd": 1}, False, cookie_a)
    # 2. Data in SYN with that cookie under A's keys: accepted with the primary key.
    r = connect(listener, b"2 data in SYN, keys A")
    expect_conn("A data in SYN", r, {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1}, True, cookie_a)

    # 3. Install node B's keys; the client still holds A's cookie.
    text_b = install(args, which, interval, tb)
    cookie_b = expected_cookie(text_b.split(",")[0])
    r = connect(listener, b"3 data in SYN, keys B")
    if expect == "primary":
        want = {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1}
        expect_conn("B primary", r, want, True, cookie_a)
        check(cookie_a == cookie_b, "B's primary differs from A's")
    elif expect == "alt":
        want = {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1, "TCPFastOpenPassiveAltKey": 1}
        # accepted with the backup key; the SYN-ACK carries a fresh cookie under B's primary
        expect_conn("B alternate", r, want, True, cookie_b)
        check(cookie_a != cookie_b, "A's and B's primary keys are equal")
    else:
        want = {"TCPFastOpenActiveFail": 1, "TCPFastOpenPassiveFail": 1}
        # refused: the data is acked only after the 3-way handshake; a new cookie is handed out
        expect_conn("B refused", r, want, False, cookie_b)
        check(cookie_a != cookie_b, "A's and B's primary keys are equal")
    seen = fmt_delta(r["delta"])

    # 4. With the cookie now cached, data in SYN is accepted with B's primary key.
    r = connect(listener, b"4 data in SYN, keys B again")
    expect_conn("B again", r, {"TCPFastOpenActive": 1, "TCPFastOpenPassive": 1}, True, cookie_b)
    listener.close()
    skew = tb - ta
    return f"{name} (i={interval or 'default'}, A t={ta}, B t={tb}, skew {skew:+d}): {expect} [{seen}]"


def inner(args):
    try:
        if args.inner == "readback":
            msg = run_readback(args)
        else:
            msg = run_skew(args, int(args.inner))
    except (Failure, OSError, subprocess.SubprocessError) as e:
        print(f"FAIL {args.label}: {e}")
        return 1
    print(f"PASS {msg}")
    return 0


# ---------------------------------------------------------------- outside


class Args:
    pass


def parse(argv):
    a = Args()
    a.binary = None
    a.inner = None
    a.self_write = False
    a.keydir = None
    a.parent_netns = None
    a.label = ""
    it = iter(argv)
    for arg in it:
        if arg == "--inner":
            a.inner = next(it)
        elif arg == "--keydir":
            a.keydir = next(it)
        elif arg == "--parent-netns":
            a.parent_netns = int(next(it))
        elif arg == "--label":
            a.label = next(it)
        elif arg == "--self-write":
            # Diagnostic only: Python writes procfs instead of the binary (kernel mechanics alone).
            a.self_write = True
        elif arg in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        elif arg.startswith("-") or a.binary is not None:
            print(f"usage: {sys.argv[0]} [PATH_TO_TOFURKEY]", file=sys.stderr)
            sys.exit(2)
        else:
            a.binary = arg
    return a


def outer(args):
    if os.geteuid() != 0:
        print(f"SKIP tfo kernel test: needs root (euid {os.geteuid()})")
        return 0
    unshare = shutil.which("unshare")
    if unshare is None:
        print("SKIP tfo kernel test: unshare (util-linux) not found")
        return 0
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"SKIP tfo kernel test: `unshare -n` unavailable: {probe.stderr.strip()}")
        return 0
    self_check()
    passed = failed = 0

    def fail(msg):
        nonlocal failed
        print("FAIL " + msg)
        failed += 1

    if args.self_write:
        print("NOTE --self-write: Python writes procfs, the binary is NOT tested")
    elif not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        fail(f"binary {args.binary} missing; build it: cargo build -p keywheel-cli --bin tofurkey")
        print(f"{passed} passed, {failed} failed")
        return 1
    if shutil.which("ip") is None:
        fail("`ip` (iproute2) not found; install it: apt-get install -y iproute2")
        print(f"{passed} passed, {failed} failed")
        return 1

    host_key = open(PROCFS_KEY).read()
    host_mode = open(PROCFS_MODE).read()
    parent_ns = os.stat("/proc/self/ns/net").st_ino
    with tempfile.TemporaryDirectory(prefix="keywheel-tfo-kernel-") as keydir:
        for name, material in KEY_FILES.items():
            fd = os.open(os.path.join(keydir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, material)
            os.close(fd)
        jobs = [("readback", "procfs read-back")] + [(str(i), s[0]) for i, s in enumerate(SKEWS)]
        for job, label in jobs:
            cmd = [unshare, "-n", "--", sys.executable, os.path.abspath(__file__), "--inner", job]
            cmd += ["--keydir", keydir, "--parent-netns", str(parent_ns), "--label", label]
            cmd += ["--self-write"] if args.self_write else [args.binary]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                fail(f"{label}: timed out")
                continue
            out = r.stdout.strip()
            if r.returncode == 0 and out.startswith("PASS "):
                print(out)
                passed += 1
            elif r.returncode == 1 and out.startswith("FAIL "):
                print(out)
                failed += 1
            else:
                fail(f"{label}: exit {r.returncode}: {out} {r.stderr.strip()}")

    if open(PROCFS_KEY).read() == host_key and open(PROCFS_MODE).read() == host_mode:
        print(f"PASS host {PROCFS_KEY} and tcp_fastopen untouched")
        passed += 1
    else:
        fail(f"host {PROCFS_KEY} or tcp_fastopen changed during the test")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    args = parse(sys.argv[1:])
    if args.inner is not None:
        return inner(args)
    if args.binary is None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        args.binary = os.path.join(root, "target", "debug", "tofurkey")
    args.binary = os.path.abspath(args.binary)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
