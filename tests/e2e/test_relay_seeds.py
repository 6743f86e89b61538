"""The socat command lines of the seed articles that need no VM, run verbatim
with `vmcat relay` in place of `socat`, against real peers: QEMU's monitor
socket, a real terminal (tmux), bash on a pty, echo servers.

VSOCK-LISTEN / VSOCK-CONNECT to a kernel CID need a VM: the VM tests cover
them. Here only their argument checking (which must not touch vsock) and the
hybrid vsock handshake (a UNIX socket peer) are tested."""
import os
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import (assert_clean_exit_text, children_of, free_port, process_gone,
                      wait_for, wait_tcp_listening)

SEED_TERMINAL = "-,icanon=0,echo=0,isig=0,escape=0x0f"
SEED_EXEC = "EXEC:bash,pty,stderr,setsid,sigint,sane,ctty,echo=0"


# --------------------------------------------------------------------------
# Seed 000: the interactive console, in a real terminal.

# The file status flags of the terminal (O_NONBLOCK is shared with the shell:
# left set, the next program reading the terminal fails with EAGAIN).
FLAGS = ("/usr/bin/python3 -c 'import fcntl; print(fcntl.fcntl(0, fcntl.F_GETFL), "
         "fcntl.fcntl(1, fcntl.F_GETFL))'")


def start_console_session(tmux, tmp, vmcat, socket_path, first=SEED_TERMINAL):
    """Runs the seed's console command line in a tmux pane, recording the
    terminal settings before and after and the exit status."""
    script = tmp / "session.sh"
    script.write_text(
        f"cd {shlex.quote(str(tmp))}\n"
        "stty -a > before.txt\n"
        f"{FLAGS} > flags-before.txt\n"
        f"SOCKET={shlex.quote(str(socket_path))}\n"
        f"{shlex.quote(vmcat)} relay {first} UNIX-CONNECT:$SOCKET 2> err.txt\n"
        "echo $? > rc.tmp && mv rc.tmp rc.txt\n"
        f"{FLAGS} > flags-after.txt\n"
        "stty -a > after.txt\n"
        "echo SESSION-OVER\n"
        "exec sleep 600\n")
    return tmux(f"bash --norc --noprofile {shlex.quote(str(script))}")


def session_result(tmp, timeout=10.0):
    rc_file = tmp / "rc.txt"
    wait_for(rc_file.exists, timeout, what="the relay in the pane to exit")
    wait_for(lambda: (tmp / "after.txt").exists() and (tmp / "after.txt").stat().st_size > 0,
             5, what="stty -a after the session")
    return int(rc_file.read_text()), (tmp / "err.txt").read_text()


def assert_terminal_restored(tmp):
    before = (tmp / "before.txt").read_text()
    after = (tmp / "after.txt").read_text()
    assert "icanon" in before and " echo " in f" {before} ", before
    assert after == before
    assert (tmp / "flags-after.txt").read_text() == (tmp / "flags-before.txt").read_text()


def assert_terminal_changed(t):
    """While the relay runs, the pane's terminal is in the seed's mode (so a
    later equality with the settings from before is a real restore)."""
    settings = subprocess.run(["stty", "-a", "-F", t.pane_tty()], capture_output=True,
                              text=True, check=True).stdout
    words = settings.split()
    assert "-icanon" in words and "-echo" in words and "-isig" in words, settings


def relay_pid_in_pane(t):
    shell = t.pane_pid()
    kids = wait_for(lambda: [p for p, _ in children_of(shell)], 5, what="vmcat in the pane")
    return kids[0]


def test_console_escape_ctrl_o_ends_session_and_restores_terminal(vmcat, tmp, qemu, tmux):
    vm = qemu()
    t = start_console_session(tmux, tmp, vmcat, vm.monitor)
    t.wait_screen("(qemu)")
    assert_terminal_changed(t)

    # Typed text reaches QEMU (character by character: icanon=0), and its
    # answer appears in the pane.
    t.send("info status", literal=True)
    t.send("Enter")
    t.wait_screen("VM status: running")

    started = time.monotonic()
    t.send("C-o")
    rc, err = session_result(tmp, timeout=5)
    assert time.monotonic() - started < 2.0, "Ctrl-O did not end the session at once"
    assert rc == 0, err
    assert err == ""
    assert_terminal_restored(tmp)
    t.wait_screen("SESSION-OVER")
    # QEMU is untouched and serves the next client.
    out = subprocess.run([vmcat, "relay", "-", f"UNIX-CONNECT:{vm.monitor}"],
                         input=b"info status\n", capture_output=True, timeout=10)
    assert b"VM status: running" in out.stdout


