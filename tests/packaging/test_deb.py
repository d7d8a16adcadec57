"""The Debian packages as operators use them: `apt-get install ./keywheel_*.deb` on this machine.

Needs root and a machine without the packages (the test refuses to touch ones installed by
someone else). They are built by packaging/deb/build.sh (KEYWHEEL_DEB names keywheel's, the
others are next to it; otherwise the test runs build.sh, which reuses the cargo build).

keywheel: lintian, the binaries (keys compared with the hashlib reference), the man pages,
`systemd-analyze verify` on the installed units, the file list, the conffile across a reinstall
and upgrades from a previous build, remove and purge.

libkeywheel0 and libkeywheel-dev (the C library under its SONAME libkeywheel.so.0, and its
development files): lintian, control fields (symbols, shlibs, ldconfig trigger, Depends), the
C example built against the installed header and library with pkg-config (shared: NEEDED
libkeywheel.so.0 found by the dynamic linker in /usr/lib/<multiarch>; and static), an upgrade
from the previous build, purge.

libapache2-mod-keywheel: its control fields (Depends on libkeywheel0 from the symbols file), its
files, `a2enmod keywheel` and `apache2ctl -M` in a copy of the Apache configuration (the
system's /etc/apache2 is left as it is), and purge.

Whatever happens, every package is purged at the end.
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
LIB_PKG = "libkeywheel0"
DEV_PKG = "libkeywheel-dev"
PACKAGES = (PKG, LIB_PKG, DEV_PKG, APACHE_PKG)
CONFFILE = Path("/etc/keywheel/keywheel.toml")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]
ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
TOFURKEY_KEY = bytes.fromhex("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b")
# The library's version: its real file is libkeywheel.so.<version> (ffi/install.sh).
VERSION = re.search(r'#define KEYWHEEL_VERSION_STRING "([^"]+)"', (ROOT / "include/keywheel.h").read_text()).group(1)
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


def purge(*pkgs):
    run([*APT, "purge", *(pkgs or [PKG])], env=ENV)


def file_list():
    return run(["dpkg", "-L", PKG]).stdout.splitlines()


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """{"current": {package: .deb}, "prev1": {package: .deb}, "prev2": keywheel's .deb}: this
    build, a previous build (the same at a lower version, made by build.sh) and a previous
    keywheel package whose default config differed."""
    if os.geteuid() != 0:
        pytest.fail("the Debian package test needs root (it installs the package)")
    for pkg in PACKAGES:
        if status(pkg) != "not-installed":
            pytest.fail(f"the {pkg} package is already on this machine ({status(pkg)}); the test would "
                        f"replace and purge it: remove it first (apt-get purge {pkg})")
    out = tmp_path_factory.mktemp("debs")
    main = os.environ.get("KEYWHEEL_DEB")
    if not main:
        lines = run([ROOT / "packaging/deb/build.sh"]).stdout.strip().splitlines()
        main = lines[-1]
    assert Path(main).is_file() and Path(main).name.startswith("keywheel_"), main
    original = Path(main)
    deb_version = run(["dpkg-deb", "-f", original, "Version"]).stdout.strip()

    def siblings(directory, version):
        found = {}
        for pkg in PACKAGES:
            matches = sorted(directory.glob(f"{pkg}_{version}_*.deb"))
            assert len(matches) == 1, (pkg, version, matches)
            found[pkg] = matches[0]
        return found

    # Copies: cargo-deb deletes the other versions of a package in target/debian when it builds
    # one (put back below).
    current = {}
    built = siblings(original.parent, deb_version)
    for pkg, deb in built.items():
        current[pkg] = out / deb.name
        shutil.copyfile(deb, current[pkg])
    # A previous build: the same build at a lower version, made by build.sh (all packages).
    prev_dir = out / "prev1"
    prev_dir.mkdir()
    run([ROOT / "packaging/deb/build.sh", "--no-build", "--deb-version", "0.1.0~prev1-1", "--output", prev_dir])
    prev1 = siblings(prev_dir, "0.1.0~prev1-1")
    for pkg, deb in built.items():
        shutil.copyfile(current[pkg], deb)
    # A previous build whose default config differed: repacked with another conffile text.
    tree = out / "tree"
    run(["dpkg-deb", "-R", current[PKG], tree])
    conf = tree / "etc/keywheel/keywheel.toml"
    conf.write_text(conf.read_text().replace("interval = 86400", "interval = 43200", 1))
    control = tree / "DEBIAN/control"
    control.write_text(re.sub(r"^Version: .*$", "Version: 0.1.0~prev2-1", control.read_text(), flags=re.M))
    (tree / "DEBIAN/md5sums").unlink()  # the conffile's sum changed; dpkg computes them anyway
    run(["dpkg-deb", "--root-owner-group", "-b", tree, out / "prev2.deb"])
    shutil.rmtree(tree)
    return {"current": current, "prev1": prev1, "prev2": out / "prev2.deb"}


@pytest.fixture(scope="module")
def installed(debs):
    """The current package installed; purged at the end even when a test failed."""
    try:
        apt_install(debs["current"][PKG])
        assert status() == "installed"
        yield debs["current"][PKG]
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


@pytest.mark.parametrize("pkg", PACKAGES)
def test_lintian_clean(debs, pkg):
    """No error, warning, info or pedantic tag but those overridden, with reasons, in the
    package's lintian-overrides (packaging/deb/lintian-overrides, packaging/deb/<pkg>/...)."""
    p = subprocess.run(["lintian", "-E", "-I", "-L", "+pedantic", "--fail-on", "error,warning,info,pedantic",
                        debs["current"][pkg]], capture_output=True, text=True)
    tags = [line for line in p.stdout.splitlines() if not line.startswith("N:")]
    assert p.returncode == 0 and tags == [], p.stdout + p.stderr
    # Every package carries the checksums of its files.
    assert run(["dpkg-deb", "-I", debs["current"][pkg], "md5sums"]).stdout.strip()


def test_short_descriptions_differ(debs):
    summaries = [run(["dpkg-deb", "-f", debs["current"][p], "Description"]).stdout.splitlines()[0] for p in PACKAGES]
    assert len(set(summaries)) == len(PACKAGES), summaries


def test_control_fields(debs):
    deb = debs["current"][PKG]
    fields = run(["dpkg-deb", "-f", deb, "Package", "Conflicts", "Replaces", "Provides", "Depends"]).stdout
    assert "Package: keywheel\n" in fields
    assert "Conflicts: tofurkey\n" in fields and "Replaces: tofurkey\n" in fields
    assert "Provides: tofurkey (= 1.3.4)\n" in fields
    # What dpkg-shlibdeps finds for the binaries and the library, e.g. libc6 and libgcc-s1.
    shl = deb.parent / "shlibdeps"
    (shl / "debian").mkdir(parents=True)
    (shl / "debian/control").write_text("")
    binaries = [f"/usr/bin/{b}" for b in ("keywheel", "tofurkey")]
    tree = shl / "tree"
    run(["dpkg-deb", "-x", deb, tree])
    computed = run(["dpkg-shlibdeps", "-O", *[f"{tree}{b}" for b in binaries]], cwd=shl).stdout
    computed = re.search(r"^shlibs:Depends=(.*)$", computed, re.M).group(1).split(", ")
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1).split(", ")
    assert sorted(depends) == sorted(computed) and computed, (depends, computed)
    # Nothing secret is created by a maintainer script: no key generation, no random source.
    control = deb.parent / "control"
    run(["dpkg-deb", "-e", deb, control])
    for script in (p for p in control.iterdir() if p.name in ("preinst", "postinst", "prerm", "postrm", "config")):
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


