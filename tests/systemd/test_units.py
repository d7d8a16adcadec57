#!/usr/bin/env python3
"""Checks of the example systemd units in contrib/systemd/ and of contrib/keywheel.toml.example.

Usage: python3 tests/systemd/test_units.py [-v]      (also collected by pytest)
Environment: KEYWHEEL_BIN_DIR, the directory of the built `keywheel` and `tofurkey`
(default: <repo>/target/debug). Python 3.11 standard library only; needs `systemd-analyze`
(Debian package `systemd`), and for the sandbox tests root, `unshare`, `nsenter`, `setpriv`,
`prlimit` (util-linux). Tests that cannot run print a skip reason.

What is checked:
- `systemd-analyze verify` on every unit, with its drop-ins, prints nothing about our files
  (copies of the units whose ExecStart= points at the built binaries, since verify requires an
  executable); a unit with an unknown key and a bad value is flagged (the check bites).
- `systemd-analyze security --offline=yes`: overall exposure <= 1.5 and every failed item is one
  of the few this README justifies (EXPECTED_EXPOSED); a unit stripped of its hardening is flagged.
- The units agree with the config and the CLI: ExecStart= is exactly the documented command,
  credential names match, every output lies where the sandbox lets keywheel write, and the real
  binaries accept the ExecStart= command lines.
- Sandbox (root only): the unit's sandbox rebuilt with unshare/setpriv in private network and
  mount namespaces (the host's TFO key is never written): credentials in /run/credentials/UNIT,
  RuntimeDirectory=, ProtectSystem=strict, PrivateTmp=, ProtectKernelTunables= with
  ReadWritePaths= on the TFO key file, the unit's CapabilityBoundingSet= as uid 0 and
  NoNewPrivileges=, plus RLIMIT_MEMLOCK = 0; the built binaries bind-mounted where the units
  name them (/usr/bin/keywheel, /usr/sbin/tofurkey). The real binaries, run with the units' own
  command lines, install the keys the TFO contract prescribes (checked with hashlib) and the ticket-key
  files; the daemon sends READY=1 from its main process once they are in place and dies by
  SIGTERM; without CAP_IPC_LOCK the start fails; an output outside the writable paths fails;
  other sysctls, /var and /run stay read-only.
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import tomllib
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(ROOT, "contrib")
UNIT_DIR = os.path.join(CONTRIB, "systemd")
CONFIG_EXAMPLE = os.path.join(CONTRIB, "keywheel.toml.example")
BIN_DIR = os.environ.get("KEYWHEEL_BIN_DIR") or os.path.join(ROOT, "target", "debug")
UNITS = ["keywheel.service", "tofurkey.service"]
# Where the units expect the binaries, and the built binaries that stand in for them.
INSTALLED = {"/usr/bin/keywheel": "keywheel", "/usr/sbin/tofurkey": "tofurkey"}
INSTALLED_AS = {name: path for path, name in INSTALLED.items()}
KEYWHEEL_EXEC = "/usr/bin/keywheel run --config /etc/keywheel/keywheel.toml"
TFO_PROCFS = "/proc/sys/net/ipv4/tcp_fastopen_key"
# Drop-in files of contrib/systemd and the unit each one extends ("*": any server unit).
DROP_INS = {
    "keywheel-rollover-next.conf": "keywheel.service",
    "keywheel-rollover-previous.conf": "keywheel.service",
    "keywheel-server.conf": "*",
    "tofurkey-autokey.conf": "tofurkey.service",
}

# systemd's exposure bands (systemd-analyze security): < 1.0 SAFE, 1.0-4.9 OK, 5.0-7.4 MEDIUM,
# 7.5-8.9 EXPOSED, >= 9.0 UNSAFE. Both units set every option of the report except the ones
# below, which they cannot set without breaking what they are for; with exactly these failing,
# systemd 252 rates keywheel.service 1.3 and tofurkey.service 1.2, the lowest these units can
# reach. 1.5 leaves room for rounding, not for a dropped option (which the list catches anyway).
MAX_EXPOSURE = 1.5
EXPECTED_EXPOSED = {
    "User=/DynamicUser=": "root: uid 0 may write the TFO key file without CAP_NET_ADMIN; reload "
    "commands signal root-owned servers or talk to PID 1",
    "PrivateNetwork=": "the TFO key belongs to the network namespace: a private one would get it",
    "PrivateUsers=": "capabilities would only count inside the user namespace (mlockall)",
    "ProcSubset=": "subset=pid hides /proc/sys, and with it the TFO key file",
    "CapabilityBoundingSet=~CAP_IPC_LOCK": "mlockall() as root, so keys never reach swap",
    "RestrictAddressFamilies=~AF_UNIX": "$NOTIFY_SOCKET, HAProxy's admin socket, systemctl",
    "RootDirectory=/RootImage=": "reload commands run the host's server binaries and systemctl",
    "DeviceAllow=": "ProtectClock= itself adds char-rtc:r",
}
EXPECTED_EXPOSED_PER_UNIT = {
    "keywheel.service": {
        "SystemCallFilter=~@privileged": "fchown() gives key files to a server's group (group =)",
    },
    "tofurkey.service": {},
}


def parse_unit(text):
    """Minimal systemd unit parser: {section: [(key, value), ...]} keeping repeated keys."""
    sections, current = {}, None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            raise ValueError(f"line {number}: continuation lines are not used in our units")
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None or "=" not in line:
            raise ValueError(f"line {number}: not 'Key=value' inside a section: {raw!r}")
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(sections, section, key):
    return [v for k, v in sections.get(section, []) if k == key]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def unit_sections(name):
    return parse_unit(read(os.path.join(UNIT_DIR, name)))


def binary(name):
    return os.path.join(BIN_DIR, name)


def with_built_binaries(text):
    """The unit text with ExecStart= pointing at the built binaries (verify needs them to exist)."""
    out = []
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            for installed, name in INSTALLED.items():
                line = line.replace("=" + installed + " ", "=" + binary(name) + " ", 1)
        out.append(line)
    return "\n".join(out) + "\n"


def credentials(sections):
    """{credential ID: source path} of the LoadCredential= lines."""
    return dict(v.split(":", 1) for v in values(sections, "Service", "LoadCredential"))


def exec_argv(sections):
    (line,) = values(sections, "Service", "ExecStart")
    return shlex.split(line)


# ------------------------------------------------------------- independent TFO computation


def tfo_key(main, n):
    """libsodium crypto_kdf_blake2b_derive_from_key(16, n, "tofurkey", main[:32])."""
    return hashlib.blake2b(
        b"",
        digest_size=16,
        key=main[:32],
        salt=n.to_bytes(8, "little") + bytes(8),
        person=b"tofurkey" + bytes(8),
    ).digest()


def tfo_procfs_text(main, now, interval):
    """The "primary,backup" text the TFO contract prescribes for unix time `now`."""
    n = now // interval
    backup = n + 1 if now % interval >= interval // 2 else n - 1

    def text(key):
        h = key.hex()
        return "-".join(h[i : i + 8] for i in range(0, 32, 8))

    return text(tfo_key(main, n)) + "," + text(tfo_key(main, backup))


# ------------------------------------------------------------- systemd-analyze helpers


def have_analyze():
    return shutil.which("systemd-analyze") is not None


def have_binaries():
    return all(os.access(binary(n), os.X_OK) for n in INSTALLED.values())


def keywheel_has(subcommand):
    """Whether the built keywheel knows `subcommand` (the ops issue adds run/check-config)."""
    r = subprocess.run([binary("keywheel"), subcommand, "--help"], capture_output=True, text=True)
    return r.returncode == 0


class Workspace:
    """A temporary unit directory holding verify-ready copies of units and drop-ins."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="keywheel-units.")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def add_unit(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def add_drop_in(self, unit, name, text):
        d = os.path.join(self.dir, unit + ".d")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)


