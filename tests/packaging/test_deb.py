"""The Debian package as operators use it: `apt-get install ./keywheel_*.deb` on this machine.

Needs root and a machine without the keywheel package (the test refuses to touch one installed by
someone else). The package is built by packaging/deb/build.sh (KEYWHEEL_DEB names it; otherwise
the test runs build.sh, which reuses the cargo build). Checked: lintian, the binaries (keys
compared with the hashlib reference), the man pages, `systemd-analyze verify` on the installed
units, the C example built against the installed header and library with pkg-config (shared and
static), the file list, the conffile across a reinstall and upgrades from a previous build,
remove and purge. Whatever happens, the package is purged at the end.

The Apache module's package libapache2-mod-keywheel (built by the same build.sh, next to it):
its control fields, its files, `a2enmod keywheel` and `apache2ctl -M` in a copy of the Apache
configuration (the system's /etc/apache2 is left as it is), and purge.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import reference as ref
from conftest import ROOT, run

PKG = "keywheel"
APACHE_PKG = "libapache2-mod-keywheel"
CONFFILE = Path("/etc/keywheel/keywheel.toml")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]
ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
TOFURKEY_KEY = bytes.fromhex("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b")
MULTIARCH = subprocess.run(
    ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True, text=True, check=True
).stdout.strip()

# Every file the package may install (directories are checked separately).
ALLOWED = [
    r"/etc/keywheel/keywheel\.toml",
    r"/usr/bin/(keywheel|tofurkey)",
    r"/usr/sbin/tofurkey",
    r"/usr/share/man/man1/(keywheel(-[a-z-]+)?|tofurkey)\.1\.gz",
    r"/usr/lib/systemd/system/(keywheel|tofurkey)\.service",
    r"/usr/share/keywheel/systemd/[a-z-]+\.conf",
    r"/usr/include/keywheel(_openssl)?\.h",
    rf"/usr/lib/{MULTIARCH}/libkeywheel(\.so|\.a|_openssl\.a)",
    rf"/usr/lib/{MULTIARCH}/pkgconfig/keywheel(-openssl)?\.pc",
    r"/usr/share/doc/keywheel/[A-Za-z0-9_./-]+",
    r"/usr/share/lintian/overrides/keywheel",
]


def status(pkg=PKG):
    """dpkg's status of the package: 'installed', 'config-files' or 'not-installed'."""
    p = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "not-installed"


def version():
    return run(["dpkg-query", "-W", "-f=${Version}", PKG]).stdout


def apt_install(*debs, options=()):
    run([*APT, *options, "install", *[str(d) for d in debs]], env=ENV)


def purge():
    run([*APT, "purge", PKG], env=ENV)


def file_list():
    return run(["dpkg", "-L", PKG]).stdout.splitlines()


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """(current, previous, previous with another default config): three .deb files."""
    if os.geteuid() != 0:
        pytest.fail("the Debian package test needs root (it installs the package)")
    if status() != "not-installed":
        pytest.fail(f"the {PKG} package is already on this machine ({status()}); the test would "
                    f"replace and purge it: remove it first (apt-get purge {PKG})")
    out = tmp_path_factory.mktemp("debs")
    current = os.environ.get("KEYWHEEL_DEB")
    if not current:
        lines = run([ROOT / "packaging/deb/build.sh"]).stdout.strip().splitlines()
        current = lines[-1]
    assert Path(current).is_file() and Path(current).name.startswith("keywheel_"), current
    # A copy: cargo-deb deletes the other versions in its output directory when it builds one
    # (put back below).
    original = Path(current)
    current = out / original.name
    shutil.copyfile(original, current)
    # The Apache module's package of the same build, next to it.
    deb_version = run(["dpkg-deb", "-f", original, "Version"]).stdout.strip()
    apache = sorted(original.parent.glob(f"{APACHE_PKG}_{deb_version}_*.deb"))
    assert len(apache) == 1, (original, apache)
    shutil.copyfile(apache[0], out / apache[0].name)
    # A previous build: the same build at a lower version, made by cargo-deb itself.
    run([ROOT / "packaging/deb/build.sh", "--no-build", "--deb-version", "0.1.0~prev1-1",
         "--output", out / "prev1.deb"])
    shutil.copyfile(current, original)
    # A previous build whose default config differed: repacked with another conffile text.
    tree = out / "tree"
    run(["dpkg-deb", "-R", current, tree])
    conf = tree / "etc/keywheel/keywheel.toml"
    conf.write_text(conf.read_text().replace("interval = 86400", "interval = 43200", 1))
    control = tree / "DEBIAN/control"
    control.write_text(re.sub(r"^Version: .*$", "Version: 0.1.0~prev2-1", control.read_text(), flags=re.M))
    run(["dpkg-deb", "--root-owner-group", "-b", tree, out / "prev2.deb"])
    shutil.rmtree(tree)
    return current, out / "prev1.deb", out / "prev2.deb"


