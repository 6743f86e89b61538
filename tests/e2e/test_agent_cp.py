"""vmcat cp end to end: files and trees into and out of a real QEMU guest
(TCG) through the agent, checksummed; and the failures a user meets (missing
files, permissions, a full disk, no agent), each with a clear message and
nothing half-written left behind."""
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from vmlib import VmRunner, build_image

pytestmark = pytest.mark.vm

VM = "cpvm"
BIG = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def image(vmcat):
    # The guest runs the agent of the binary under test.
    out = tempfile.mkdtemp(prefix="vmcat-cp-image-", dir="/tmp")
    yield build_image(vmcat=vmcat, out=out)
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def vms(vmcat, image):
    runner = VmRunner(vmcat, image)
    yield runner
    runner.cleanup()


@pytest.fixture(scope="module")
def vm(vms):
    vms.up(VM, "--mem", "512M", agent=True)
    r = vms.run("wait", VM, timeout=90)
    assert r.returncode == 0, r.stderr
    return VM


def guest(vms, script, check=True):
    r = vms.run("exec", VM, "--", "sh", "-c", script)
    if check:
        assert r.returncode == 0, f"{script}: {r.stderr}"
    return r


def cp(vms, *args, **kw):
    return vms.run("cp", *args, timeout=kw.pop("timeout", 300), **kw)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot(root):
    """Name -> (kind, mode, contents or link target) for a whole tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            mode = oct(stat.S_IMODE(st.st_mode))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode)
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", mode, int(st.st_mtime), f.read())
    return out


def test_big_file_in_and_out_checksummed(vms, vm, tmp):
    src = tmp / "big.bin"
    with open(src, "wb") as f:
        f.write(os.urandom(BIG))
    want = sha256(src)

    start = time.monotonic()
    r = cp(vms, str(src), f"{VM}:/tmp/big.bin")
    into = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""  # quiet on success, like cp
    in_guest = guest(vms, "sha256sum /tmp/big.bin").stdout.split()[0]
    assert in_guest == want

    back = tmp / "back.bin"
    start = time.monotonic()
    r = cp(vms, f"{VM}:/tmp/big.bin", str(back))
    out_of = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert sha256(back) == want
    print(f"\nvmcat cp 50 MiB: into the guest {into:.2f} s ({BIG / into / 1e6:.1f} MB/s), "
          f"out of it {out_of:.2f} s ({BIG / out_of / 1e6:.1f} MB/s)")
    guest(vms, "rm -f /tmp/big.bin")


def make_tree(root):
    os.makedirs(root / "sub" / "deeper")
    (root / "secret.txt").write_text("only me\n")
    os.chmod(root / "secret.txt", 0o600)
    (root / "run.sh").write_text("#!/bin/sh\necho ran-$((20+22))\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "empty").write_bytes(b"")
    (root / "sub" / "deeper" / "data.bin").write_bytes(os.urandom(300 * 1024 + 5))
    (root / "sub" / "notes.md").write_text("# notes\n")
    os.symlink("secret.txt", root / "link")
    os.symlink("/nowhere/at/all", root / "dangling")
    os.chmod(root / "sub" / "deeper", 0o700)
    os.chmod(root / "sub", 0o750)
    os.chmod(root, 0o755)


def test_tree_in_and_out_keeps_names_modes_contents_and_links(vms, vm, tmp):
    tree = tmp / "tree"
    make_tree(tree)
    guest(vms, "rm -rf /tmp/trees && mkdir /tmp/trees")
    r = cp(vms, str(tree), f"{VM}:/tmp/trees")  # an existing directory: goes inside
    assert r.returncode == 0, r.stderr

    # In the guest, as the guest sees it.
    listing = guest(vms, "cd /tmp/trees/tree && stat -c '%n %a' . sub sub/deeper secret.txt "
                         "run.sh empty && readlink link && readlink dangling && ./run.sh && "
                         "sha256sum sub/deeper/data.bin").stdout.splitlines()
    assert listing[:6] == [". 755", "sub 750", "sub/deeper 700", "secret.txt 600",
                           "run.sh 755", "empty 644"]
    assert listing[6:9] == ["secret.txt", "/nowhere/at/all", "ran-42"]
    assert listing[9].split()[0] == sha256(tree / "sub" / "deeper" / "data.bin")
    assert guest(vms, "ls -A /tmp/trees/tree | grep -c vmcat-", check=False).stdout.strip() == "0"

    back = tmp / "back"
    r = cp(vms, f"{VM}:/tmp/trees/tree", str(back))  # a new name
    assert r.returncode == 0, r.stderr
    assert snapshot(back) == snapshot(tree)
    assert oct(stat.S_IMODE(os.stat(back).st_mode)) == "0o755"


def test_destination_rules(vms, vm, tmp):
    (tmp / "a.txt").write_text("a")
    (tmp / "b.txt").write_text("b")
    guest(vms, "rm -rf /tmp/rules && mkdir /tmp/rules && echo old > /tmp/rules/file")
    assert cp(vms, str(tmp / "a.txt"), f"{VM}:/tmp/rules/new.txt").returncode == 0
    assert cp(vms, str(tmp / "a.txt"), str(tmp / "b.txt"), f"{VM}:/tmp/rules/").returncode == 0
    assert cp(vms, str(tmp / "b.txt"), f"{VM}:/tmp/rules/file").returncode == 0  # replaced
    r = guest(vms, "cd /tmp/rules && for f in new.txt a.txt b.txt file; do cat $f; echo; done")
    assert r.stdout.split() == ["a", "a", "b", "b"]
    several = cp(vms, str(tmp / "a.txt"), str(tmp / "b.txt"), f"{VM}:/tmp/rules/file")
    assert several.returncode == 1
    assert f"{VM}:/tmp/rules/file: Not a directory" in several.stderr
    # Out of the guest: several sources into a local directory.
    out = tmp / "out"
    out.mkdir()
    r = cp(vms, f"{VM}:/tmp/rules/a.txt", f"{VM}:/tmp/rules/b.txt", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt"]


def test_missing_source_either_way(vms, vm, tmp):
    r = cp(vms, str(tmp / "nope.txt"), f"{VM}:/tmp/")
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {tmp}/nope.txt: No such file or directory\n"
    r = cp(vms, f"{VM}:/tmp/nope.txt", str(tmp))
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {VM}:/tmp/nope.txt: No such file or directory\n"
    assert os.listdir(tmp) == []
    (tmp / "x").write_text("x")
    r = cp(vms, str(tmp / "x"), f"{VM}:/no/such/dir/x")
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {VM}:/no/such/dir: No such file or directory\n"


def test_permission_denied_in_the_guest(vms, vm, tmp):
    """The agent runs as root; -u makes the guest's permissions apply."""
    (tmp / "f.txt").write_text("data")
    guest(vms, "mkdir -p /tmp/rootonly && chmod 755 /tmp/rootonly && "
               "echo secret > /tmp/secret && chmod 600 /tmp/secret")
    r = cp(vms, "-u", "nobody", str(tmp / "f.txt"), f"{VM}:/tmp/rootonly/")
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {VM}:/tmp/rootonly/f.txt: create: Permission denied\n"
    assert guest(vms, "ls -A /tmp/rootonly").stdout == ""
    r = cp(vms, "-u", "nobody", f"{VM}:/tmp/secret", str(tmp / "secret"))
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {VM}:/tmp/secret: open: Permission denied\n"
    assert not (tmp / "secret").exists()
    # Where nobody may write, the files are its own.
    assert cp(vms, "-u", "nobody", str(tmp / "f.txt"), f"{VM}:/tmp/").returncode == 0
    assert guest(vms, "stat -c %U /tmp/f.txt").stdout.strip() == "nobody"
    # Even root cannot write to a read-only mount.
    guest(vms, "mkdir -p /mnt/ro && mount -t tmpfs -o ro,size=1m tmpfs /mnt/ro")
    r = cp(vms, str(tmp / "f.txt"), f"{VM}:/mnt/ro/")
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {VM}:/mnt/ro/f.txt: create: Read-only file system\n"


