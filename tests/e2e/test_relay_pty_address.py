"""PTY addresses as socat has them: terminal options (raw, echo=0, ...) do not
end the relay, the slave may be opened and closed any number of times, and
the links go when the relay is stopped.

Applying terminal options opens the pty's slave; a pty master whose slave was
opened and closed again reads EIO (a hang-up, the relay's EOF) until another
slave is opened. The PTY endpoint holds a slave descriptor of its own for its
whole life, as socat's openpty does, so a PTY address never reaches EOF from
its slave side."""
import os
import select
import signal
import subprocess
import termios
import time

from conftest import wait_path


def read_until(fd, want, timeout=10.0):
    """Reads the non-blocking descriptor `fd` until `want` has arrived."""
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(want) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            continue
        if not data:
            break
        got += data
    return got


def open_slave(path):
    """Opens a PTY address's slave as a user would (never our terminal)."""
    return os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)


def write_and_close(path, data):
    """`echo ... > link`: opens the slave, writes, closes it again."""
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def assert_carries(writer_link, reader_link, data):
    """`data` written to one PTY's slave (then closed) is read from the other's."""
    reader = open_slave(reader_link)
    try:
        write_and_close(writer_link, data)
        assert read_until(reader, data) == data
    finally:
        os.close(reader)


def start_pty_pair(vmcat, spawn, tmp, options=",raw,echo=0"):
    a, b = tmp / "a", tmp / "b"
    relay = spawn([vmcat, "relay", f"PTY,link={a}{options}", f"PTY,link={b}{options}"])
    wait_path(a)
    wait_path(b)
    return relay, a, b


def test_raw_pty_pair_carries_data_both_ways(vmcat, spawn, tmp):
    relay, a, b = start_pty_pair(vmcat, spawn, tmp)
    time.sleep(0.2)
    assert relay.p.poll() is None, relay.stop()
    assert_carries(a, b, b"over pty\n")
    # Both slaves have been opened and closed: the relay still carries data,
    # the other way now.
    assert_carries(b, a, b"and back\n")
    assert relay.p.poll() is None, relay.stop()
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM, err


def test_raw_pty_to_stdout_receives_what_the_slave_writes(vmcat, spawn, tmp):
    link = tmp / "x"
    relay = spawn([vmcat, "relay", "-t", "0.5", f"PTY,link={link},raw,echo=0", "-"],
                  stdin=subprocess.PIPE)
    wait_path(link)
    time.sleep(0.2)
    assert relay.p.poll() is None, relay.stop()
    write_and_close(link, b"from-slave\n")
    # stdin's EOF ends the relay -t 0.5 s later, with what the slave wrote.
    rc, out, err = relay.stop_after_input(b"")
    assert (rc, out, err) == (0, b"from-slave\n", b"")
    assert not os.path.lexists(link)


def test_plain_pty_survives_one_writer_after_another(vmcat, spawn, tmp):
    link = tmp / "x"
    relay = spawn([vmcat, "relay", f"PTY,link={link}", "-"], stdin=subprocess.PIPE)
    wait_path(link)
    write_and_close(link, b"one\n")
    # The first writer's close is no EOF: the relay still runs and the next
    # writer gets through too (`echo one > x; echo two > x`).
    out_fd = relay.p.stdout.fileno()
    os.set_blocking(out_fd, False)
    # A terminal's output processing (onlcr) makes the newline \r\n.
    assert read_until(out_fd, b"one\r\n") == b"one\r\n"
    write_and_close(link, b"two\n")
    assert read_until(out_fd, b"two\r\n") == b"two\r\n"
    assert relay.p.poll() is None
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM, err


def test_links_removed_when_the_relay_is_stopped(vmcat, spawn, tmp):
    relay, a, b = start_pty_pair(vmcat, spawn, tmp)
    time.sleep(0.3)
    assert relay.p.poll() is None, relay.stop()
    assert os.path.islink(a) and os.path.islink(b)
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM, err
    assert not os.path.lexists(a)
    assert not os.path.lexists(b)


def test_other_sides_eof_ends_the_relay_half_a_second_later(vmcat, spawn, tmp):
    # A PTY address never reads an EOF, so after the other side's EOF the
    # relay waits socat's default half-close time (0.5 s) for what the slave
    # still writes, then ends.
    link = tmp / "x"
    relay = spawn([vmcat, "relay", f"PTY,link={link},raw,echo=0", "-"], stdin=subprocess.PIPE)
    wait_path(link)
    reader = open_slave(link)
    try:
        relay.p.stdin.write(b"to-slave\n")
        relay.p.stdin.flush()
        assert read_until(reader, b"to-slave\n") == b"to-slave\n"
        started = time.monotonic()
        rc, out, err = relay.stop_after_input(b"")
        assert (rc, out, err) == (0, b"", b"")
        assert 0.4 < time.monotonic() - started < 5
    finally:
        os.close(reader)


def line_settings(path):
    """(output speed, character size bits, parity on, two stop bits) of the
    terminal at `path`, as `stty -F path` would show them."""
    fd = open_slave(path)
    try:
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    return ospeed, cflag & termios.CSIZE, bool(cflag & termios.PARENB), bool(cflag & termios.CSTOPB)


def test_serial_line_options_on_a_pty(vmcat, spawn, tmp):
    # A simulated serial port: speed and 2 stop bits. (Linux keeps a pty at
    # 8 bits without parity whatever it is told: cs7 and parenb are unit-tested
    # in ApplyTermiosSettings.)
    link = tmp / "ttyS"
    relay = spawn([vmcat, "relay", f"PTY,link={link},b9600,cs8,cstopb,raw,echo=0", "-"],
                  stdin=subprocess.PIPE)
    wait_path(link)
    assert line_settings(link) == (termios.B9600, termios.CS8, False, True)
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM, err


def test_serial_line_options_on_an_opened_terminal(vmcat, spawn):
    # `socat /dev/ttyS0,b115200,raw,echo=0 -`: the line's speed is set while
    # the relay has it open, and carries data at that setting.
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        relay = spawn([vmcat, "relay", f"{path},b115200,cs8,parenb=0,raw,echo=0", "-"],
                      stdin=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while line_settings(path)[0] != termios.B115200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert line_settings(path) == (termios.B115200, termios.CS8, False, False)
        os.write(master, b"from the line\n")
        out_fd = relay.p.stdout.fileno()
        os.set_blocking(out_fd, False)
        assert read_until(out_fd, b"from the line\n") == b"from the line\n"
        rc, _, err = relay.stop()
        assert rc == 128 + signal.SIGTERM, err
    finally:
        os.close(master)


def test_unknown_line_speed_is_refused(vmcat):
    r = subprocess.run([vmcat, "relay", "PTY,b12345", "-"], capture_output=True, timeout=10)
    assert r.returncode == 1
    assert b'address 1 "PTY,b12345": option "b12345": "12345" is not a line speed' in r.stderr
