"""nginx (Debian 12: 1.22) with keywheel's `nginx` (80-byte) and `nginx48` (48-byte) files.

Each instance has its own config, port, pid file and logs in a temp dir; all instances share
one certificate (nginx binds sessions to it) and run with `ssl_session_cache off` so that every
resumption is proven to be by ticket. Keys come in through the include snippet keywheel writes
(DIR/nginx.conf: `ssl_session_ticket_key DIR/current/N.key;`, encrypting key first); a rotation
is a rewrite plus `nginx -s reload` (SIGHUP to the master), waiting until the old workers are
gone.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import harness
import scenarios

FORMATS = ["nginx", "nginx48"]
TLS = ["1.2", "1.3"]


@pytest.fixture(scope="module", autouse=True)
def installed():
    harness.ensure_packages(["nginx", "openssl"])


class NginxInstance:
    def __init__(self, d: Path, cert: tuple[Path, Path], keys: Path, procs: list):
        self.dir = d
        self.port = harness.free_port()
        cert_file, key_file = cert
        conf = d / "nginx.conf"
        conf.write_text(f"""\
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {cert_file};
        ssl_certificate_key {key_file};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets on;
        include {keys}/nginx.conf;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
        self.proc = harness.start(f"nginx {d.name}", ["nginx", "-c", str(conf), "-p", str(d)],
                                  d / "stderr.log")
        procs.append(self.proc)
        harness.wait_for_port(self.port, self.proc)
        harness.wait_until(lambda: harness.children(self.proc.pid), 30, "nginx workers")

    def reload(self) -> None:
        """nginx -s reload: SIGHUP to the master; done when every old worker has exited."""
        old = harness.children(self.proc.pid)
        self.proc.signal(signal.SIGHUP)
        harness.wait_new_generation(self.proc.pid, old)
        assert self.proc.alive(), self.proc.log_tail()


class NginxKind:
    name = "nginx"

    def __init__(self, base: Path, cert, procs):
        self.base, self.cert, self.procs = base, cert, procs
        self.n = 0

    def key_out(self, keydir: Path, fmt: str) -> Path:
        return keydir / "nginx"

    def start(self, name: str, keys: Path, fmt: str) -> NginxInstance:
        self.n += 1
        d = self.base / f"{name}-{self.n}"
        d.mkdir()
        return NginxInstance(d, self.cert, keys, self.procs)


@pytest.fixture(scope="module")
def cert(workdir):
    return harness.make_cert(workdir / "nginx-cert")


@pytest.fixture
def kind(tmp_path, cert, procs):
    tmp_path.chmod(0o755)
    return NginxKind(tmp_path, cert, procs)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_keys_resume_across_instances(kind, tmp_path, fmt, tls):
    scenarios.shared_keys_resume(kind, tmp_path, fmt, tls)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_foreign_keys_rejected(kind, tmp_path, fmt, tls):
    scenarios.foreign_keys_rejected(kind, tmp_path, fmt, tls)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_rotation_keeps_previous_key(kind, tmp_path, fmt, tls):
    scenarios.rotation_with_overlap(kind, tmp_path, fmt, tls)


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_clock_skew_next_key_accepted(kind, tmp_path, fmt, tls):
    scenarios.clock_skew(kind, tmp_path, fmt, tls)