@pytest.fixture(scope="module")
def installed(debs):
    """The current package installed; purged at the end even when a test failed."""
    try:
        apt_install(debs[0])
        assert status() == "installed"
        yield debs[0]
    finally:
        if status() != "not-installed":
            subprocess.run([*APT, "purge", PKG], env=ENV, capture_output=True)
        # The main key test_purge_* writes (the package never makes one).
        Path("/etc/keywheel/main.key").unlink(missing_ok=True)
        try:
            Path("/etc/keywheel").rmdir()
        except OSError:
            pass
        assert status() == "not-installed"
        assert not Path("/usr/bin/keywheel").exists() and not Path("/usr/bin/tofurkey").exists()


def test_lintian_clean(debs):
    """No error, warning, info or pedantic tag but those overridden, with reasons, in
    packaging/deb/lintian-overrides."""
    p = subprocess.run(["lintian", "-E", "-I", "-L", "+pedantic", "--fail-on", "error,warning,info,pedantic",
                        debs[0]], capture_output=True, text=True)
    tags = [line for line in p.stdout.splitlines() if not line.startswith("N:")]
    assert p.returncode == 0 and tags == [], p.stdout + p.stderr


def test_control_fields(debs):
    fields = run(["dpkg-deb", "-f", debs[0], "Package", "Conflicts", "Replaces", "Provides", "Depends"]).stdout
    assert "Package: keywheel\n" in fields
    assert "Conflicts: tofurkey\n" in fields and "Replaces: tofurkey\n" in fields
    assert "Provides: tofurkey (= 1.3.4)\n" in fields
    # What dpkg-shlibdeps finds for the binaries and the library, e.g. libc6 and libgcc-s1.
    shl = debs[0].parent / "shlibdeps"
    (shl / "debian").mkdir(parents=True)
    (shl / "debian/control").write_text("")
    binaries = [f"/usr/bin/{b}" for b in ("keywheel", "tofurkey")] + [f"/usr/lib/{MULTIARCH}/libkeywheel.so"]
    tree = shl / "tree"
    run(["dpkg-deb", "-x", debs[0], tree])
    computed = run(["dpkg-shlibdeps", "-O", *[f"{tree}{b}" for b in binaries]], cwd=shl).stdout
    computed = re.search(r"^shlibs:Depends=(.*)$", computed, re.M).group(1).split(", ")
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1).split(", ")
    assert sorted(depends) == sorted(computed) and computed, (depends, computed)
    # Nothing secret is created by a maintainer script: no key generation, no random source.
    control = debs[0].parent / "control"
    run(["dpkg-deb", "-e", debs[0], control])
    for script in control.iterdir():
        text = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("#"))
        for word in ("gen-secret", "urandom", "openssl", "head -c", "useradd", "adduser", "chmod"):
            assert word not in text, f"{script.name} contains {word!r}"