def verify(path, names):
    """Runs systemd-analyze verify: (exit status, lines about our files or units, all lines)."""
    r = subprocess.run(
        # --man=no: the man pages are not installed on the test machine.
        ["systemd-analyze", "verify", "--man=no", path],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(path),
    )
    lines = (r.stdout + r.stderr).splitlines()
    ours = [
        line
        for line in lines
        if os.path.dirname(path) in line or any(re.search(rf"\b{re.escape(n)}\b", line) for n in names)
    ]
    return r.returncode, ours, lines


def security(path):
    """Runs systemd-analyze security offline: (overall exposure, {failed item: exposure})."""
    r = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", path],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(path),
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", r.stdout)
    if r.returncode != 0 or not m:
        raise AssertionError(f"systemd-analyze security failed ({r.returncode}): {r.stdout}{r.stderr}")
    j = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--json=short", path],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(path),
        check=True,
    )
    failed = {e["name"]: e["exposure"] for e in json.loads(j.stdout) if e["set"] is False}
    return float(m.group(1)), m.group(2), failed


# ------------------------------------------------------------- tests


class UnitFilesTest(unittest.TestCase):
    """The units, drop-ins and example config agree with each other and with the contracts."""

    def test_keywheel_exec_start_is_the_documented_command(self):
        s = unit_sections("keywheel.service")
        self.assertEqual(values(s, "Service", "ExecStart"), [KEYWHEEL_EXEC])
        self.assertEqual(values(s, "Service", "Type"), ["notify"])

    def test_tofurkey_unit_replaces_upstreams(self):
        s = unit_sections("tofurkey.service")
        argv = exec_argv(s)
        self.assertEqual(argv[0], "/usr/sbin/tofurkey")  # tofurkey's own unit runs this path
        self.assertEqual(values(s, "Service", "Type"), ["notify"])
        self.assertEqual(values(s, "Service", "Restart"), ["on-failure"])
        # -k must name a loaded credential: %d/ID with ID from LoadCredential=.
        key = argv[argv.index("-k") + 1]
        self.assertTrue(key.startswith("%d/"), key)
        self.assertIn(key[3:], credentials(s))

    def test_tfo_writers_may_write_the_key_file_and_nothing_else_in_proc(self):
        for name in UNITS:
            s = unit_sections(name)
            rw = values(s, "Service", "ReadWritePaths")
            self.assertIn(TFO_PROCFS, rw, name)
            self.assertEqual([p for p in rw if p.startswith("/proc") and p != TFO_PROCFS], [], name)
            for key in ("ProtectKernelTunables", "ProtectSystem", "NoNewPrivileges"):
                self.assertTrue(values(s, "Service", key), f"{name}: {key}= missing")
            self.assertEqual(values(s, "Service", "ProtectSystem"), ["strict"], name)
            self.assertEqual(values(s, "Service", "ProcSubset"), [], f"{name}: ProcSubset= hides /proc/sys")
            self.assertEqual(values(s, "Service", "PrivateNetwork"), [], f"{name}: TFO keys are per netns")
            self.assertEqual(values(s, "Service", "User") + values(s, "Service", "DynamicUser"), [], name)

    def test_capability_names_exist(self):
        # systemd-analyze verify silently drops unknown capability names (systemd 252).
        if shutil.which("setpriv") is None:
            self.skipTest("setpriv not found (util-linux)")
        known = {
            "cap_" + c
            for c in subprocess.run(
                ["setpriv", "--list-caps"], capture_output=True, text=True, check=True
            ).stdout.split()
        }
        for name in UNITS:
            s = unit_sections(name)
            for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
                for v in values(s, "Service", key):
                    for cap in v.split():
                        self.assertIn(cap.lower(), known, f"{name}: {key}={cap}")

    def test_config_example_matches_the_unit(self):
        s = unit_sections("keywheel.service")
        with open(CONFIG_EXAMPLE, "rb") as f:
            cfg = tomllib.load(f)
        self.assertIn(cfg["main_key_credential"], credentials(s))
        self.assertNotIn("main_key", cfg)
        # Every output must be writable inside the sandbox: RuntimeDirectory= or ReadWritePaths=.
        writable = ["/run/" + d for d in values(s, "Service", "RuntimeDirectory")]
        writable += values(s, "Service", "ReadWritePaths")
        outs = [t["out"] for t in cfg.get("stek", [])]
        self.assertTrue(outs)
        for out in outs:
            # nginx writes inside `out`; other formats rename into the file's directory.
            self.assertTrue(any(out.startswith(w + "/") for w in writable), f"{out} not in {writable}")
        if "tfo" in cfg:
            self.assertIn(cfg["tfo"].get("procfs", TFO_PROCFS), writable)
        # The HAProxy socket is AF_UNIX, the one family the unit allows.
        self.assertEqual(values(s, "Service", "RestrictAddressFamilies"), ["AF_UNIX"])

    def test_drop_ins_extend_units_we_ship(self):
        self.assertEqual(sorted(f for f in os.listdir(UNIT_DIR) if f.endswith(".conf")), sorted(DROP_INS))
        server = parse_unit(read(os.path.join(UNIT_DIR, "keywheel-server.conf")))
        self.assertEqual(values(server, "Unit", "After"), ["keywheel.service"])
        self.assertEqual(values(server, "Unit", "Wants"), ["keywheel.service"])
        self.assertEqual(
            values(server, "Unit", "Requires"), []
        )  # restarting keywheel must not restart servers
        for name, ident in (
            ("keywheel-rollover-next.conf", "keywheel-next"),
            ("keywheel-rollover-previous.conf", "keywheel-previous"),
        ):
            creds = credentials(parse_unit(read(os.path.join(UNIT_DIR, name))))
            self.assertEqual(list(creds), [ident], name)
            # The config example names the same credential (commented out until a rollover).
            self.assertIn(f'_main_key_credential = "{ident}"', read(CONFIG_EXAMPLE))