LIB_FILES = [
    f"/usr/lib/{MULTIARCH}/libkeywheel.so.{VERSION}",
    f"/usr/lib/{MULTIARCH}/libkeywheel.so.0",
    f"/usr/share/doc/{LIB_PKG}/copyright",
    f"/usr/share/doc/{LIB_PKG}/changelog.Debian.gz",
    f"/usr/share/lintian/overrides/{LIB_PKG}",
]
DEV_FILES = [
    "/usr/include/keywheel.h",
    "/usr/include/keywheel_openssl.h",
    f"/usr/lib/{MULTIARCH}/libkeywheel.so",
    f"/usr/lib/{MULTIARCH}/libkeywheel.a",
    f"/usr/lib/{MULTIARCH}/libkeywheel_openssl.a",
    f"/usr/lib/{MULTIARCH}/pkgconfig/keywheel.pc",
    f"/usr/lib/{MULTIARCH}/pkgconfig/keywheel-openssl.pc",
    f"/usr/share/doc/{DEV_PKG}/copyright",
    f"/usr/share/doc/{DEV_PKG}/changelog.Debian.gz",
    f"/usr/share/doc/{DEV_PKG}/examples/server.c",
    f"/usr/share/doc/{DEV_PKG}/examples/ticket_names.c",
    f"/usr/share/lintian/overrides/{DEV_PKG}",
]