def test_binaries_run(installed, tmp_path):
    want = run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT).stdout
    workspace_version = re.search(r'"name":"keywheel-cli","version":"([^"]+)"', want).group(1)
    assert run(["/usr/bin/keywheel", "--version"]).stdout == f"keywheel {workspace_version}\n"
    assert version().startswith(workspace_version)
    # tofurkey's own test key and time; the keys come from the hashlib reference (SPEC §3).
    key = tmp_path / "main.key"
    key.write_bytes(TOFURKEY_KEY)
    key.chmod(0o600)
    now = 1_000_000
    primary, backup, _ = ref.tfo_slot(86400, now)
    expected = ref.procfs_text(ref.tfo_key(TOFURKEY_KEY, primary), ref.tfo_key(TOFURKEY_KEY, backup))
    for cmd in (["/usr/bin/tofurkey"], ["/usr/sbin/tofurkey"]):
        procfs = tmp_path / "procfs"
        procfs.write_text("")
        run([*cmd, "-o", "-k", key, "-P", procfs, "-T", now])
        assert procfs.read_text().rstrip("\x00\n") == expected, cmd
    procfs = tmp_path / "procfs"
    procfs.write_text("")
    run(["/usr/bin/keywheel", "tfo", "--main-key", key, "--procfs", procfs, "--time", now])
    assert procfs.read_text().rstrip("\x00\n") == expected
    assert os.path.realpath("/usr/sbin/tofurkey") == "/usr/bin/tofurkey"


def test_man_pages_render(installed):
    shipped = sorted(p.name for p in (ROOT / "man").glob("*.1"))
    installed_pages = sorted(p.name[:-3] for p in Path("/usr/share/man/man1").glob("*.1.gz")
                             if p.name.startswith(("keywheel", "tofurkey")))
    assert installed_pages == shipped
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""}
    for page, title in (("keywheel", "keywheel"), ("tofurkey", "tofurkey"), ("keywheel-stek", "keywheel-stek")):
        p = run(["man", "--warnings", "-P", "cat", page], env=env)
        assert p.stdout.lstrip().lower().startswith(f"{title}(1)"), p.stdout[:200]
        assert re.search(rf"^NAME\n +{re.escape(page)} +\\?- ", p.stdout, re.M), p.stdout[:300]
        assert "NAME" in p.stdout and "SYNOPSIS" in p.stdout
        assert p.stderr == "", p.stderr  # no groff warnings
    assert run(["man", "-w", "keywheel"]).stdout.strip() == "/usr/share/man/man1/keywheel.1.gz"


def test_units_verify_and_are_not_enabled(installed):
    for unit in ("keywheel.service", "tofurkey.service"):
        path = Path("/usr/lib/systemd/system") / unit
        assert path.read_text() == (ROOT / "contrib/systemd" / unit).read_text()
        # With man page checks: the Documentation= pages are the installed ones.
        p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout == "" and p.stderr == "", f"{unit}: {p.stdout}{p.stderr}"
        # Installed disabled: the main key does not exist yet.
        assert not list(Path("/etc/systemd/system").rglob(unit)), unit
    drop_ins = sorted(p.name for p in Path("/usr/share/keywheel/systemd").iterdir())
    assert drop_ins == sorted(p.name for p in (ROOT / "contrib/systemd").glob("*.conf"))


def test_c_example_builds_against_the_installed_library(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "C_INCLUDE_PATH")}
    example = Path("/usr/share/doc/keywheel/examples/ticket_names.c")
    assert example.read_text() == (ROOT / "examples/c/ticket_names.c").read_text()

    def pkg(*args):
        return run(["pkg-config", *args], env=env).stdout.split()

    assert pkg("--cflags", "keywheel") == [] or pkg("--cflags", "keywheel") == ["-I/usr/include"]
    main = bytes(range(32))
    key = tmp_path / "main.key"
    key.write_bytes(main)
    key.chmod(0o600)
    label, interval, now = "www.example.com", 3600, 2_000_000_000
    expected = []
    for counter, role in ref.ticket_window(interval, 1, now):
        name = ref.ticket_key(main, label, "aes256", counter)[0]
        expected.append(f"{role.split()[0]:<8} counter {counter} name {name.hex()}")
    shared = tmp_path / "names_shared"
    static = tmp_path / "names_static"
    flags = ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", example]
    run([*flags, *pkg("--cflags", "--libs", "keywheel"), "-o", shared], env=env)
    # The static library: -l:libkeywheel.a in place of -lkeywheel, with the private libraries.
    libs = ["-l:libkeywheel.a" if f == "-lkeywheel" else f for f in pkg("--static", "--libs", "keywheel")]
    run([*flags, *pkg("--cflags", "keywheel"), *libs, "-o", static], env=env)
    assert f"/usr/lib/{MULTIARCH}/libkeywheel.so" in [
        os.path.realpath(m.group(1)) for m in re.finditer(r"=> (\S+)", run(["ldd", shared], env=env).stdout)
    ]
    assert "libkeywheel" not in run(["ldd", static], env=env).stdout
    for exe in (shared, static):
        out = run([exe, key, label, interval, 1, now], env=env).stdout.splitlines()
        assert out[1:] == expected, out
    # The OpenSSL callback library links too (keywheel-openssl.pc requires libssl, libcrypto).
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "/usr/share/doc/keywheel/examples/server.c",
         *pkg("--cflags", "--libs", "keywheel-openssl"), "-o", tmp_path / "server"], env=env)
    header_version = re.search(r'#define KEYWHEEL_VERSION_STRING "([^"]+)"',
                               Path("/usr/include/keywheel.h").read_text()).group(1)
    assert pkg("--modversion", "keywheel") == [header_version]


