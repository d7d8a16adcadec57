#!/usr/bin/env python3
"""Real-kernel clock-step test for the `keywheel` daemon.

Usage: clock_step_test.py [PATH_TO_KEYWHEEL]   (default: <repo>/target/debug/keywheel)

The daemon sleeps on a CLOCK_REALTIME timerfd armed with TFD_TIMER_CANCEL_ON_SET, so that a
clock step (NTP stepping the clock, a virtual machine restored from a snapshot) wakes it at
once. The kernel reports a step on the timer's read and also, when the clock was set again
before the timer was re-armed, on timerfd_settime() itself (ECANCELED, timerfd_create(2),
NOTES): a daemon that took the latter for a fatal error died on a restored virtual machine.
This test runs a daemon (`keywheel stek`, one key file on tmpfs, interval 10 s) and sets the
real clock to its own current value (a step of a few microseconds) up to 3,000 times in a
burst, then checks that the daemon is alive, logged the steps and no error, and still
rotates: its key file holds the keys of the current interval (compared with `keywheel stek
--once --time` for the same second).

Needs root (clock_settime). Prints a SKIP line and exits 0 when not root. Output: PASS/FAIL
lines, then `N passed, N failed`; the exit status is non-zero on any failure.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    binary = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target/debug/keywheel")
    if os.geteuid() != 0:
        print("SKIP clock_step_test: setting the clock needs root")
        return 0
    failed = passed = 0

    def check(ok: bool, what: str) -> None:
        nonlocal failed, passed
        print(f"{'PASS' if ok else 'FAIL'} {what}")
        passed += ok
        failed += not ok

    with tempfile.TemporaryDirectory(prefix="keywheel-clock-step-", dir="/dev/shm") as d:
        d = Path(d)
        key = d / "main.key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, bytes(range(1, 33)))
        os.close(fd)
        out, log = d / "keys.bin", d / "daemon.log"
        args = ["stek", "--format", "openssl", "--label", "clock.example", "--main-key",
                str(key), "--interval", "10"]
        with open(log, "w") as err:
            daemon = subprocess.Popen([str(binary), *args, "--out", str(out)],
                                      stdout=subprocess.DEVNULL, stderr=err,
                                      stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not out.exists() and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(0.05)
            check(out.exists(), "the daemon wrote its key file")
            steps = 0
            for _ in range(3000):
                # a step to the clock's own value: the kernel calls it a set all the same
                time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))
                steps += 1
                if daemon.poll() is not None:
                    break
            time.sleep(1.5)
            text = log.read_text(errors="replace")
            check(daemon.poll() is None,
                  f"the daemon survived {steps} clock steps (exit status {daemon.poll()})")
            check("the clock was stepped" in text, "the daemon logged the clock steps")
            errors = [line for line in text.splitlines() if line.startswith("error")]
            check(not errors, f"no error line ({errors[:2]})")
            # still rotating the right keys: the file equals a one-shot write for this second
            # (retried once when a boundary falls between the two)
            same = False
            for _ in range(2):
                now = int(time.time())
                ref = d / "ref.bin"
                r = subprocess.run([str(binary), *args, "--out", str(ref), "--once", "--time",
                                    str(now)], capture_output=True, text=True)
                if r.returncode == 0 and now == int(time.time()) and now % 10 < 8:
                    time.sleep(2.5)  # past the daemon's 2.02 s write delay after a boundary
                    same = out.read_bytes() == ref.read_bytes()
                    break
                time.sleep(2.5)
            check(same, "its key file holds the keys of the current interval")
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(10)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait(10)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