def package_files(pkg):
    return sorted(p for p in run(["dpkg", "-L", pkg]).stdout.splitlines() if not os.path.isdir(p) or os.path.islink(p))


def ldconfig_cache():
    return run(["ldconfig", "-p"]).stdout


def test_library_control_fields(debs, tmp_path):
    lib, dev = debs["current"][LIB_PKG], debs["current"][DEV_PKG]
    deb_version = run(["dpkg-deb", "-f", lib, "Version"]).stdout.strip()
    upstream = deb_version.rsplit("-", 1)[0]
    control = tmp_path / "control"
    run(["dpkg-deb", "-e", lib, control])
    # No maintainer script; ldconfig runs through its trigger.
    assert sorted(p.name for p in control.iterdir()) == ["control", "md5sums", "shlibs", "symbols", "triggers"]
    triggers = [line.split("#")[0].strip() for line in (control / "triggers").read_text().splitlines()]
    assert [t for t in triggers if t] == ["activate-noawait ldconfig"]
    assert (control / "shlibs").read_text() == f"libkeywheel 0 {LIB_PKG} (>= {upstream})\n"
    # The symbols file lists exactly the functions of include/keywheel.h, each since this version.
    symbols = (control / "symbols").read_text().splitlines()
    assert symbols[:2] == [f"libkeywheel.so.0 {LIB_PKG} #MINVER#", f"* Build-Depends-Package: {DEV_PKG}"]
    header = (ROOT / "include/keywheel.h").read_text()
    functions = sorted(set(re.findall(r"\b(keywheel_[a-z0-9_]+)\(", header)))
    assert sorted(line.split()[0] for line in symbols[2:]) == [f"{f}@Base" for f in functions]
    assert all(line.split()[1] == upstream for line in symbols[2:]), symbols
    # The library's own Depends are what dpkg-shlibdeps finds for it (libc6, libgcc-s1).
    shl = tmp_path / "shl"
    (shl / "debian").mkdir(parents=True)
    (shl / "debian/control").write_text("")
    tree = tmp_path / "tree"
    run(["dpkg-deb", "-x", lib, tree])
    so = tree / f"usr/lib/{MULTIARCH}/libkeywheel.so.{VERSION}"
    assert "SONAME               libkeywheel.so.0\n" in run(["objdump", "-p", so]).stdout
    assert os.readlink(tree / f"usr/lib/{MULTIARCH}/libkeywheel.so.0") == f"libkeywheel.so.{VERSION}"
    computed = run(["dpkg-shlibdeps", "-O", so], cwd=shl).stdout
    computed = re.search(r"^shlibs:Depends=(.*)$", computed, re.M).group(1)
    fields = run(["dpkg-deb", "-f", lib, "Section", "Depends", "Multi-Arch"]).stdout
    assert fields == f"Section: libs\nDepends: {computed}\nMulti-Arch: same\n", (fields, computed)
    fields = run(["dpkg-deb", "-f", dev, "Section", "Depends", "Multi-Arch"]).stdout
    assert fields == f"Section: libdevel\nDepends: {LIB_PKG} (= {deb_version}), libssl-dev\nMulti-Arch: same\n"


@pytest.fixture(scope="module")
def libs_installed(debs):
    """libkeywheel0 and libkeywheel-dev of this build installed; purged at the end."""
    try:
        apt_install(debs["current"][LIB_PKG], debs["current"][DEV_PKG])
        yield
    finally:
        subprocess.run([*APT, "purge", LIB_PKG, DEV_PKG], env=ENV, capture_output=True)
        assert status(LIB_PKG) == status(DEV_PKG) == "not-installed"