def test_file_list(installed):
    paths = file_list()
    files = [p for p in paths if not os.path.isdir(p) or os.path.islink(p)]
    dirs = [p for p in paths if os.path.isdir(p) and not os.path.islink(p)]
    for f in files:
        assert any(re.fullmatch(rx, f) for rx in ALLOWED), f"unexpected file {f}"
    for d in dirs:  # no directory but the parents of the files
        assert d == "/." or any(f.startswith(d + "/") for f in files), f"stray directory {d}"
    for needed in ("/usr/bin/keywheel", "/usr/bin/tofurkey", "/usr/sbin/tofurkey", str(CONFFILE),
                   "/usr/lib/systemd/system/keywheel.service", "/usr/lib/systemd/system/tofurkey.service",
                   "/usr/include/keywheel.h", "/usr/include/keywheel_openssl.h",
                   f"/usr/lib/{MULTIARCH}/libkeywheel.so", f"/usr/lib/{MULTIARCH}/libkeywheel.a",
                   f"/usr/lib/{MULTIARCH}/libkeywheel_openssl.a",
                   f"/usr/lib/{MULTIARCH}/pkgconfig/keywheel.pc", f"/usr/lib/{MULTIARCH}/pkgconfig/keywheel-openssl.pc",
                   "/usr/share/doc/keywheel/copyright", "/usr/share/doc/keywheel/changelog.Debian.gz"):
        assert needed in files, needed
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", PKG]).stdout.split()
    assert conffiles[0::3] == [str(CONFFILE)]
    assert CONFFILE.read_text() == (ROOT / "contrib/keywheel.toml.example").read_text()
    assert oct(CONFFILE.stat().st_mode & 0o777) == "0o644"  # no secret in it: the key is a separate file
    run(["/usr/bin/keywheel", "check-config", CONFFILE])
    copyright_text = Path("/usr/share/doc/keywheel/copyright").read_text()
    mit = "\n".join(" " + (line or ".") for line in (ROOT / "LICENSE-MIT").read_text().splitlines())
    assert mit in copyright_text and "/usr/share/common-licenses/Apache-2.0" in copyright_text


def changed_conffile():
    text = CONFFILE.read_text().replace("interval = 3600\nkeep = 1", "interval = 7200\nkeep = 1", 1)
    assert text != CONFFILE.read_text()
    CONFFILE.write_text(text)
    return text


def test_reinstall_keeps_a_changed_conffile(installed):
    mine = changed_conffile()
    apt_install(installed, options=["--reinstall"])
    assert status() == "installed" and CONFFILE.read_text() == mine
    assert not list(CONFFILE.parent.glob("*.dpkg-*"))
    # Put the package's text back for the next tests.
    CONFFILE.write_text((ROOT / "contrib/keywheel.toml.example").read_text())


def test_upgrade_from_a_previous_build_keeps_a_changed_conffile(installed, debs):
    current, prev1, prev2 = debs
    purge()
    # Same default config in both versions: dpkg keeps the administrator's file without asking.
    apt_install(prev1)
    assert version() == "0.1.0~prev1-1"
    mine = changed_conffile()
    apt_install(current)
    assert version() == run(["dpkg-deb", "-f", current, "Version"]).stdout.strip()
    assert CONFFILE.read_text() == mine
    assert not list(CONFFILE.parent.glob("*.dpkg-*"))
    purge()
    # The default config changed too: with --force-confold (what unattended upgrades use) the
    # administrator's file stays and the new default lands next to it as .dpkg-dist.
    apt_install(prev2)
    assert "interval = 43200" in CONFFILE.read_text()
    mine = changed_conffile()
    apt_install(current, options=["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"])
    assert CONFFILE.read_text() == mine
    dist = CONFFILE.with_name("keywheel.toml.dpkg-dist")
    assert dist.read_text() == (ROOT / "contrib/keywheel.toml.example").read_text()
    assert status() == "installed"