def test_console_terminal_restored_after_sigterm(vmcat, tmp, qemu, tmux):
    vm = qemu()
    t = start_console_session(tmux, tmp, vmcat, vm.monitor)
    t.wait_screen("(qemu)")
    assert_terminal_changed(t)
    os.kill(relay_pid_in_pane(t), signal.SIGTERM)
    rc, err = session_result(tmp)
    assert rc == 128 + signal.SIGTERM
    assert_terminal_restored(tmp)
    assert_clean_exit_text(err)


def test_console_terminal_restored_when_server_closes(vmcat, tmp, qemu, tmux):
    vm = qemu()
    t = start_console_session(tmux, tmp, vmcat, vm.monitor)
    t.wait_screen("(qemu)")
    assert_terminal_changed(t)
    # "quit" makes QEMU exit: the server closes the connection under us.
    t.send("quit", literal=True)
    t.send("Enter")
    rc, err = session_result(tmp)
    assert rc == 0, err
    assert_terminal_restored(tmp)
    vm.p.wait(10)


# --------------------------------------------------------------------------
# Seed 003: the monitor, interactively (`socat - UNIX-CONNECT:...`, Ctrl-D
# ends it) and from a script.

def test_monitor_in_a_terminal_ctrl_d_ends_the_session(vmcat, tmp, qemu, tmux):
    vm = qemu()
    t = start_console_session(tmux, tmp, vmcat, vm.monitor, first="-")
    t.wait_screen("(qemu)")
    t.send("info status", literal=True)
    t.send("Enter")
    t.wait_screen("VM status: running")
    # Ctrl-D: end of our input; QEMU closes the monitor connection in
    # answer, and the session ends by itself.
    t.send("C-d")
    rc, err = session_result(tmp)
    assert rc == 0, err
    assert err == ""
    assert_terminal_restored(tmp)
    assert vm.p.poll() is None



def test_echo_info_status_to_qemu_monitor(vmcat, qemu):
    vm = qemu()
    # echo 'info status' | vmcat relay - UNIX-CONNECT:monitor.sock
    r = subprocess.run(f"echo 'info status' | {shlex.quote(vmcat)} relay - "
                       f"UNIX-CONNECT:{shlex.quote(str(vm.monitor))}",
                       shell=True, capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert b"VM status: running" in r.stdout
    assert r.stderr == b""


# --------------------------------------------------------------------------
# Seed 001: TCP4-LISTEN:4321,reuseaddr,fork to a TCP service (an echo server
# in place of sshd), with many concurrent clients.

def run_concurrent_clients(port, count, payload_size=16384, timeout=30):
    """`count` clients connect, wait for each other, send a distinct payload,
    half-close and read the echo. Returns the list of failures."""
    barrier = threading.Barrier(count, timeout=timeout)
    failures = []
    lock = threading.Lock()

    def client(i):
        rnd = random.Random(i)
        payload = f"client {i}:".encode() + rnd.randbytes(payload_size)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                barrier.wait()  # every client is connected before any sends
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = bytearray()
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            if bytes(got) != payload:
                raise AssertionError(f"got {len(got)} bytes, not its own {len(payload)}")
        except Exception as e:  # noqa: BLE001 - collected and reported below
            with lock:
                failures.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout + 10)
    return failures


def test_tcp4_listen_fork_to_tcp_localhost_200_concurrent_clients(vmcat, spawn, echo_server):
    echo = echo_server("tcp")
    port = free_port()
    # socat TCP4-LISTEN:4321,reuseaddr,fork TCP:localhost:22 ("localhost" may
    # resolve to ::1 first, where nothing listens: the next address is tried).
    relay = spawn([vmcat, "relay", f"TCP4-LISTEN:{port},reuseaddr,fork",
                   f"TCP:localhost:{echo.address}"])
    wait_tcp_listening(port, proc=relay.p)
    failures = run_concurrent_clients(port, 200)
    assert failures == []
    assert relay.p.poll() is None, "the fork server must keep running"
    rc, _, err = relay.stop()
    assert rc == 128 + signal.SIGTERM
    assert_clean_exit_text(err.decode())