def test_library_files_and_ldconfig(libs_installed):
    assert package_files(LIB_PKG) == sorted(LIB_FILES)
    assert package_files(DEV_PKG) == sorted(DEV_FILES)
    lib = Path(f"/usr/lib/{MULTIARCH}")
    assert os.readlink(lib / "libkeywheel.so.0") == f"libkeywheel.so.{VERSION}"
    assert os.readlink(lib / "libkeywheel.so") == "libkeywheel.so.0"
    assert oct((lib / f"libkeywheel.so.{VERSION}").stat().st_mode & 0o777) == "0o644"
    # The trigger ran ldconfig: the cache knows the SONAME (under /lib or /usr/lib: /lib is a
    # link to usr/lib on a merged-/usr system).
    cached = re.findall(r"^\s+libkeywheel\.so\.0 \(.*\) => (\S+)$", ldconfig_cache(), re.M)
    assert [os.path.realpath(c) for c in cached] == [str(lib / f"libkeywheel.so.{VERSION}")], ldconfig_cache()


def test_c_example_builds_against_the_installed_library(libs_installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "C_INCLUDE_PATH")}
    example = Path(f"/usr/share/doc/{DEV_PKG}/examples/ticket_names.c")
    assert example.read_text() == (ROOT / "examples/c/ticket_names.c").read_text()

    def pkg(*args):
        return run(["pkg-config", *args], env=env).stdout.split()

    assert pkg("--cflags", "keywheel") == [] or pkg("--cflags", "keywheel") == ["-I/usr/include"]
    assert pkg("--libs", "keywheel") == ["-lkeywheel"]
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
    # The program records the SONAME, and the dynamic linker finds it in the system directory.
    assert "NEEDED               libkeywheel.so.0\n" in run(["objdump", "-p", shared]).stdout
    ldd = run(["ldd", shared], env=env).stdout
    found = re.findall(r"^\s+libkeywheel\.so\.0 => (\S+) ", ldd, re.M)
    assert [os.path.realpath(f) for f in found] == [f"/usr/lib/{MULTIARCH}/libkeywheel.so.{VERSION}"], ldd
    assert found[0].endswith(f"/{MULTIARCH}/libkeywheel.so.0"), ldd  # through the SONAME link
    assert "libkeywheel" not in run(["ldd", static], env=env).stdout
    for exe in (shared, static):
        out = run([exe, key, label, interval, 1, now], env=env).stdout.splitlines()
        assert out[1:] == expected, out
    # The OpenSSL callback library links too (keywheel-openssl.pc requires libssl, libcrypto).
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", f"/usr/share/doc/{DEV_PKG}/examples/server.c",
         *pkg("--cflags", "--libs", "keywheel-openssl"), "-o", tmp_path / "server"], env=env)
    header_version = re.search(r'#define KEYWHEEL_VERSION_STRING "([^"]+)"',
                               Path("/usr/include/keywheel.h").read_text()).group(1)
    assert pkg("--modversion", "keywheel") == [header_version]


def test_library_upgrade_and_purge(debs, libs_installed):
    """From the previous build to this one and back to nothing: the links follow, ldconfig's
    cache too, purge leaves no file."""
    purge(LIB_PKG, DEV_PKG)
    assert "libkeywheel.so.0 " not in ldconfig_cache()
    apt_install(debs["prev1"][LIB_PKG], debs["prev1"][DEV_PKG])
    assert run(["dpkg-query", "-W", "-f=${Version}", LIB_PKG]).stdout == "0.1.0~prev1-1"
    apt_install(debs["current"][LIB_PKG], debs["current"][DEV_PKG])
    assert status(LIB_PKG) == status(DEV_PKG) == "installed"
    assert package_files(LIB_PKG) == sorted(LIB_FILES) and package_files(DEV_PKG) == sorted(DEV_FILES)
    assert "libkeywheel.so.0 " in ldconfig_cache()
    purge(LIB_PKG, DEV_PKG)
    assert status(LIB_PKG) == status(DEV_PKG) == "not-installed"
    leftovers = [f for f in LIB_FILES + DEV_FILES if os.path.lexists(f)]
    assert leftovers == [], leftovers
    for d in (f"/usr/share/doc/{LIB_PKG}", f"/usr/share/doc/{DEV_PKG}", f"/usr/lib/{MULTIARCH}/libkeywheel.so.0"):
        assert not os.path.lexists(d), d
    assert "libkeywheel" not in ldconfig_cache()
    assert not list(Path("/var/lib/dpkg/info").glob("libkeywheel*"))


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
    current, prev1, prev2 = debs["current"][PKG], debs["prev1"][PKG], debs["prev2"]
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
    key.write_bytes(os.urandom(32))
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
    """The module's package of the same build."""
    return debs["current"][APACHE_PKG]


