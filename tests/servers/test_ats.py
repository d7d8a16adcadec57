"""Apache Traffic Server (Debian 12: 9.2) with keywheel's `ats` file (48-byte records
name | hmac16 | aes16: current, next, previous 1 .. keep).

Traffic Server 9.2 has no daemon mode of its own and `traffic_ctl config reload` talks to
traffic_manager, so each instance is a traffic_manager (which binds the port and runs
traffic_server) started in the background with its own runroot (runroot.yaml: config, runtime,
log and cache dirs in a temp dir), port, management port and `proxy.config.ssl.session_cache 0`
so every resumption is by ticket. A rotation is a rewrite plus `traffic_ctl config reload`;
Traffic Server rereads the key file only if its mtime (whole seconds) is newer than the last
load, so the test waits until a second has passed since the last load before rewriting, and
then until traffic_server logs "ticket key reloaded".
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

import harness
import scenarios

FORMAT = "ats"
TLS = ["1.2", "1.3"]
ETC = Path("/etc/trafficserver")
COPIED = ["ip_allow.yaml", "logging.yaml", "plugin.config", "remap.config", "cache.config",
          "hosting.config", "parent.config", "socks.config", "splitdns.config", "volume.config",
          "sni.yaml", "strategies.yaml"]
RELOADED = "ticket key reloaded from"


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["trafficserver", "openssl"])


class AtsInstance:
    def __init__(self, d: Path, cert: tuple[Path, Path], keys: Path, procs: list):
        self.dir = d
        self._port = harness.free_port()
        self._ready = False
        cert_file, key_file = cert
        for sub in ("etc", "run", "log", "cache", "var"):
            (d / sub).mkdir()
            (d / sub).chmod(0o755)
        self.runroot = d / "runroot.yaml"
        self.runroot.write_text(f"""\
prefix: {d}
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: {d}/etc
datadir: {d}/cache
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: {d}/var
runtimedir: {d}/run
logdir: {d}/log
cachedir: {d}/cache
""")
        etc = d / "etc"
        for f in COPIED:
            shutil.copy(ETC / f, etc / f)
        (etc / "body_factory").symlink_to(ETC / "body_factory")
        (etc / "storage.config").write_text("")  # no cache: TLS only
        (etc / "ssl_multicert.config").write_text(
            f"dest_ip=* ssl_cert_name={cert_file} ssl_key_name={key_file}\n")
        (etc / "records.config").write_text(f"""\
CONFIG proxy.config.http.server_ports STRING {self._port}:ssl:ip-in=127.0.0.1
CONFIG proxy.config.process_manager.mgmt_port INT {harness.free_port()}
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 1
CONFIG proxy.config.accept_threads INT 1
CONFIG proxy.config.task_threads INT 1
CONFIG proxy.config.http.cache.http INT 0
CONFIG proxy.config.log.logging_enabled INT 0
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.ssl.session_cache INT 0
CONFIG proxy.config.ssl.server.session_ticket.enable INT 1
CONFIG proxy.config.ssl.server.ticket_key.filename STRING {keys}
CONFIG proxy.config.diags.debug.enabled INT 1
CONFIG proxy.config.diags.debug.tags STRING ssl_load
""")
        self.proc = harness.start(f"traffic_manager {d.name}",
                                  ["traffic_manager", f"--run-root={self.runroot}"],
                                  d / "stderr.log")
        procs.append(self.proc)
        self.loaded_at = time.time()

    @property
    def port(self) -> int:
        """The TLS port, once traffic_server has started and loaded its keys (instances start
        in parallel: the first use waits)."""
        if not self._ready:
            self.server = harness.wait_until(self._server_pid, 60, "traffic_server to start")
            self.proc.extra_pids.append(self.server)
            harness.wait_for_port(self._port, self.proc, timeout=60)
            harness.wait_until(lambda: self._reloads() >= 1, 60, "the first ticket key load")
            self.loaded_at = time.time()
            self._ready = True
        return self._port

    def _server_pid(self) -> int | None:
        for pid in harness.children(self.proc.pid):
            try:
                argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
                if Path(argv0.decode()).name == "traffic_server":  # (comm becomes [TS_MAIN])
                    return pid
            except OSError:
                pass
        if not self.proc.alive():
            raise RuntimeError(f"traffic_manager exited:\n{self.proc.log_tail()}")
        return None

    def _reloads(self) -> int:
        n = 0
        for f in [self.dir / "stderr.log", *(self.dir / "log").glob("*.log")]:
            try:
                n += f.read_text(errors="replace").count(RELOADED)
            except OSError:
                pass
        return n

    def before_write(self) -> None:
        """Traffic Server ignores a key file whose mtime is not newer than its last load (whole
        seconds): let one second pass since that load."""
        self.port  # started and loaded
        wait = self.loaded_at + 1.05 - time.time()
        if wait > 0:
            time.sleep(wait)

    def reload(self) -> None:
        """traffic_ctl config reload; done when traffic_server logged one more key load."""
        self.port  # started and loaded
        before = self._reloads()
        r = subprocess.run(["traffic_ctl", f"--run-root={self.runroot}", "config", "reload"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"traffic_ctl config reload: {r.stdout}{r.stderr}"
        harness.wait_until(lambda: self._reloads() > before, 60,
                           f"{RELOADED!r} in {self.dir}/log (key file mtime not newer?)")
        self.loaded_at = time.time()
        assert self.proc.alive() and harness.pid_alive(self.server), self.proc.log_tail()


class AtsKind:
    name = "ats"

    def __init__(self, base: Path, cert, procs):
        self.base, self.cert, self.procs = base, cert, procs
        self.n = 0
        self.instances: list[AtsInstance] = []

    def key_out(self, keydir: Path, fmt: str) -> Path:
        return keydir / "ats.key"

    def start(self, name: str, keys: Path, fmt: str) -> AtsInstance:
        self.n += 1
        d = self.base / f"{name}-{self.n}"
        d.mkdir()
        d.chmod(0o755)
        inst = AtsInstance(d, self.cert, keys, self.procs)
        self.instances.append(inst)
        return inst

    def before_write(self) -> None:
        for i in self.instances:
            i.before_write()


@pytest.fixture(scope="module")
def cert(workdir):
    return harness.make_cert(workdir / "ats-cert")


@pytest.fixture
def kind(tmp_path, cert, procs):
    tmp_path.chmod(0o755)
    return AtsKind(tmp_path, cert, procs)


# Each test runs TLS 1.2 and 1.3 on the same instances (Traffic Server takes seconds to start).
BOTH = pytest.mark.parametrize("tls", [TLS], ids=["ats-1.2+1.3"])


@BOTH
def test_shared_keys_resume_across_instances(kind, tmp_path, tls):
    print("\n".join(scenarios.shared_keys_resume(kind, tmp_path, FORMAT, tls)))


@BOTH
def test_foreign_keys_rejected(kind, tmp_path, tls):
    print("\n".join(scenarios.foreign_keys_rejected(kind, tmp_path, FORMAT, tls)))


@BOTH
def test_rotation_keeps_previous_key(kind, tmp_path, tls):
    print("\n".join(scenarios.rotation_with_overlap(kind, tmp_path, FORMAT, tls)))


@BOTH
def test_clock_skew_next_key_accepted(kind, tmp_path, tls):
    print("\n".join(scenarios.clock_skew(kind, tmp_path, FORMAT, tls)))