def test_tcp_listen_fork_exec_cat_concurrent_clients(vmcat, spawn):
    port = free_port()
    relay = spawn([vmcat, "relay", f"TCP-LISTEN:{port},reuseaddr,fork", "EXEC:cat"])
    wait_tcp_listening(port, proc=relay.p)
    failures = run_concurrent_clients(port, 100, payload_size=4096)
    assert failures == []
    wait_for(lambda: children_of(relay.p.pid) == [], 10, what="every cat to be reaped")


# --------------------------------------------------------------------------
# Seed 002: the guest's remote shell,
#   socat VSOCK-LISTEN:1234,reuseaddr,fork EXEC:bash,pty,stderr,setsid,sigint,sane,ctty,echo=0
# here behind TCP4-LISTEN (VSOCK-LISTEN needs a VM).

class ShellClient:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, pattern, timeout=10.0):
        """Reads until the regex `pattern` (bytes) matches; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; got {self.buf[-500:]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"connection closed waiting for {pattern!r}; "
                                     f"got {self.buf[-500:]!r}")
            self.buf += chunk

    def read_to_eof(self, timeout=10.0):
        self.sock.settimeout(timeout)
        while True:
            chunk = self.sock.recv(4096)
            if not chunk:
                return self.buf
            self.buf += chunk

    def close(self):
        self.sock.close()


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    rest = stat[stat.rfind(")") + 2:].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgrp": int(rest[2]),
            "session": int(rest[3]), "tty_nr": int(rest[4]), "tpgid": int(rest[5])}


def test_exec_bash_pty_remote_shell(vmcat, spawn, tmp):
    port = free_port()
    env = dict(os.environ, HOME=str(tmp), PS1="$ ")  # no ~/.bashrc of the user
    relay = spawn([vmcat, "relay", f"TCP4-LISTEN:{port},reuseaddr,fork", SEED_EXEC], env=env)
    wait_tcp_listening(port, proc=relay.p)
    c = ShellClient(port)
    try:
        # Arithmetic in each command makes the answer differ from the command
        # text, so an echo of the input could not pass for the answer.
        c.send(b"tty; echo TTY-$((40+2))\n")
        tty = c.read_until(rb"(/dev/pts/\d+)\r?\n")
        c.read_until(rb"TTY-42")
        c.send(b"echo PID-$$-$((1+1))\n")
        pid = int(c.read_until(rb"PID-(\d+)-2").group(1))
        st = proc_stat(pid)
        assert st["session"] == pid, "setsid: bash leads its own session"
        assert st["tty_nr"] != 0, "ctty: the pty is bash's controlling terminal"
        assert os.readlink(f"/proc/{pid}/fd/0") == tty.group(1).decode()
        assert st["ppid"] == relay.p.pid

        # stderr goes to the connection too.
        c.send(b"echo ERR-$((6*7)) >&2\n")
        c.read_until(rb"ERR-42")

        # Ctrl-C as a byte interrupts the foreground program, not the shell.
        c.send(b"sleep 100\n")
        sleeper = wait_for(lambda: [p for p, _ in children_of(pid)], 10,
                           what="sleep 100 to start")[0]
        c.send(b"\x03")
        wait_for(lambda: process_gone(sleeper), 5, what="sleep to be interrupted")
        c.send(b"echo ALIVE-$((3+4))\n")
        c.read_until(rb"ALIVE-7")
        assert proc_stat(pid)["state"] != "Z"

        # exit ends the connection.
        c.send(b"exit\n")
        c.read_to_eof()
    finally:
        c.close()
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5, what="bash to be reaped")
    assert relay.p.poll() is None, "the fork server keeps serving"
    # A second client gets a fresh shell on another pty.
    c2 = ShellClient(port)
    try:
        c2.send(b"echo PID-$$-$((1+1))\n")
        pid2 = int(c2.read_until(rb"PID-(\d+)-2").group(1))
        assert pid2 != pid
    finally:
        c2.close()
    wait_for(lambda: children_of(relay.p.pid) == [], 10, what="the second bash to end")


def bash_server(vmcat, spawn, tmp, address=SEED_EXEC):
    port = free_port()
    env = dict(os.environ, HOME=str(tmp), PS1="$ ")  # no ~/.bashrc of the user
    relay = spawn([vmcat, "relay", f"TCP4-LISTEN:{port},reuseaddr,fork", address], env=env)
    wait_tcp_listening(port, proc=relay.p)
    return relay, port


def test_exec_bash_pty_input_and_eof_before_bash_starts(vmcat, spawn, tmp):
    """The client's commands and its EOF arrive before bash has started its
    line editor: the EOF must still end the shell (as Ctrl-D at its prompt),
    after the commands ran, and the client must get everything."""
    relay, port = bash_server(vmcat, spawn, tmp)
    for _ in range(5):
        r = subprocess.run([vmcat, "relay", "-", f"TCP:127.0.0.1:{port}"],
                           input=b"echo HI-$((1+1)); sleep 0.2; echo THERE-$((2+2))\n",
                           capture_output=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert b"HI-2" in r.stdout and b"THERE-4" in r.stdout, r.stdout
        assert r.stdout.index(b"HI-2") < r.stdout.index(b"THERE-4")
        assert r.stderr == b""
    wait_for(lambda: children_of(relay.p.pid) == [], 5, what="every bash to end")
    assert relay.p.poll() is None


def test_exec_bash_pty_eof_while_a_command_runs(vmcat, spawn, tmp):
    """The EOF arrives while bash runs a command (the terminal is in canonical
    mode then, and readline switches it back before reading): it is delivered
    when bash waits at its prompt again, and ends it."""
    relay, port = bash_server(vmcat, spawn, tmp)
    c = ShellClient(port)
    try:
        c.send(b"echo PID-$$-$((1+1))\n")
        pid = int(c.read_until(rb"PID-(\d+)-2").group(1))
        c.send(b"sleep 0.5; echo DONE-$((3+3))\n")
        sleeper = wait_for(lambda: [p for p, _ in children_of(pid)], 10,
                           what="sleep to start")[0]
        c.sock.shutdown(socket.SHUT_WR)
        assert not process_gone(sleeper)
        c.read_until(rb"DONE-6")
        c.read_to_eof()
    finally:
        c.close()
    wait_for(lambda: process_gone(pid), 5, what="bash to end")


def reset(sock):
    """Closes with a TCP reset, as a client that crashed with unread data."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("address", [
    SEED_EXEC,
    # No session, so no controlling terminal to hang up when the pty closes:
    # the relay's SIGHUP to bash's process group ends it (interactive bash
    # ignores SIGTERM) and its command (no job control: same group).
    "EXEC:bash,pty,stderr,setpgid,sane,echo=0",
])
def test_exec_bash_pty_client_reset_mid_command_leaves_no_process(vmcat, spawn, tmp, address):
    relay, port = bash_server(vmcat, spawn, tmp, address)
    c = ShellClient(port)
    c.send(b"echo PID-$$-$((1+1))\n")
    pid = int(c.read_until(rb"PID-(\d+)-2").group(1))
    c.send(b"sleep 100\n")
    sleeper = wait_for(lambda: [p for p, _ in children_of(pid)], 10, what="sleep to start")[0]
    reset(c.sock)
    wait_for(lambda: process_gone(pid) and process_gone(sleeper), 5, what="bash and its command to end")
    wait_for(lambda: children_of(relay.p.pid) == [], 5, what="bash to be reaped")
    assert relay.p.poll() is None, "the fork server keeps serving"