@unittest.skipUnless(have_analyze(), "systemd-analyze not found (apt-get install systemd)")
@unittest.skipUnless(have_binaries(), f"built binaries not found in {BIN_DIR} (cargo build --bins)")
class VerifyTest(unittest.TestCase):
    """systemd-analyze verify: no warning about our units or drop-ins."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def check_clean(self, path, names):
        rc, ours, lines = verify(path, names)
        self.assertEqual(ours, [], "systemd-analyze verify complained:\n" + "\n".join(lines))
        self.assertEqual(rc, 0, "systemd-analyze verify failed:\n" + "\n".join(lines))

    def test_units_verify_clean(self):
        for name in UNITS:
            with self.subTest(unit=name):
                path = self.ws.add_unit(name, with_built_binaries(read(os.path.join(UNIT_DIR, name))))
                self.check_clean(path, [name])

    def test_keywheel_with_rollover_drop_ins_verifies_clean(self):
        path = self.ws.add_unit(
            "keywheel.service", with_built_binaries(read(os.path.join(UNIT_DIR, "keywheel.service")))
        )
        for drop_in, unit in DROP_INS.items():
            if unit == "keywheel.service":
                self.ws.add_drop_in(unit, drop_in, read(os.path.join(UNIT_DIR, drop_in)))
        self.check_clean(path, ["keywheel.service"] + list(DROP_INS))

    def test_tofurkey_with_autokey_drop_in_verifies_clean(self):
        path = self.ws.add_unit(
            "tofurkey.service", with_built_binaries(read(os.path.join(UNIT_DIR, "tofurkey.service")))
        )
        self.ws.add_drop_in(
            "tofurkey.service",
            "autokey.conf",
            with_built_binaries(read(os.path.join(UNIT_DIR, "tofurkey-autokey.conf"))),
        )
        self.check_clean(path, ["tofurkey.service", "autokey.conf"])

    def test_server_drop_in_verifies_clean(self):
        self.ws.add_unit(
            "keywheel.service", with_built_binaries(read(os.path.join(UNIT_DIR, "keywheel.service")))
        )
        server = self.ws.add_unit(
            "kwtest-server.service", "[Unit]\nDescription=stand-in server\n[Service]\nExecStart=/bin/true\n"
        )
        self.ws.add_drop_in(
            "kwtest-server.service", "keywheel.conf", read(os.path.join(UNIT_DIR, "keywheel-server.conf"))
        )
        self.check_clean(server, ["kwtest-server.service", "keywheel.service", "keywheel.conf"])

    def test_verify_flags_broken_units(self):
        """The check bites: an unknown key, a bad value and a missing binary are each reported."""
        good = with_built_binaries(read(os.path.join(UNIT_DIR, "keywheel.service")))
        broken = {
            "unknown key": good.replace("ProtectSystem=strict", "ProtectSystm=strict"),
            "bad value": good.replace("ProtectSystem=strict", "ProtectSystem=strictest"),
            "missing binary": read(os.path.join(UNIT_DIR, "keywheel.service")).replace(
                "/usr/bin/keywheel", "/nonexistent/keywheel"
            ),
            "bad drop-in": None,
        }
        for what, text in broken.items():
            with self.subTest(what=what):
                ws = Workspace()
                try:
                    if text is None:
                        path = ws.add_unit("keywheel.service", good)
                        ws.add_drop_in("keywheel.service", "x.conf", "[Service]\nProtectHome=sometimes\n")
                    else:
                        self.assertNotEqual(text, good)
                        path = ws.add_unit("keywheel.service", text)
                    rc, ours, lines = verify(path, ["keywheel.service"])
                    self.assertTrue(ours, f"{what}: nothing reported: {lines}")
                finally:
                    ws.close()


@unittest.skipUnless(have_analyze(), "systemd-analyze not found (apt-get install systemd)")
@unittest.skipUnless(have_binaries(), f"built binaries not found in {BIN_DIR} (cargo build --bins)")
class SecurityTest(unittest.TestCase):
    """systemd-analyze security --offline=yes: exposure and the justified exceptions."""

    def setUp(self):
        self.ws = Workspace()
        self.addCleanup(self.ws.close)

    def test_exposure(self):
        for name in UNITS:
            with self.subTest(unit=name):
                path = self.ws.add_unit(name, with_built_binaries(read(os.path.join(UNIT_DIR, name))))
                exposure, rating, failed = security(path)
                print(f"\n  {name}: exposure {exposure} {rating}; not set: {', '.join(sorted(failed))}")
                allowed = dict(EXPECTED_EXPOSED, **EXPECTED_EXPOSED_PER_UNIT[name])
                unexpected = sorted(set(failed) - set(allowed))
                self.assertEqual(unexpected, [], f"{name}: hardening options no longer set")
                self.assertLessEqual(exposure, MAX_EXPOSURE, f"{name}: {exposure} {rating}")

    def test_security_flags_a_weakened_unit(self):
        """The check bites: dropping ProtectSystem= or the capability bound is reported."""
        good = with_built_binaries(read(os.path.join(UNIT_DIR, "keywheel.service")))
        for line in (
            "ProtectSystem=strict",
            "CapabilityBoundingSet=CAP_IPC_LOCK",
            "ProtectKernelTunables=yes",
        ):
            with self.subTest(dropped=line):
                self.assertIn(line + "\n", good)
                path = self.ws.add_unit("keywheel.service", good.replace(line + "\n", ""))
                exposure, _, failed = security(path)
                allowed = dict(EXPECTED_EXPOSED, **EXPECTED_EXPOSED_PER_UNIT["keywheel.service"])
                self.assertTrue(set(failed) - set(allowed) or exposure > MAX_EXPOSURE, line)


@unittest.skipUnless(have_binaries(), f"built binaries not found in {BIN_DIR} (cargo build --bins)")
class CommandLineTest(unittest.TestCase):
    """The real binaries accept the units' ExecStart= command lines."""

    def setUp(self):
        self.creds = tempfile.mkdtemp(prefix="keywheel-creds.")
        self.addCleanup(shutil.rmtree, self.creds, True)

    def credential_dir(self, sections):
        """A stand-in for $CREDENTIALS_DIRECTORY holding a test key under each credential ID."""
        for ident in credentials(sections):
            path = os.path.join(self.creds, ident)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400), "wb") as f:
                f.write(hashlib.sha256(b"keywheel systemd test: " + ident.encode()).digest())
        return self.creds

    def test_tofurkey_exec_start_runs_dry(self):
        s = unit_sections("tofurkey.service")
        creds = self.credential_dir(s)
        argv = [binary("tofurkey")] + [a.replace("%d", creds) for a in exec_argv(s)[1:]]
        # -n dry run, -o one shot: the unit's own arguments, nothing written.
        r = subprocess.run(argv + ["-n", "-o", "-v"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("autokey", r.stderr)  # the -k credential was used, not a host-local key

    def test_tofurkey_autokey_drop_in_runs_dry(self):
        s = parse_unit(read(os.path.join(UNIT_DIR, "tofurkey-autokey.conf")))
        # Empty assignments reset the unit's credential and command before the new command.
        self.assertEqual(values(s, "Service", "LoadCredential"), [""])
        self.assertEqual(values(s, "Service", "ExecStart")[0], "")
        argv = shlex.split(values(s, "Service", "ExecStart")[-1])
        self.assertEqual(argv[0], "/usr/sbin/tofurkey")
        autokey = argv[argv.index("-a") + 1]
        (runtime,) = values(s, "Service", "RuntimeDirectory")
        self.assertEqual(os.path.dirname(autokey), "/run/" + runtime)  # writable in the sandbox
        local = os.path.join(self.creds, os.path.basename(autokey))
        argv = [binary("tofurkey")] + [local if a == autokey else a for a in argv[1:]]
        r = subprocess.run(argv + ["-n", "-o"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(local).st_mode & 0o777, 0o600)
        self.assertEqual(os.path.getsize(local), 32)

    def test_keywheel_exec_start_parses(self):
        if not keywheel_has("run"):
            self.skipTest("`keywheel run` not implemented yet (issue 7, ops)")
        argv = [binary("keywheel")] + exec_argv(unit_sections("keywheel.service"))[1:]
        r = subprocess.run(argv + ["--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_example_is_valid(self):
        if not keywheel_has("check-config"):
            self.skipTest("`keywheel check-config` not implemented yet (issue 7, ops)")
        env = dict(os.environ, CREDENTIALS_DIRECTORY=self.credential_dir(unit_sections("keywheel.service")))
        r = subprocess.run(
            [binary("keywheel"), "check-config", CONFIG_EXAMPLE], capture_output=True, text=True, env=env
        )
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)

    def test_check_config_rejects_a_broken_example(self):
        """The check bites: a misspelt key in the example is refused."""
        if not keywheel_has("check-config"):
            self.skipTest("`keywheel check-config` not implemented yet (issue 7, ops)")
        bad = os.path.join(self.creds, "bad.toml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write(read(CONFIG_EXAMPLE).replace("[tfo]\ninterval", "[tfo]\nintervall"))
        env = dict(os.environ, CREDENTIALS_DIRECTORY=self.credential_dir(unit_sections("keywheel.service")))
        r = subprocess.run([binary("keywheel"), "check-config", bad], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)


def sandbox_capable():
    if os.geteuid() != 0:
        return "needs root (private network and mount namespaces)"
    for tool in ("unshare", "nsenter", "setpriv", "prlimit", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not found (util-linux, mount)"
    if subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True).returncode != 0:
        return "unshare --net --mount is not permitted here"
    return None


# A rebuild of the unit's sandbox, run inside `unshare --net --mount` (a private network namespace:
# the TFO key written is that namespace's, never the host's):
# - /run: a fresh tmpfs holding /run/credentials/UNIT (what LoadCredential= makes) and each
#   RuntimeDirectory= as its own tmpfs with RuntimeDirectoryMode=;
# - ProtectSystem=strict: every other mount read-only except /proc, /sys, /dev; PrivateTmp=: /tmp;
# - ProtectKernelTunables= with ReadWritePaths= below /proc/sys as systemd 252 does it
#   (src/core/namespace.c: bind each path onto itself, then remount read-only the entries whose
#   mode is read-only, skipping the read-write ones);
# - the unit's CapabilityBoundingSet= (uid 0, no ambient capabilities), NoNewPrivileges=, and,
#   stricter than the unit, RLIMIT_MEMLOCK = 0;
# - the built binaries where the units name them (BINARIES: "installed=built" lines, e.g.
#   /usr/bin/keywheel): each directory gets an overlay whose upper layer is on the sandbox's own
#   /run tmpfs (the host's directories are never changed), and each binary is bind-mounted onto
#   its name there, so the units' command lines run as written wherever the repository is (even
#   under /tmp, which PrivateTmp= hides).
# Then reports the exit status, the TFO key, whether other places are writable, and the files in
# the runtime directories.
SANDBOX_SH = r"""
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
printf '%s\n' "$BINARIES" | while IFS='=' read -r installed built; do
  [ -n "$installed" ] || continue
  dir=${installed%/*}
  layer="/run/.keywheel-test-overlay/$(printf '%s' "$dir" | tr / _)"
  if [ ! -d "$layer" ]; then
    mkdir -p "$layer/upper" "$layer/work"
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
  fi
  rm -f "$installed"
  : > "$installed"
  mount --bind "$built" "$installed"
done
mkdir -p -m 0700 "/run/credentials/$UNIT"
for id in $CRED_IDS; do
  cp "$CRED_SRC/$id" "/run/credentials/$UNIT/$id"
  chmod 0400 "/run/credentials/$UNIT/$id"
done
for spec in $RUNTIME_DIRS; do
  dir=${spec%:*} mode=${spec#*:}
  mkdir -p "/run/$dir"
  mount -t tmpfs -o "mode=$mode" tmpfs "/run/$dir"
done
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|*\\*) continue;; esac
  for spec in $RUNTIME_DIRS; do [ "$m" = "/run/${spec%:*}" ] && continue 2; done
  mount -o remount,bind,ro "$m"
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount --bind /proc/sys /proc/sys
for p in $RW_PATHS; do mount --bind "$p" "$p"; done
mount -o remount,bind,ro /proc/sys
set +e
CREDENTIALS_DIRECTORY="/run/credentials/$UNIT" prlimit --memlock=0 -- \
  setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="$BOUNDING" -- "$@"
echo "status=$?"
echo "key=$(cat /proc/sys/net/ipv4/tcp_fastopen_key)"
probe() { if (: > "$1") 2>/dev/null; then echo writable; else echo read-only; fi; }
echo "other-sysctl=$(probe /proc/sys/net/ipv4/tcp_fastopen_blackhole_timeout_sec)"
echo "var=$(probe /var/tmp/keywheel-sandbox-probe)"
echo "run=$(probe /run/keywheel-sandbox-probe)"
for spec in $RUNTIME_DIRS; do find "/run/${spec%:*}" -mindepth 1 -printf 'file:%P=%m %s %y\n'; done
printf '%s\n' "$BINARIES" | while IFS='=' read -r installed built; do
  [ -n "$installed" ] && echo "bin:$installed=$(stat -L -c '%d:%i' "$installed")"
done
"""


@unittest.skipUnless(have_binaries(), f"built binaries not found in {BIN_DIR} (cargo build --bins)")
class SandboxTest(unittest.TestCase):
    """The units' sandbox and privileges, rebuilt with unshare/setpriv, let the real binaries work."""

    INTERVAL = 86400  # the default of both binaries
    SANDBOX = ["unshare", "--net", "--mount", "sh", "-c", SANDBOX_SH, "sh"]

    def setUp(self):
        reason = sandbox_capable()
        if reason:
            self.skipTest(reason)
        self.dir = tempfile.mkdtemp(prefix="keywheel-sandbox.", dir="/dev/shm")
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.main = hashlib.sha256(b"keywheel systemd test: sandbox main key").digest()

    def credentials_of(self, unit):
        """Writes the test main key under every credential ID of the unit; returns the IDs."""
        ids = list(credentials(unit_sections(unit)))
        for ident in ids:
            path = os.path.join(self.dir, ident)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400), "wb") as f:
                f.write(self.main)
        return ids

    def exec_start(self, unit):
        """The unit's ExecStart= argv as written (the sandbox puts the built binary at its path),
        with %d expanded as systemd would."""
        argv = exec_argv(unit_sections(unit))
        self.assertIn(argv[0], INSTALLED)
        return [argv[0]] + [a.replace("%d", f"/run/credentials/{unit}") for a in argv[1:]]

    def start_sandbox(self, unit, argv, extra_env):
        """The sandbox with the unit's privileges, in the background (for the daemon)."""
        env = dict(self.sandbox_env(unit), **extra_env)
        return subprocess.Popen(
            self.SANDBOX + argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )

    def sandbox_env(self, unit, caps=None):
        """The environment SANDBOX_SH reads, from the unit's settings."""
        s = unit_sections(unit)
        if caps is None:
            (bound,) = values(s, "Service", "CapabilityBoundingSet")
            caps = bound.split()
        bounding = ",".join(["-all"] + ["+" + c.lower().removeprefix("cap_") for c in caps])
        rw = values(s, "Service", "ReadWritePaths")
        self.assertEqual([p for p in rw if not p.startswith("/proc/sys/")], [], "emulate them too")
        mode = (values(s, "Service", "RuntimeDirectoryMode") or ["0755"])[0]
        runtime = [f"{d}:{mode}" for d in values(s, "Service", "RuntimeDirectory")]
        for key, value in (
            ("NoNewPrivileges", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectSystem", "strict"),
            ("PrivateTmp", "yes"),
        ):
            self.assertEqual(values(s, "Service", key), [value], f"{unit}: the sandbox emulates {key}=")
        return dict(
            os.environ,
            UNIT=unit,
            CRED_SRC=self.dir,
            CRED_IDS=" ".join(self.credentials_of(unit)),
            RUNTIME_DIRS=" ".join(runtime),
            RW_PATHS=" ".join(rw),
            BOUNDING=bounding,
            BINARIES="\n".join(f"{path}={binary(name)}" for path, name in INSTALLED.items()),
        )

    def sandbox(self, unit, argv, caps=None):
        """Runs argv in the sandbox: (report, expected TFO key texts, runtime files, stderr)."""
        env = self.sandbox_env(unit, caps)
        before = int(time.time())
        r = subprocess.run(self.SANDBOX + argv, capture_output=True, text=True, env=env, timeout=60)
        after = int(time.time())
        self.assertEqual(r.returncode, 0, r.stderr)
        report = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        # The emulation holds: nothing else is writable.
        self.assertEqual(report.get("other-sysctl"), "read-only", r.stdout)
        self.assertEqual(report.get("var"), "read-only", r.stdout)
        self.assertEqual(report.get("run"), "read-only", r.stdout)
        # What ran under the units' paths is the built binary (the bind mount shows its inode).
        for path, name in INSTALLED.items():
            st = os.stat(binary(name))
            self.assertEqual(report.get("bin:" + path), f"{st.st_dev}:{st.st_ino}", r.stdout)
        expected = {tfo_procfs_text(self.main, t, self.INTERVAL) for t in (before, after)}
        files = {k[5:]: v.split() for k, v in report.items() if k.startswith("file:")}
        return report, expected, files, r.stderr

    def check_installs_keys(self, unit, argv):
        report, expected, files, err = self.sandbox(unit, argv)
        self.assertEqual(report.get("status"), "0", err)
        self.assertIn(report.get("key"), expected, err)
        return files

    def test_tofurkey_unit(self):
        self.check_installs_keys("tofurkey.service", self.exec_start("tofurkey.service") + ["-o"])

    def test_keywheel_unit_tfo(self):
        # `keywheel tfo`, the TFO writer `keywheel run` shares, with the unit's credential.
        (ident,) = credentials(unit_sections("keywheel.service"))
        argv = [INSTALLED_AS["keywheel"], "tfo", "--credential", ident, "--once"]
        self.check_installs_keys("keywheel.service", argv)

    def run_config(self, text, once=True):
        config = os.path.join(self.dir, "keywheel.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(config, 0o644)
        argv = self.exec_start("keywheel.service")
        argv[argv.index("--config") + 1] = config
        return argv + ["--once"] if once else argv

    def test_keywheel_unit_run(self):
        """The unit's own command: TFO, nginx and HAProxy targets inside the sandbox."""
        if not keywheel_has("run"):
            self.skipTest("`keywheel run` not implemented yet (issue 7, ops)")
        (ident,) = credentials(unit_sections("keywheel.service"))
        (runtime,) = values(unit_sections("keywheel.service"), "Service", "RuntimeDirectory")
        argv = self.run_config(
            f'main_key_credential = "{ident}"\n[tfo]\ninterval = {self.INTERVAL}\n'
            f'[[stek]]\nformat = "nginx"\nlabel = "www"\nout = "/run/{runtime}/nginx"\n'
            f'[[stek]]\nformat = "haproxy"\nlabel = "api"\nout = "/run/{runtime}/haproxy.keys"\n'
        )
        files = self.check_installs_keys("keywheel.service", argv)
        # README "TLS session tickets": nginx DIR/current -> keys.N with 0.key (current), 1.key (next), 2.key
        # (previous), 80 bytes each, 0600 in 0700 directories; HAProxy: one 0600 file.
        self.assertEqual(files["nginx"], ["700", files["nginx"][1], "d"])
        self.assertEqual(files["nginx/current"][2], "l")
        (keys,) = [f for f in files if re.fullmatch(r"nginx/keys\.\d+", f)]
        for n in range(3):
            self.assertEqual(files[f"{keys}/{n}.key"], ["600", "80", "f"])
        self.assertEqual(files["haproxy.keys"][0], "600")
        self.assertEqual(files["haproxy.keys"][2], "f")

    def test_keywheel_unit_ready_after_first_keys(self):
        """Type=notify: READY=1 comes from the daemon once the keys are in place, in the sandbox."""
        if not keywheel_has("run"):
            self.skipTest("`keywheel run` not implemented yet (issue 7, ops)")
        (ident,) = credentials(unit_sections("keywheel.service"))
        (runtime,) = values(unit_sections("keywheel.service"), "Service", "RuntimeDirectory")
        argv = self.run_config(
            f'main_key_credential = "{ident}"\n[tfo]\ninterval = {self.INTERVAL}\n'
            f'[[stek]]\nformat = "nginx"\nlabel = "www"\nout = "/run/{runtime}/nginx"\n',
            once=False,
        )
        notify_path = os.path.join(self.dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(notify_path)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sock.settimeout(60)  # a bound for a failure, not a timing assertion
        proc = self.start_sandbox("keywheel.service", argv, {"NOTIFY_SOCKET": notify_path})
        ready_pid = None
        try:
            while ready_pid is None:
                data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
                if "READY=1" in data.decode().split("\n"):
                    (ready_pid,) = [
                        struct.unpack("3i", d)[0] for _, t, d in anc if t == socket.SCM_CREDENTIALS
                    ]
            # What the daemon had installed when it said READY=1, seen from inside its namespaces.
            seen = subprocess.run(
                [
                    "nsenter",
                    "--target",
                    str(ready_pid),
                    "--net",
                    "--mount",
                    "sh",
                    "-c",
                    f"cat {TFO_PROCFS}; cat /run/{runtime}/nginx/current/0.key | wc -c; "
                    f"cat /proc/{ready_pid}/comm",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            os.kill(ready_pid, signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        now = int(time.time())
        self.assertEqual(seen[2], "keywheel")  # READY=1 came from the main process (NotifyAccess=main)
        self.assertIn(seen[0], {tfo_procfs_text(self.main, t, self.INTERVAL) for t in (now - 120, now)})
        self.assertEqual(seen[1], "80")
        # SIGTERM ends the daemon by the signal (default disposition): sh reports 128 + 15.
        self.assertIn("status=143", out.splitlines(), err)

    def test_keywheel_run_outside_the_writable_paths_fails(self):
        """The check bites: an output the unit does not make writable is refused by the kernel."""
        if not keywheel_has("run"):
            self.skipTest("`keywheel run` not implemented yet (issue 7, ops)")
        (ident,) = credentials(unit_sections("keywheel.service"))
        argv = self.run_config(
            f'main_key_credential = "{ident}"\n'
            '[[stek]]\nformat = "haproxy"\nlabel = "api"\nout = "/run/elsewhere.keys"\n'
        )
        report, _, _, err = self.sandbox("keywheel.service", argv)
        self.assertNotEqual(report.get("status"), "0", err)
        self.assertIn("Read-only file system", err)

    def test_without_cap_ipc_lock_start_fails(self):
        """The check bites: the bound matters (mlockall as root needs CAP_IPC_LOCK)."""
        (ident,) = credentials(unit_sections("keywheel.service"))
        for unit, argv in (
            ("keywheel.service", [INSTALLED_AS["keywheel"], "tfo", "--credential", ident, "--once"]),
            ("tofurkey.service", self.exec_start("tofurkey.service") + ["-o"]),
        ):
            with self.subTest(unit=unit):
                report, expected, _, err = self.sandbox(unit, argv, caps=[])
                self.assertNotEqual(report.get("status"), "0", err)
                self.assertIn("mlockall", err)
                self.assertNotIn(report.get("key"), expected)


if __name__ == "__main__":
    unittest.main()