def test_remove_then_purge(installed):
    assert status() == "installed"
    paths = file_list()
    files = [p for p in paths if not os.path.isdir(p) or os.path.islink(p)]
    # The administrator's main key (made after installing, as the docs say) is not the package's.
    key = Path("/etc/keywheel/main.key")
    key.write_bytes(bytes(32))
    key.chmod(0o600)
    run([*APT, "remove", PKG], env=ENV)
    assert status() == "config-files"
    assert CONFFILE.is_file()  # remove keeps configuration
    assert not any(os.path.lexists(f) for f in files if not f.startswith("/etc/"))
    purge()
    assert status() == "not-installed"
    leftovers = [f for f in files if os.path.lexists(f)]
    assert leftovers == [], leftovers
    # Only the administrator's key stays (dpkg never deletes files it did not install); the
    # conffile, its .dpkg-dist, the package's directories and systemd state are gone.
    assert sorted(os.listdir("/etc/keywheel")) == ["main.key"]
    for gone in ("/usr/share/doc/keywheel", "/usr/share/keywheel", "/etc/systemd/system/keywheel.service",
                 "/etc/systemd/system/tofurkey.service"):
        assert not os.path.lexists(gone), gone
    for state in Path("/var/lib/systemd").glob("deb-systemd-helper-*/**/*"):
        assert "keywheel" not in state.name and "tofurkey" not in state.name, state
    assert not list(Path("/var/lib/dpkg/info").glob("keywheel.*"))


# --- libapache2-mod-keywheel ------------------------------------------------------------------

APACHE_FILES = [
    "/usr/lib/apache2/modules/mod_keywheel.so",
    f"/usr/share/lintian/overrides/{APACHE_PKG}",
    "/etc/apache2/mods-available/keywheel.load",
    "/etc/apache2/mods-available/keywheel.conf",
    f"/usr/share/doc/{APACHE_PKG}/copyright",
    f"/usr/share/doc/{APACHE_PKG}/changelog.Debian.gz",
]


@pytest.fixture(scope="module")
def apache_deb(debs):
    """The module's package of the same build (copied next to the keywheel package by `debs`)."""
    version = run(["dpkg-deb", "-f", debs[0], "Version"]).stdout.strip()
    found = sorted(debs[0].parent.glob(f"{APACHE_PKG}_{version}_*.deb"))
    assert len(found) == 1, found
    return found[0]


def test_apache_module_lintian_clean(apache_deb):
    """As for keywheel: no tag but those overridden, with reasons, in
    packaging/deb/apache/lintian-overrides."""
    p = subprocess.run(["lintian", "-E", "-I", "-L", "+pedantic", "--fail-on", "error,warning,info,pedantic",
                        apache_deb], capture_output=True, text=True)
    tags = [line for line in p.stdout.splitlines() if not line.startswith("N:")]
    assert p.returncode == 0 and tags == [], p.stdout + p.stderr