def test_exec_bash_pty_client_closes_mid_session_leaves_no_process(vmcat, spawn, tmp):
    relay, port = bash_server(vmcat, spawn, tmp)
    c = ShellClient(port)
    c.send(b"echo PID-$$-$((1+1))\n")
    pid = int(c.read_until(rb"PID-(\d+)-2").group(1))
    c.close()  # no exit, no EOF of its own: the connection just goes
    wait_for(lambda: process_gone(pid), 5, what="bash to end")
    wait_for(lambda: children_of(relay.p.pid) == [], 5, what="bash to be reaped")


def test_exec_bash_pty_killed_client_leaves_no_process(vmcat, spawn, tmp):
    relay, port = bash_server(vmcat, spawn, tmp)
    client = spawn([vmcat, "relay", "-", f"TCP:127.0.0.1:{port}"], stdin=subprocess.PIPE)
    client.p.stdin.write(b"echo PID-$$-$((1+1))\n")
    client.p.stdin.flush()
    out = b""
    while not re.search(rb"PID-(\d+)-2", out):
        chunk = os.read(client.p.stdout.fileno(), 4096)
        assert chunk, out
        out += chunk
    pid = int(re.search(rb"PID-(\d+)-2", out).group(1))
    client.p.kill()
    client.p.wait(5)
    wait_for(lambda: process_gone(pid), 5, what="bash to end")
    wait_for(lambda: children_of(relay.p.pid) == [], 5, what="bash to be reaped")


