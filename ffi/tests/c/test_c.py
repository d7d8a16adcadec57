"""The C side of keywheel, end to end: the C API (vectors, bad inputs) plain, under ASan+UBSan
and under valgrind; the example server (C11 and C++) with the OpenSSL integration against real
`openssl s_client` sessions; nginx-issued tickets opened with the library's keys; the install
step and pkg-config.

Expected key names come from Python's hashlib (SPEC.md 4.1 and 4.2), never from the library.
"""

import hashlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import C11, CXX, INCLUDES, OPENSSL_GLUE, ROOT, run

LABEL = "svc"
INTERVAL = 3600
# A fixed time well inside an interval (100 s after its start) for the servers' -T hook.
T0 = 1_700_000_000 - 1_700_000_000 % INTERVAL + 100
C0 = T0 // INTERVAL
REQUEST = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
VERSIONS = ["tls1_2", "tls1_3"]
VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible"]
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


def ticket_name(main_key: bytes, label: str, counter: int) -> bytes:
    """SPEC.md 4.1 and 4.2 (aes256), computed with hashlib."""
    label_key = hashlib.blake2b(label.encode(), digest_size=32, key=main_key[:32],
                                person=b"keywheel.label").digest()
    return hashlib.blake2b(b"", digest_size=16, key=label_key,
                           salt=counter.to_bytes(8, "little") + bytes(8),
                           person=b"kwtn-256" + bytes(8)).digest()


@pytest.fixture
def main_key(tmp_path):
    return new_key(tmp_path / "main.key")


def new_key(path: Path):
    data = os.urandom(32)
    path.write_bytes(data)
    path.chmod(0o600)
    return path, data


