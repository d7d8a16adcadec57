#!/usr/bin/env python3
"""Benchmark of the C integration (stdlib only):

1. resumed TLS handshakes per second of the example server with keywheel's ticket callback vs
   the same binary with OpenSSL's built-in ticket keys (-b), both running during the same
   run, measured in alternating rounds, for TLS 1.2 and TLS 1.3; prints the ratio;
2. the cost of one callback call in ns (callback_bench.c).

    python3 ffi/bench/run.py [--rounds N] [--seconds S]

Builds the release library with cargo and the C programs with gcc -O2 into a temporary
directory. Prints figures only: it asserts nothing about speed (that is not a test).
"""
import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUST_LIBS = ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]


def sh(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def build(out: Path):
    sh(["cargo", "build", "-q", "--release", "-p", "keywheel-ffi"], cwd=ROOT)
    meta = json.loads(sh(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                         capture_output=True, text=True).stdout)
    lib = Path(meta["target_directory"]) / "release" / "libkeywheel.a"
    cc = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", ROOT / "include",
          "-I", ROOT / "ffi/openssl"]
    glue = ROOT / "ffi/openssl/keywheel_openssl.c"
    exes = {}
    for name, sources in (("server", [ROOT / "examples/c/server.c", glue]),
                          ("client", [ROOT / "ffi/bench/resume_client.c"]),
                          ("callback", [ROOT / "ffi/bench/callback_bench.c", glue])):
        exes[name] = out / name
        sh([*cc, *sources, "-o", exes[name], lib, "-lssl", "-lcrypto", *RUST_LIBS])
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", out / "key.pem", "-out", out / "cert.pem", "-subj", "/CN=localhost",
        "-days", "2"], capture_output=True)
    (out / "main.key").write_bytes(os.urandom(32))
    (out / "main.key").chmod(0o600)  # the library refuses group/other-readable key files
    return exes


def cpu_ns(pid):
    """CPU time a process has used, in ns (first field of /proc/PID/schedstat)."""
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
        return int(f.read().split()[0])


def start(exe, out, *args):
    p = subprocess.Popen([str(c) for c in [exe, "-c", out / "cert.pem", "-k", out / "key.pem",
                                            "-p", "0", *args]],
                         stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline() if ready else ""
    if not line.startswith("port "):
        p.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return p, int(line.split()[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="keywheel-bench-"))
    try:
        exes = build(out)
        kw, kw_port = start(exes["server"], out, "-m", out / "main.key", "-l", "bench")
        builtin, builtin_port = start(exes["server"], out, "-b")
        print(f"resumed handshakes, {args.rounds} alternating rounds of {args.seconds} s per "
              "server (example server, one thread; client on the same machine). rate: "
              "handshakes per second of wall time; cpu: server CPU time per handshake "
              "(/proc/PID/schedstat), which other load on the machine disturbs less")
        try:
            for version in ("1.2", "1.3"):
                totals = {"keywheel": [0, 0.0, 0], "builtin": [0, 0.0, 0]}
                for _ in range(args.rounds):
                    for name, proc, port in (("keywheel", kw, kw_port),
                                             ("builtin", builtin, builtin_port)):
                        cpu = cpu_ns(proc.pid)
                        line = sh([exes["client"], port, version, args.seconds],
                                  capture_output=True, text=True).stdout.split()
                        fields = dict(zip(line[::2], line[1::2]))
                        totals[name][0] += int(fields["handshakes"])
                        totals[name][1] += float(fields["seconds"])
                        totals[name][2] += cpu_ns(proc.pid) - cpu
                rate = {k: n / s for k, (n, s, _) in totals.items()}
                cpu = {k: c / n / 1000 for k, (n, _, c) in totals.items()}
                print(f"TLS {version}: keywheel {rate['keywheel']:6.0f}/s {cpu['keywheel']:6.1f} "
                      f"us cpu | OpenSSL built-in {rate['builtin']:6.0f}/s {cpu['builtin']:6.1f} "
                      f"us cpu | ratio: rate {rate['keywheel'] / rate['builtin']:.3f}x, "
                      f"cpu-based {cpu['builtin'] / cpu['keywheel']:.3f}x")
        finally:
            for p in (kw, builtin):
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
        print()
        sh([exes["callback"]])
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