def test_apache_module_control_fields(apache_deb):
    fields = run(["dpkg-deb", "-f", apache_deb, "Package", "Section", "Depends"]).stdout
    assert f"Package: {APACHE_PKG}\n" in fields and "Section: httpd\n" in fields
    # None of keywheel's own fields (Conflicts/Replaces/Provides tofurkey).
    control = run(["dpkg-deb", "-f", apache_deb]).stdout
    for field in ("Conflicts", "Replaces", "Provides", "Breaks", "Suggests"):
        assert not re.search(rf"^{field}:", control, re.M), control
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1).split(", ")
    # What dpkg-shlibdeps finds for the module (libc6, libssl3), libgcc-s1 (which cargo-deb
    # drops from it), and Apache 2.4's module ABI; not keywheel: libkeywheel is linked in.
    shl = apache_deb.parent / "shlibdeps-apache"
    (shl / "debian").mkdir(parents=True)
    (shl / "debian/control").write_text("")
    tree = shl / "tree"
    run(["dpkg-deb", "-x", apache_deb, tree])
    module = tree / "usr/lib/apache2/modules/mod_keywheel.so"
    computed = run(["dpkg-shlibdeps", "-O", module], cwd=shl).stdout
    computed = re.search(r"^shlibs:Depends=(.*)$", computed, re.M).group(1).split(", ")
    assert "apache2-api-20120211" in depends
    assert not any(d.startswith("keywheel") for d in depends), depends
    rest = [d for d in depends if d != "apache2-api-20120211" and not d.startswith("libgcc-s1")]
    assert sorted(rest) == sorted(d for d in computed if not d.startswith("libgcc-s1")), (depends, computed)
    assert any(d.startswith("libssl3") for d in depends), depends
    needed = run(["objdump", "-p", module]).stdout
    assert "libkeywheel" not in needed and "NEEDED               libssl.so.3" in needed, needed


def test_apache_module_enables_and_purges(apache_deb, tmp_path):
    if status(APACHE_PKG) != "not-installed":
        pytest.fail(f"{APACHE_PKG} is already on this machine ({status(APACHE_PKG)}); remove it first")
    system_enabled = sorted(os.listdir("/etc/apache2/mods-enabled"))
    try:
        apt_install(apache_deb)
        assert status(APACHE_PKG) == "installed"
        paths = run(["dpkg", "-L", APACHE_PKG]).stdout.splitlines()
        files = [p for p in paths if not os.path.isdir(p) or os.path.islink(p)]
        assert sorted(files) == sorted(APACHE_FILES), files
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", APACHE_PKG]).stdout.splitlines()
        conffiles = [line.split()[0] for line in conffiles if line.strip()]  # " path md5sum"
        assert sorted(conffiles) == sorted(f for f in APACHE_FILES if f.startswith("/etc/"))
        assert Path("/etc/apache2/mods-available/keywheel.load").read_text() == \
            (ROOT / "apache/mod_keywheel/keywheel.load").read_text()
        # The package enables nothing by itself.
        assert sorted(os.listdir("/etc/apache2/mods-enabled")) == system_enabled

        # a2enmod and apache2ctl on a copy of the configuration (APACHE_CONFDIR), with the
        # installed mods-available.
        conf = tmp_path / "apache2"
        shutil.copytree("/etc/apache2", conf, symlinks=True)
        env = {**ENV, "APACHE_CONFDIR": str(conf)}
        p = subprocess.run(["a2enmod", "keywheel"], env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        load = conf / "mods-enabled/keywheel.load"
        assert os.readlink(load) == "../mods-available/keywheel.load"
        assert (conf / "mods-enabled/ssl.load").exists()  # keywheel.load: "Depends: ssl"
        p = subprocess.run(["apache2ctl", "-M"], env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        assert re.search(r"^ keywheel_module \(shared\)$", p.stdout, re.M), p.stdout
        assert re.search(r"^ ssl_module \(shared\)$", p.stdout, re.M), p.stdout
        # Disabled again: Apache no longer loads it.
        run(["a2dismod", "-q", "keywheel"], env=env)
        p = subprocess.run(["apache2ctl", "-M"], env=env, capture_output=True, text=True)
        assert p.returncode == 0 and "keywheel_module" not in p.stdout, p.stdout + p.stderr
        assert sorted(os.listdir("/etc/apache2/mods-enabled")) == system_enabled

        run([*APT, "purge", APACHE_PKG], env=ENV)
        assert status(APACHE_PKG) == "not-installed"
        leftovers = [f for f in APACHE_FILES if os.path.lexists(f)]
        assert leftovers == [], leftovers
        assert not os.path.lexists(f"/usr/share/doc/{APACHE_PKG}")
        assert not list(Path("/var/lib/dpkg/info").glob(f"{APACHE_PKG}.*"))
        assert not [p for p in Path("/var/lib/apache2").rglob("keywheel*")], "apache2 state left"
        assert sorted(os.listdir("/etc/apache2/mods-enabled")) == system_enabled
    finally:
        if status(APACHE_PKG) != "not-installed":
            subprocess.run([*APT, "purge", APACHE_PKG], env=ENV, capture_output=True)