def test_apache_module_control_fields(apache_deb, debs, tmp_path):
    fields = run(["dpkg-deb", "-f", apache_deb, "Package", "Section", "Depends"]).stdout
    assert f"Package: {APACHE_PKG}\n" in fields and "Section: httpd\n" in fields
    # None of keywheel's own fields (Conflicts/Replaces/Provides tofurkey).
    control = run(["dpkg-deb", "-f", apache_deb]).stdout
    for field in ("Conflicts", "Replaces", "Provides", "Breaks", "Suggests"):
        assert not re.search(rf"^{field}:", control, re.M), control
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1).split(", ")
    # The module links the shared library by its SONAME, and libssl.
    tree = tmp_path / "tree"
    run(["dpkg-deb", "-x", apache_deb, tree])
    module = tree / "usr/lib/apache2/modules/mod_keywheel.so"
    needed = run(["objdump", "-p", module]).stdout
    assert "NEEDED               libkeywheel.so.0\n" in needed and "NEEDED               libssl.so.3\n" in needed, needed
    assert "keywheel_ticket_keys_new" not in run(["nm", "-D", "--defined-only", module]).stdout  # not linked in
    # Depends: what dpkg-shlibdeps finds for the module (libc6, libkeywheel0 through the symbols
    # file of the libkeywheel0 package of this build, libssl3) and Apache 2.4's module ABI.
    lib = tmp_path / "libkeywheel0"
    run(["dpkg-deb", "-R", debs["current"][LIB_PKG], lib])
    shl = tmp_path / "shl"
    (shl / "debian").mkdir(parents=True)
    (shl / "debian/control").write_text("")
    computed = run(["dpkg-shlibdeps", "-O", f"-l{lib}/usr/lib/{MULTIARCH}", module], cwd=shl).stdout
    computed = re.search(r"^shlibs:Depends=(.*)$", computed, re.M).group(1).split(", ")
    upstream = run(["dpkg-deb", "-f", apache_deb, "Version"]).stdout.strip().rsplit("-", 1)[0]
    assert f"{LIB_PKG} (>= {upstream})" in computed, computed
    assert sorted(depends) == sorted([*computed, "apache2-api-20120211"]), (depends, computed)
    assert any(d.startswith("libssl3") for d in depends), depends


def test_apache_module_enables_and_purges(apache_deb, debs, tmp_path):
    if status(APACHE_PKG) != "not-installed":
        pytest.fail(f"{APACHE_PKG} is already on this machine ({status(APACHE_PKG)}); remove it first")
    system_enabled = sorted(os.listdir("/etc/apache2/mods-enabled"))
    try:
        # apt takes libkeywheel0 (which the module depends on) from the same build.
        apt_install(apache_deb, debs["current"][LIB_PKG])
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

        run([*APT, "purge", APACHE_PKG, LIB_PKG], env=ENV)
        assert status(APACHE_PKG) == status(LIB_PKG) == "not-installed"
        leftovers = [f for f in APACHE_FILES if os.path.lexists(f)]
        assert leftovers == [], leftovers
        assert not os.path.lexists(f"/usr/share/doc/{APACHE_PKG}")
        assert not list(Path("/var/lib/dpkg/info").glob(f"{APACHE_PKG}.*"))
        assert not [p for p in Path("/var/lib/apache2").rglob("keywheel*")], "apache2 state left"
        assert sorted(os.listdir("/etc/apache2/mods-enabled")) == system_enabled
    finally:
        if status(APACHE_PKG) != "not-installed" or status(LIB_PKG) != "not-installed":
            subprocess.run([*APT, "purge", APACHE_PKG, LIB_PKG], env=ENV, capture_output=True)