class Server:
    """The example server, started on a free port; stopped (SIGTERM) by its pid."""

    def __init__(self, exe, build, key_file, *args, label=LABEL, interval=INTERVAL, keep=1,
                 wrapper=(), env=None):
        cmd = [*wrapper, exe, "-c", build.cert, "-k", build.key, "-l", label, "-i", interval,
               "-K", keep, "-p", "0", *args]
        if key_file is not None:
            cmd += ["-m", key_file]
        self.proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("port "):
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"server did not start: {line!r} {err}")
        self.port = int(line.split()[1])

    def wait(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def s_client(port, version, sess_in=None, sess_out=None):
    """One HTTPS request with openssl s_client; returns (reused, output)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", f"-{version}", "-ign_eof",
           "-servername", "localhost"]
    if sess_in:
        cmd += ["-sess_in", sess_in]
    if sess_out:
        cmd += ["-sess_out", sess_out]
    p = run(cmd, input=REQUEST, capture_output=True, text=True, timeout=120, check=False)
    m = re.search(r"^(New|Reused), (TLSv1\.[23]),", p.stdout, re.M)
    assert m, f"no handshake line:\n{p.stdout}\n{p.stderr}"
    assert m.group(2) == {"tls1_2": "TLSv1.2", "tls1_3": "TLSv1.3"}[version]
    assert "HTTP/1.0 200 OK" in p.stdout or "HTTP/1.1 200 OK" in p.stdout, p.stdout
    return m.group(1) == "Reused", p.stdout


def session_ticket(path) -> bytes:
    """The ticket in a session file written by s_client -sess_out."""
    return ticket_in(run(["openssl", "sess_id", "-in", path, "-noout", "-text"],
                         capture_output=True, text=True).stdout, path)


def ticket_in(text, where="s_client output") -> bytes:
    """The ticket of the first session printed in `text` (the "SSL-Session:" block)."""
    m = re.search(r"TLS session ticket:\n((?:\s+[0-9a-f]{4} - .*\n)+)", text)
    assert m, f"no ticket in {where}:\n{text}"
    hexdigits = "".join(re.findall(r"[0-9a-f]{2}", "".join(
        line.split(" - ", 1)[1][:47] for line in m.group(1).splitlines())))
    return bytes.fromhex(hexdigits)


# --- the C API ---------------------------------------------------------------------------------


def check_api_output(p):
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^\d+ passed, 0 failed$", p.stdout, re.M), p.stdout
    assert "400 vector lines" in p.stdout or re.search(r"^\d{3,} vector lines$", p.stdout, re.M)


def test_api_vectors_and_bad_inputs(build):
    check_api_output(run([build.api_test, build.vectors], capture_output=True, text=True,
                         check=False))


def test_api_under_asan_and_ubsan(build):
    p = run([build.api_test_asan, build.vectors], capture_output=True, text=True, check=False,
            env={**os.environ, **SAN_ENV})
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    check_api_output(p)


def test_api_under_valgrind(build):
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed (apt-get install valgrind)")
    p = run([*VALGRIND, build.api_test_release, build.vectors], capture_output=True, text=True,
            check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ERROR SUMMARY" not in p.stderr or "ERROR SUMMARY: 0 errors" in p.stderr, p.stderr
    check_api_output(p)


FUZZ_SUMMARY = re.compile(r"^fuzz_api: (\d+) executions, (\d+) checked calls \((\d+) succeeded\), "
                          r"0 failures", re.M)


def test_fuzz_api_calls_every_entry_point():
    """fuzz_api.c calls every function include/keywheel.h declares."""
    header = (ROOT / "include/keywheel.h").read_text()
    declared = set(re.findall(r"^[a-z_ ]*?[ *](keywheel_[a-z0-9_]+)\(", header, re.M))
    assert len(declared) >= 40, declared
    harness = (ROOT / "ffi/tests/c/fuzz_api.c").read_text()
    called = set(re.findall(r"\b(keywheel_[a-z0-9_]+)\(", harness))
    assert declared <= called, sorted(declared - called)


def test_fuzz_api_under_asan_and_ubsan(build):
    """Every C entry point with random and edge arguments (ffi/tests/c/fuzz_api.c): known result
    codes, no panic, outputs untouched on failure, nothing written past a buffer. The short run;
    KEYWHEEL_FUZZ_EXECS and KEYWHEEL_FUZZ_SEED set a longer one (docs/operations.md)."""
    execs = os.environ.get("KEYWHEEL_FUZZ_EXECS", "2000")
    seed = os.environ.get("KEYWHEEL_FUZZ_SEED", "1")
    p = run([build.fuzz_api_asan, seed, execs], capture_output=True, text=True, check=False,
            env={**os.environ, **SAN_ENV}, timeout=3600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    m = FUZZ_SUMMARY.search(p.stdout)
    assert m and m.group(1) == execs and int(m.group(3)) > 0, p.stdout


def test_fuzz_api_replays_the_afl_corpus(build):
    """fuzz/corpus/c_api (AFL's seeds and the inputs of every crash it found, e.g. the
    rollover_len overflow) replayed under ASan+UBSan: each must pass every check."""
    inputs = sorted((ROOT / "fuzz/corpus/c_api").iterdir())
    assert any(p.name.startswith("crash-") for p in inputs), inputs
    for path in inputs:
        p = run([build.fuzz_api_asan, "--input", path], capture_output=True, text=True,
                check=False, env={**os.environ, **SAN_ENV})
        assert p.returncode == 0, (path.name, p.stdout + p.stderr)


def test_fuzz_api_under_valgrind(build):
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed (apt-get install valgrind)")
    p = run([*VALGRIND, build.fuzz_api_release, "2", "150"], capture_output=True, text=True,
            check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ERROR SUMMARY" not in p.stderr or "ERROR SUMMARY: 0 errors" in p.stderr, p.stderr
    assert FUZZ_SUMMARY.search(p.stdout), p.stdout


def test_vectors_cover_every_section(build):
    kinds = {line.split(" ", 1)[0] for line in build.vectors.read_text().splitlines()}
    assert kinds >= {"derive", "tfo", "ticket_key", "ticket_schedule", "ticket_lookup",
                     "format", "error"}


# --- the example server and the OpenSSL integration ---------------------------------------------


@pytest.mark.parametrize("lang", ["c11", "c++"])
def test_examples_compile_cleanly(build, lang, tmp_path):
    compiler = C11 if lang == "c11" else CXX
    for sources in ([ROOT / "examples/c/server.c", OPENSSL_GLUE],
                    [ROOT / "examples/c/ticket_names.c"]):
        run([*compiler, *INCLUDES, "-c", *sources], cwd=tmp_path)


def test_readme_snippet_compiles(build, tmp_path):
    """The callback wiring shown in README.md ("Wiring the callback") compiles as C11 and C++."""
    text = (ROOT / "README.md").read_text()
    snippet = re.search(r"### Wiring the callback\n\n```c\n(.*?)```", text, re.S)
    assert snippet, "no C snippet under 'Wiring the callback' in README.md"
    src = tmp_path / "snippet.c"
    src.write_text(snippet.group(1))
    assert len(snippet.group(1).splitlines()) <= 25
    for compiler in (C11, CXX):
        run([*compiler, *INCLUDES, "-c", src, "-o", tmp_path / "snippet.o"])


@pytest.mark.parametrize("version", VERSIONS)
def test_same_main_key_resumes_across_processes(build, main_key, version, tmp_path):
    key_file, key = main_key
    with Server(build.server, build, key_file) as a, Server(build.server_cxx, build, key_file) as b:
        for first, second in ((a, b), (b, a)):
            sess = tmp_path / f"{first.port}.pem"
            before = int(time.time()) // INTERVAL
            reused, out = s_client(first.port, version, sess_out=sess)
            after = int(time.time()) // INTERVAL
            assert not reused and "resumed: no" in out
            # The clock path: the ticket's key is the current interval's (from hashlib).
            assert session_ticket(sess)[:16] in {ticket_name(key, LABEL, c) for c in (before, after)}
            reused, out = s_client(second.port, version, sess_in=sess)
            assert reused and "resumed: yes" in out, out
        assert a.stop()[0] == 0 and b.stop()[0] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_other_main_key_or_label_does_not_resume(build, main_key, version, tmp_path):
    key_file, _ = main_key
    other_file, _ = new_key(tmp_path / "other.key")
    sess = tmp_path / "s.pem"
    with Server(build.server, build, key_file, "-T", T0) as a, \
            Server(build.server, build, other_file, "-T", T0) as other_key, \
            Server(build.server, build, key_file, "-T", T0, label="other") as other_label, \
            Server(build.server, build, key_file, "-T", T0) as same:
        assert not s_client(a.port, version, sess_out=sess)[0]
        assert not s_client(other_key.port, version, sess_in=sess)[0]
        assert not s_client(other_label.port, version, sess_in=sess)[0]
        assert s_client(same.port, version, sess_in=sess)[0]  # control: the ticket is good


@pytest.mark.parametrize("version", VERSIONS)
def test_previous_interval_resumes_and_is_renewed(build, main_key, version, tmp_path):
    key_file, key = main_key
    issued, kept, renewed = (tmp_path / n for n in ("issued.pem", "kept.pem", "renewed.pem"))
    with Server(build.server, build, key_file, "-T", T0) as a, \
            Server(build.server, build, key_file, "-T", T0 + INTERVAL) as b:
        assert not s_client(a.port, version, sess_out=issued)[0]
        old = session_ticket(issued)
        assert old[:16] == ticket_name(key, LABEL, C0)


        def ticket_after(out, sess):
            # TLS 1.2: s_client prints the session after the handshake, with the ticket the
            # server renewed in it, but writes -sess_out only for new sessions. TLS 1.3: the
            # tickets come after the handshake; -sess_out saves the newest.
            return ticket_in(out) if version == "tls1_2" else session_ticket(sess)

        # Same interval: resumed with the current key, the ticket is kept (callback 1): TLS 1.2
        # shows the same ticket, and an OpenSSL 3 server sends no TLS 1.3 ticket after a
        # resumption unless the callback asked to renew.
        reused, out = s_client(a.port, version, sess_in=issued, sess_out=kept)
        assert reused
        if version == "tls1_2":
            assert ticket_after(out, kept) == old
        else:
            assert not kept.exists()
        # One interval later the ticket's key is "previous 1": resumed, and the new ticket is
        # under the new current key (callback 2: accept and renew).
        reused, out = s_client(b.port, version, sess_in=issued, sess_out=renewed)
        assert reused
        new = ticket_after(out, renewed)
        assert new != old
        assert new[:16] == ticket_name(key, LABEL, C0 + 1)


@pytest.mark.parametrize("version", VERSIONS)
def test_rotation_window(build, main_key, version, tmp_path):
    """keep 1 accepts tickets of the previous interval but not older; keep 2 one more; a server
    whose clock is one interval behind accepts the ticket under its "next" key."""
    key_file, _ = main_key
    sess = tmp_path / "s.pem"
    with Server(build.server, build, key_file, "-T", T0) as a, \
            Server(build.server, build, key_file, "-T", T0 + 2 * INTERVAL) as too_old, \
            Server(build.server, build, key_file, "-T", T0 + 2 * INTERVAL, keep=2) as keep2, \
            Server(build.server, build, key_file, "-T", T0 - INTERVAL) as behind, \
            Server(build.server, build, key_file, "-T", T0 - 2 * INTERVAL) as far_behind:
        assert not s_client(a.port, version, sess_out=sess)[0]
        assert not s_client(too_old.port, version, sess_in=sess)[0]
        assert s_client(keep2.port, version, sess_in=sess)[0]
        assert s_client(behind.port, version, sess_in=sess)[0]
        assert not s_client(far_behind.port, version, sess_in=sess)[0]


def test_example_server_under_asan_and_ubsan(build, main_key, tmp_path):
    exercise_server(build, main_key, tmp_path, build.server_asan, (), SAN_ENV)


def test_example_server_under_valgrind(build, main_key, tmp_path):
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed (apt-get install valgrind)")
    exercise_server(build, main_key, tmp_path, build.server_release, VALGRIND, {})


def exercise_server(build, main_key, tmp_path, exe, wrapper, env):
    """Full and resumed handshakes (current key and renewed), TLS 1.2 and 1.3, then a clean
    exit after -n connections, with the sanitizer or valgrind watching."""
    key_file, _ = main_key
    with Server(build.server, build, key_file, "-T", T0) as issuer, \
            Server(exe, build, key_file, "-T", T0 + INTERVAL, "-n", 6, wrapper=wrapper,
                   env=env) as s:
        for version in VERSIONS:
            old, sess = tmp_path / f"old-{version}.pem", tmp_path / f"{version}.pem"
            assert not s_client(issuer.port, version, sess_out=old)[0]
            assert s_client(s.port, version, sess_in=old)[0]  # previous key: renewed
            assert not s_client(s.port, version, sess_out=sess)[0]
            assert s_client(s.port, version, sess_in=sess)[0]  # current key
        code, err = s.wait()
        assert code == 0, err
        assert "Sanitizer" not in err and "runtime error" not in err, err
        assert "ERROR SUMMARY" not in err or "ERROR SUMMARY: 0 errors" in err, err


# --- nginx ------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets on;
{keys}
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""


@pytest.fixture
def nginx(build, main_key, tmp_path):
    """nginx (Debian's package) with keywheel's nginx key files for T0, rendered by the library;
    yields its port. Stopped by its pid."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(exe):
        pytest.fail("nginx is not installed (apt-get install nginx)")
    key_file, _ = main_key
    d = tmp_path / "nginx"
    d.mkdir()
    n = run([build.ticket_tool, "render-nginx", key_file, LABEL, INTERVAL, 1, T0, d],
            capture_output=True, text=True).stdout
    assert int(n) == 3  # current, next, previous 1
    keys = "\n".join(f"    ssl_session_ticket_key {d}/ticket.{i}.key;" for i in range(3))
    for attempt in range(5):
        port = free_port()
        (d / "nginx.conf").write_text(NGINX_CONF.format(d=d, port=port, cert=build.cert,
                                                        key=build.key, keys=keys))
        proc = subprocess.Popen([exe, "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        if proc.poll() is None:
            break
        proc.communicate()  # port taken meanwhile: try another
    else:
        pytest.fail(f"nginx did not start: {(d / 'error.log').read_text()}")
    try:
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("version", VERSIONS)
def test_nginx_ticket_decrypts_under_library_key(build, main_key, nginx, version, tmp_path):
    key_file, key = main_key
    sess = tmp_path / "nginx.pem"
    assert not s_client(nginx, version, sess_out=sess)[0]
    assert s_client(nginx, version, sess_in=sess)[0]  # nginx resumes its own ticket
    assert session_ticket(sess)[:16] == ticket_name(key, LABEL, C0)

    def open_ticket(now, label=LABEL):
        return run([build.ticket_tool, "open", sess, key_file, label, INTERVAL, 1, now],
                   capture_output=True, text=True, check=False)

    # The library's key of that counter decrypts it (HMAC checked, the plaintext is the
    # server's session with the client's master key).
    p = open_ticket(T0)
    assert p.returncode == 0 and p.stdout == f"ok current counter {C0}\n", p.stdout
    p = open_ticket(T0 + INTERVAL)
    assert p.returncode == 0 and p.stdout == f"ok accepted counter {C0}\n", p.stdout
    p = open_ticket(T0 + 2 * INTERVAL)
    assert p.returncode == 1 and "not found" in p.stdout, p.stdout
    p = open_ticket(T0, label="other")
    assert p.returncode == 1 and "not found" in p.stdout, p.stdout


# --- install and pkg-config -------------------------------------------------------------------


def test_install_and_pkg_config(build, main_key, tmp_path):
    key_file, key = main_key
    prefix = tmp_path / "prefix"
    env = {**os.environ, "PREFIX": str(prefix)}
    run([ROOT / "ffi/install.sh"], env=env, cwd=tmp_path, capture_output=True)
    for f in ("include/keywheel.h", "include/keywheel_openssl.h", "lib/libkeywheel.so",
              "lib/libkeywheel.a", "lib/libkeywheel_openssl.a", "lib/pkgconfig/keywheel.pc",
              "lib/pkgconfig/keywheel-openssl.pc"):
        assert (prefix / f).is_file(), f
    # The shared library under its version, with the SONAME link programs load and the link
    # -lkeywheel finds.
    version = re.search(r'#define KEYWHEEL_VERSION_STRING "([^"]+)"', (ROOT / "include/keywheel.h").read_text()).group(1)
    lib = prefix / "lib"
    assert os.readlink(lib / "libkeywheel.so") == "libkeywheel.so.0"
    assert os.readlink(lib / "libkeywheel.so.0") == f"libkeywheel.so.{version}"
    assert not (lib / f"libkeywheel.so.{version}").is_symlink()
    dynamic = run(["objdump", "-p", lib / f"libkeywheel.so.{version}"], capture_output=True, text=True).stdout
    assert re.search(r"^\s+SONAME\s+libkeywheel\.so\.0$", dynamic, re.M), dynamic
    # DESTDIR stages the files but the .pc files name the real prefix.
    staged = tmp_path / "stage"
    run([ROOT / "ffi/install.sh"], env={**env, "PREFIX": "/opt/kw", "DESTDIR": str(staged)},
        capture_output=True)
    assert "prefix=/opt/kw\n" in (staged / "opt/kw/lib/pkgconfig/keywheel.pc").read_text()

    # From a clean prefix: only PKG_CONFIG_PATH points at it.
    pc_env = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "lib/pkgconfig")}

    def pkg(*args):
        return run(["pkg-config", *args], env=pc_env, capture_output=True, text=True).stdout.split()

    names = tmp_path / "ticket_names"
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", ROOT / "examples/c/ticket_names.c",
         *pkg("--cflags", "--libs", "keywheel"), "-o", names])
    assert re.search(r"^\s+NEEDED\s+libkeywheel\.so\.0$",
                     run(["objdump", "-p", names], capture_output=True, text=True).stdout, re.M)
    out = run([names, key_file, LABEL, INTERVAL, 1, T0], capture_output=True, text=True,
              env={**os.environ, "LD_LIBRARY_PATH": str(prefix / "lib")}).stdout
    assert f"current  counter {C0} name {ticket_name(key, LABEL, C0).hex()}\n" in out, out
    assert f"next     counter {C0 + 1} name {ticket_name(key, LABEL, C0 + 1).hex()}\n" in out
    assert f"previous counter {C0 - 1} name {ticket_name(key, LABEL, C0 - 1).hex()}\n" in out
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", ROOT / "examples/c/server.c",
         *pkg("--cflags", "--libs", "keywheel-openssl"), "-o", tmp_path / "server"])
    version = pkg("--modversion", "keywheel")[0]
    assert f'#define KEYWHEEL_VERSION_STRING "{version}"' in (prefix / "include/keywheel.h").read_text()
