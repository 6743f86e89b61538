"""Bad input to `vmcat relay`: each mistake gives exit status 1 and one clear
line on stderr naming the address (number and text), the part at fault and
the reason. Exit status 0 only on success."""
import socket
import subprocess

import pytest

from conftest import free_port

LONG_PATH = "/tmp/" + "x" * 120


def run_relay(vmcat, *args, input=b""):
    return subprocess.run([vmcat, "relay", *args], input=input, capture_output=True,
                          timeout=15)


def assert_one_error(r, address_number, address_text, *reasons):
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert r.stdout == b""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    line = lines[0]
    prefix = f'vmcat: address {address_number} "{address_text}": '
    assert line.startswith(prefix), line
    for reason in reasons:
        assert reason in line, line


@pytest.mark.parametrize("address, reasons", [
    # unknown address type
    ("FOO:bar", ['unknown address type "FOO"']),
    ("TCP-LISTN:80", ['unknown address type "TCP-LISTN"']),
    # missing / extra parameters
    ("TCP:localhost", ["TCP takes 2 parameters (<host>:<port>), got 1"]),
    ("UNIX-CONNECT", ["UNIX-CONNECT takes 1 parameter (<path>), got 0"]),
    ("TCP-LISTEN:80:81", ["TCP-LISTEN takes 1 parameter (<port>), got 2"]),
    ("EXEC:", ["EXEC: empty <command-line>"]),
    # unknown option
    ("TCP:127.0.0.1:9,forkk", ['unknown option "forkk"']),
    # option not valid for that address
    ("TCP:127.0.0.1:9,mode=600", ['option "mode" is not valid for TCP']),
    ("UNIX-CONNECT:/tmp/x.sock,pty", ['option "pty" is not valid for UNIX-CONNECT']),
    # fork on a non-listening address
    ("TCP:127.0.0.1:9,fork", ['option "fork" is not valid for TCP']),
    ("EXEC:cat,fork", ['option "fork" is not valid for EXEC']),
    # bad option values
    ("TCP:127.0.0.1:9,connect-timeout=abc",
     ['option "connect-timeout": bad value "abc"', "seconds"]),
    ("TCP-LISTEN:9,max-children=0", ['option "max-children": bad value "0"']),
    ("-,escape=0x1ff", ['option "escape": bad value "0x1ff"', "0 to 255"]),
    ("UNIX-LISTEN:/tmp/x.sock,mode=9", ['option "mode": bad value "9"', "octal"]),
    ("TCP:127.0.0.1:9,connect-timeout", ['option "connect-timeout" needs a value']),
    ("TCP:127.0.0.1:70000", ["port 70000 out of range (0-65535)"]),
    ("TCP-LISTEN:65536", ["port 65536 out of range (0-65535)"]),
    # grammar
    ("EXEC:'bash", ["unterminated ' quote"]),
    ("FD:x", ['bad file descriptor number "x"']),
])
def test_address_syntax_errors(vmcat, address, reasons):
    r = run_relay(vmcat, "-", address)
    assert_one_error(r, 2, address, *reasons)


def test_error_in_address_1_names_address_1(vmcat):
    r = run_relay(vmcat, "TCP-LISTEN:1,fork,reuseaddr,bogus", "-")
    assert_one_error(r, 1, "TCP-LISTEN:1,fork,reuseaddr,bogus", 'unknown option "bogus"')


def test_unix_path_too_long(vmcat):
    for address in (f"UNIX-CONNECT:{LONG_PATH}", f"UNIX-LISTEN:{LONG_PATH}"):
        r = run_relay(vmcat, "-", address)
        assert_one_error(r, 2, address, "UNIX socket path too long", "125 bytes",
                         "at most 107")


def test_connection_refused(vmcat):
    port = free_port()
    address = f"TCP:127.0.0.1:{port}"
    r = run_relay(vmcat, "-", address, input=b"lost\n")
    assert_one_error(r, 2, address, f"connect 127.0.0.1:{port}", "Connection refused")


def test_unix_connect_to_missing_socket(vmcat, tmp):
    address = f"UNIX-CONNECT:{tmp}/missing.sock"
    r = run_relay(vmcat, "-", address)
    assert_one_error(r, 2, address, f"{tmp}/missing.sock", "No such file or directory")


def test_address_in_use(vmcat):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        address = f"TCP4-LISTEN:{port}"
        r = run_relay(vmcat, address, "-")
        assert_one_error(r, 1, address, f"bind 0.0.0.0:{port}", "Address already in use")


def test_unix_listen_on_a_path_in_use_keeps_the_other_socket(vmcat, tmp):
    path = tmp / "busy.sock"
    with socket.socket(socket.AF_UNIX) as holder:
        holder.bind(str(path))
        holder.listen(1)
        address = f"UNIX-LISTEN:{path}"
        r = run_relay(vmcat, address, "-")
        assert_one_error(r, 1, address, "Address already in use")
        assert path.exists(), "the other program's socket file must not be removed"


@pytest.mark.parametrize("command", ["/nonexistent/program", "no-such-program-vmcat"])
def test_exec_of_a_missing_program(vmcat, command):
    address = f"EXEC:{command} --flag"
    r = run_relay(vmcat, "-", address)
    assert_one_error(r, 2, address, f'exec "{command}"', "No such file or directory")


def test_fork_with_stdio_on_the_other_side(vmcat):
    port = free_port()
    r = run_relay(vmcat, f"TCP-LISTEN:{port},fork", "-")
    assert_one_error(r, 2, "-", "with fork", "standard I/O")


@pytest.mark.parametrize("args, reason", [
    (["-"], "expected 2 addresses, got 1"),
    (["-", "-", "-"], "expected 2 addresses, got 3"),
    (["-t", "soon", "-", "-"], 'option -t: bad value "soon"'),
    (["-q", "-", "-"], 'unknown option "-q"'),
])
def test_command_line_errors(vmcat, args, reason):
    r = run_relay(vmcat, *args)
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmcat: ") and reason in lines[0], lines


def test_success_is_exit_status_0(vmcat):
    r = run_relay(vmcat, "-", "PIPE", input=b"fine\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"fine\n", b"")
