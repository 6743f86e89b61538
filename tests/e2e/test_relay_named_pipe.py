"""PIPE:<path> (named pipes) as socat 1.7.4 handles them: a writer waits for
a reader, a reader ends when the last writer closes, both directions echo
and end, a FIFO vmcat created is removed when it ends, and a path that is
not a FIFO is refused."""
import os
import select
import signal
import stat
import subprocess
import time

import pytest

from conftest import wait_for, wait_path


def read_fifo_until_eof(path, timeout=10.0):
    """Everything read from the FIFO at `path` until its last writer closes.

    Opens without blocking: a reader with no writer yet sees no event (and
    must not take read() == 0 for an EOF), EOF comes with POLLHUP."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        got = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no EOF on {path} after {timeout}s; read {len(got)} bytes"
            if not poller.poll(left * 1000):
                continue
            data = os.read(fd, 65536)
            if not data:
                return got
            got += data
    finally:
        os.close(fd)


def is_fifo(path):
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def open_fifo_writer(path, timeout=10.0):
    """A write descriptor for the FIFO at `path`, once something reads it."""
    def attempt():
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == 6:  # ENXIO: no reader yet
                return None
            raise
    return wait_for(attempt, timeout, what=f"a reader of {path}")


@pytest.mark.parametrize("payload", [b"x\n", bytes(range(256)) * 1200],
                         ids=["line", "300KB-binary"])
def test_writer_waits_for_a_reader_that_comes_later(vmcat, spawn, tmp, payload):
    fifo = tmp / "fifo"
    (tmp / "in").write_bytes(payload)  # a file: vmcat reads nothing before the open
    with open(tmp / "in", "rb") as stdin:
        relay = spawn([vmcat, "relay", "-u", "-", f"PIPE:{fifo}"], stdin=stdin)
    wait_path(fifo)
    assert is_fifo(fifo)
    time.sleep(0.3)
    # Nobody reads yet: the bytes must not be written into the void.
    assert relay.p.poll() is None, relay.p.stderr.read()
    got = read_fifo_until_eof(fifo)
    assert got == payload
    assert relay.p.wait(10) == 0
    assert relay.p.stderr.read() == b""
    assert not os.path.lexists(fifo)  # vmcat made it: vmcat removes it


def test_reader_ends_when_the_writer_closes(vmcat, spawn, tmp):
    fifo = tmp / "fifo"
    os.mkfifo(fifo, 0o600)
    relay = spawn([vmcat, "relay", "-u", f"PIPE:{fifo}", "STDOUT"])
    time.sleep(0.3)
    # No writer yet is not an EOF.
    assert relay.p.poll() is None, relay.p.stderr.read()
    fd = open_fifo_writer(fifo)
    os.write(fd, b"written-later\n")
    os.close(fd)
    rc, out, err = relay.p.wait(5), relay.p.stdout.read(), relay.p.stderr.read()
    assert (rc, out, err) == (0, b"written-later\n", b"")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # it was there before: kept


def test_reader_ends_when_a_writer_comes_and_goes_without_data(vmcat, spawn, tmp):
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    relay = spawn([vmcat, "relay", "-u", f"PIPE:{fifo}", "STDOUT"])
    time.sleep(0.2)
    assert relay.p.poll() is None, relay.p.stderr.read()
    os.close(open_fifo_writer(fifo))
    rc, out, err = relay.p.wait(5), relay.p.stdout.read(), relay.p.stderr.read()
    assert (rc, out, err) == (0, b"", b"")


@pytest.mark.parametrize("payload", [b"via-fifo\n", os.urandom(300_000)],
                         ids=["line", "300KB-binary"])
def test_both_directions_echo_and_end(vmcat, tmp, payload):
    fifo = tmp / "fifo"
    start = time.monotonic()
    r = subprocess.run([vmcat, "relay", "-", f"PIPE:{fifo}"], input=payload,
                       capture_output=True, timeout=10)
    elapsed = time.monotonic() - start
    assert (r.returncode, r.stdout, r.stderr) == (0, payload, b"")
    assert elapsed < 2.0, elapsed
    assert not os.path.lexists(fifo)


def test_fifo_cleanup_and_file_options(vmcat, spawn, tmp):
    # A FIFO that was there before is kept, and its mode left alone.
    kept = tmp / "kept"
    os.mkfifo(kept, 0o644)
    os.chmod(kept, 0o644)
    r = subprocess.run([vmcat, "relay", "-", f"PIPE:{kept},mode=600"], input=b"a\n",
                       capture_output=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"a\n", b"")
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o644

    # mode= applies exactly to a FIFO vmcat creates; it goes when vmcat ends,
    # also when vmcat is stopped while waiting for a reader.
    made = tmp / "made"
    relay = spawn([vmcat, "relay", "-u", "-", f"PIPE:{made},mode=600"], stdin=subprocess.PIPE)
    wait_path(made)
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o600
    time.sleep(0.2)
    assert relay.p.poll() is None, relay.p.stderr.read()
    relay.p.send_signal(signal.SIGTERM)
    relay.p.wait(10)
    assert not os.path.lexists(made)

    # unlink-early replaces what is there; unlink-close=0 keeps what vmcat made.
    early = tmp / "early"
    early.write_bytes(b"old")
    relay = spawn([vmcat, "relay", "-u", "-", f"PIPE:{early},unlink-early"],
                  stdin=subprocess.PIPE)
    relay.p.stdin.write(b"fresh\n")
    relay.p.stdin.close()
    wait_for(lambda: is_fifo(early), what=f"{early} to be a FIFO")
    assert read_fifo_until_eof(early) == b"fresh\n"
    assert relay.p.wait(10) == 0
    assert not os.path.lexists(early)

    stays = tmp / "stays"
    r = subprocess.run([vmcat, "relay", "-", f"PIPE:{stays},unlink-close=0"], input=b"b\n",
                       capture_output=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"b\n", b"")
    assert stat.S_ISFIFO(os.stat(stays).st_mode)


def test_bad_paths_are_refused_with_the_path_and_reason(vmcat, tmp):
    missing = tmp / "no-such-dir" / "fifo"
    r = subprocess.run([vmcat, "relay", "-u", "-", f"PIPE:{missing}"], input=b"lost\n",
                       capture_output=True, timeout=10)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == (f'vmcat: address 2 "PIPE:{missing}": mkfifo "{missing}": '
                        "No such file or directory\n").encode()

    regular = tmp / "regular"
    regular.write_bytes(b"precious\n")
    for argv in (["-u", "-", f"PIPE:{regular}"], ["-u", f"PIPE:{regular}", "-"]):
        r = subprocess.run([vmcat, "relay", *argv], input=b"clobber\n", capture_output=True,
                           timeout=10)
        n = 2 if argv[1] == "-" else 1
        assert (r.returncode, r.stdout) == (1, b""), r.stderr
        assert r.stderr == (f'vmcat: address {n} "PIPE:{regular}": "{regular}" exists and is '
                            "a regular file, not a named pipe (remove it, or add "
                            "unlink-early)\n").encode()
        assert regular.read_bytes() == b"precious\n"

    directory = tmp / "dir"
    directory.mkdir()
    r = subprocess.run([vmcat, "relay", "-u", f"PIPE:{directory}", "-"], capture_output=True,
                       timeout=10)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == (f'vmcat: address 1 "PIPE:{directory}": "{directory}" exists and is '
                        "a directory, not a named pipe (remove it, or add unlink-early)\n"
                        ).encode()