def no_dac(vms):
    """Runs vmcat as root without the capabilities that bypass permissions."""
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", vms.vmcat]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
def test_permission_denied_on_the_host(vms, vm, tmp):
    unreadable = tmp / "unreadable"
    unreadable.write_text("x")
    os.chmod(unreadable, 0)
    r = subprocess.run(no_dac(vms) + ["cp", str(unreadable), f"{VM}:/tmp/"], env=vms.env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {unreadable}: open: Permission denied\n"
    readonly = tmp / "ro"
    readonly.mkdir()
    os.chmod(readonly, 0o555)
    guest(vms, "echo hi > /tmp/hi.txt")
    r = subprocess.run(no_dac(vms) + ["cp", f"{VM}:/tmp/hi.txt", str(readonly)], env=vms.env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {readonly}/hi.txt: create: Permission denied\n"
    assert os.listdir(readonly) == []


def test_guest_disk_full_leaves_no_partial_file(vms, vm, tmp):
    guest(vms, "mkdir -p /mnt/small && mount -t tmpfs -o size=1m tmpfs /mnt/small")
    two = tmp / "two.bin"
    two.write_bytes(os.urandom(2 * 1024 * 1024))
    r = cp(vms, str(two), f"{VM}:/mnt/small/")
    assert r.returncode == 1
    assert r.stderr == f"vmcat: cp: {VM}:/mnt/small/two.bin: write: No space left on device\n"
    assert guest(vms, "ls -A /mnt/small").stdout == ""
    # A tree stops at the first file that does not fit and is undone.
    tree = tmp / "tree"
    tree.mkdir()
    (tree / "a-small").write_bytes(b"s" * 1000)
    (tree / "b-big").write_bytes(os.urandom(2 * 1024 * 1024))
    r = cp(vms, str(tree), f"{VM}:/mnt/small/")
    assert r.returncode == 1
    assert "No space left on device" in r.stderr
    assert guest(vms, "ls -A /mnt/small").stdout == ""
    guest(vms, "umount /mnt/small")


def test_killed_copy_leaves_nothing_in_the_guest(vms, vm, tmp):
    src = tmp / "big.bin"
    with open(src, "wb") as f:
        f.write(os.urandom(BIG))
    guest(vms, "rm -rf /tmp/k && mkdir /tmp/k")
    p = subprocess.Popen([vms.vmcat, "cp", str(src), f"{VM}:/tmp/k/"], env=vms.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Until its temporary file shows up: the copy is then mid-way.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            if ".vmcat-" in guest(vms, "ls -A /tmp/k").stdout:
                break
            time.sleep(0.05)
        assert p.poll() is None, "the copy ended before it could be interrupted"
        p.kill()
    finally:
        p.wait()
        p.stderr.close()
    deadline = time.monotonic() + 10
    while guest(vms, "ls -A /tmp/k").stdout != "" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert guest(vms, "ls -A /tmp/k").stdout == ""


def test_special_files(vms, vm, tmp):
    tree = tmp / "t"
    tree.mkdir()
    (tree / "f").write_text("f")
    os.mkfifo(tree / "pipe")
    r = cp(vms, str(tree), f"{VM}:/tmp/")
    assert r.returncode == 0, r.stderr
    assert r.stderr == (f"vmcat: cp: warning: {tree}/pipe: skipped a FIFO "
                        "(only files, directories and symlinks)\n")
    assert guest(vms, "ls -A /tmp/t").stdout == "f\n"
    r = cp(vms, str(tree / "pipe"), f"{VM}:/tmp/")
    assert r.returncode == 1
    assert "cannot copy a FIFO" in r.stderr


def test_agent_unreachable(vms, vm, tmp):
    (tmp / "f").write_text("f")
    vms.up("noagent", "--mem", "128M", wait_ready=False)
    r = cp(vms, str(tmp / "f"), "noagent:/tmp/")
    assert r.returncode == 1
    assert r.stderr.startswith("vmcat: cp: noagent: ")
    assert "without the agent channel" in r.stderr
    vms.run("stop", "--force", "noagent", timeout=30)
    r = vms.run("cp", "--vsock", str(tmp / "no.sock"), str(tmp / "f"), ":/tmp/")
    assert r.returncode == 1
    assert r.stderr == (f"vmcat: cp: hybrid vsock {tmp}/no.sock port 5225: connect "
                        f"{tmp}/no.sock: No such file or directory\n")


def test_bad_operands(vms, tmp):
    r = vms.run("cp", "a", "b")
    assert r.returncode == 1 and "NAME:/path" in r.stderr
    r = vms.run("cp", f"{VM}:/a", f"{VM}:/b")
    assert r.returncode == 1 and "exactly one side" in r.stderr
    r = vms.run("cp", "a", f"{VM}:relative")
    assert r.returncode == 1 and "absolute" in r.stderr
    # The host accepts only the names it asked for, so it asks for real names.
    r = vms.run("cp", f"{VM}:/tmp/.", str(tmp))
    assert r.returncode == 1 and "name the directory itself" in r.stderr