# --------------------------------------------------------------------------
# Seed 001 addresses that need a VM: their argument errors are found before
# any socket is made.

@pytest.mark.parametrize("address, message", [
    ("VSOCK-CONNECT:abc:1", 'bad CID "abc"'),
    ("VSOCK-CONNECT:42:port", 'bad port "port"'),
    ("VSOCK-CONNECT:42", "takes 2 parameters"),
    ("VSOCK-CONNECT:-1:1234", 'bad CID "-1"'),
    ("VSOCK-LISTEN:abc", 'bad port "abc"'),
    ("VSOCK-LISTEN:1234:5", "takes 1 parameter"),
    ("VSOCK-LISTEN:1234,mode=600", 'option "mode" is not valid for VSOCK-LISTEN'),
    ("VSOCK-CONNECT:42:1234,fork", 'option "fork" is not valid for VSOCK-CONNECT'),
])
def test_vsock_bad_input_is_rejected_without_touching_vsock(vmcat, address, message):
    # With strace (when installed), also check that no vsock socket is made.
    tracer = (["strace", "-f", "-e", "trace=socket", "-o", "/dev/stderr"]
              if shutil.which("strace") else [])
    r = subprocess.run(tracer + [vmcat, "relay", "-", address],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "AF_VSOCK" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("vmcat:")]
    assert len(errors) == 1, r.stderr
    assert errors[0].startswith(f'vmcat: address 2 "{address}": ')
    assert message in errors[0]


# Firecracker / Cloud Hypervisor hybrid vsock (seed 002's `CONNECT 1234`):
# a UNIX socket peer that speaks the handshake, no VM needed.

def hybrid_vsock_server(path, reply):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    seen = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            req = b""
            while not req.endswith(b"\n"):
                chunk = conn.recv(64)
                if not chunk:
                    break
                req += chunk
            seen["request"] = req
            if reply is None:
                return  # refuse: close without a word, as Firecracker does
            conn.sendall(reply)
            data = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.sendall(data.upper())
        srv.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return th, seen, srv


def test_hybrid_vsock_connect_handshake(vmcat, tmp):
    path = tmp / "vmm.vsock"
    th, seen, srv = hybrid_vsock_server(path, b"OK 1073741824\nbanner\n")
    try:
        r = subprocess.run([vmcat, "relay", "-", f"VSOCK-CONNECT:{path}:1234"],
                           input=b"hello\n", capture_output=True, timeout=10)
    finally:
        srv.close()
    th.join(5)
    assert seen["request"] == b"CONNECT 1234\n"
    assert r.returncode == 0, r.stderr
    # Bytes after the OK line are the stream's first bytes.
    assert r.stdout == b"banner\nHELLO\n"


def test_hybrid_vsock_refused_port_is_a_clear_error(vmcat, tmp):
    path = tmp / "vmm.vsock"
    th, seen, srv = hybrid_vsock_server(path, None)
    try:
        r = subprocess.run([vmcat, "relay", "-", f"VSOCK-CONNECT:{path}:1234"],
                           input="hello\n", capture_output=True, text=True, timeout=10)
    finally:
        srv.close()
    th.join(5)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert f'address 2 "VSOCK-CONNECT:{path}:1234"' in lines[0]
    assert "port 1234" in lines[0] and "CONNECT" in lines[0]
