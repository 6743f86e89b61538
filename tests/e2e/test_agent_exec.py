"""vmcat exec / shell / wait against the guest agent in a real QEMU guest."""
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import wait_for
from vmlib import Tmux, VmRunner, build_image

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def vms(vmcat):
    runner = VmRunner(vmcat, build_image())
    yield runner
    runner.cleanup()


@pytest.fixture(scope="module")
def guest(vms):
    vms.up("ag", "--mem", "256M", agent=True)
    r = vms.run("wait", "ag", "--timeout", "60")
    assert r.returncode == 0, r.stderr
    return "ag"


def ex(vms, *args, **kw):
    return vms.run("exec", *args, **kw)


def test_exec_uname(vms, guest):
    r = ex(vms, guest, "--", "uname", "-sr")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Linux 6.1.")
    assert r.stderr == ""


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes(vms, guest, code):
    r = ex(vms, guest, "--", "sh", "-c", f"exit {code}")
    assert r.returncode == code


def test_command_not_found_is_127(vms, guest):
    r = ex(vms, guest, "--", "no-such-command", "x")
    assert r.returncode == 127
    assert '"no-such-command": command not found' in r.stderr


def test_no_shell_unless_asked(vms, guest):
    r = ex(vms, guest, "--", "echo", "$HOME", "a;b")
    assert r.stdout == "$HOME a;b\n"


def test_stdout_and_stderr_apart(vms, guest):
    r = ex(vms, guest, "--", "sh", "-c", "echo to-out; echo to-err >&2; echo more-out")
    assert r.returncode == 0
    assert r.stdout == "to-out\nmore-out\n"
    assert r.stderr == "to-err\n"


def test_ten_mib_of_stdin_through_cat_checksummed(vms, guest):
    data = os.urandom(10 << 20)
    r = subprocess.run([vms.vmcat, "exec", "-i", guest, "--", "cat"], env=vms.env, input=data,
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == len(data)
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(data).hexdigest()


def test_stdin_checksum_in_guest(vms, guest):
    data = os.urandom(3 << 20)
    r = subprocess.run([vms.vmcat, "exec", "-i", guest, "--", "sha256sum"], env=vms.env,
                       input=data, capture_output=True, timeout=120)
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_large_output_streams_without_loss(vms, guest):
    r = subprocess.run([vms.vmcat, "exec", guest, "--", "sh", "-c",
                        "head -c 20000000 /dev/zero | tr '\\0' x; echo END"],
                       env=vms.env, capture_output=True, timeout=300)
    assert r.returncode == 0
    assert len(r.stdout) == 20000000 + 4
    assert r.stdout.endswith(b"xEND\n")


def test_env_workdir_user(vms, guest):
    r = ex(vms, guest, "-e", "GREETING=hi there", "-w", "/proc", "-u", "root", "--",
           "sh", "-c", 'echo "$GREETING"; pwd; id -u')
    assert r.stdout == "hi there\n/proc\n0\n"
    bad_dir = ex(vms, guest, "-w", "/nonexistent", "--", "true")
    assert bad_dir.returncode == 126 and "cd /nonexistent" in bad_dir.stderr
    bad_user = ex(vms, guest, "-u", "nobody-here", "--", "true")
    assert bad_user.returncode != 0 and "nobody-here" in bad_user.stderr
    bad_env = ex(vms, guest, "-e", "NOEQUALS", "--", "true")
    assert bad_env.returncode == 1 and "expected K=V" in bad_env.stderr


def test_tty_gives_a_pty(vms, guest):
    r = ex(vms, guest, "-t", "--", "tty")
    assert r.returncode == 0
    assert r.stdout.strip().startswith("/dev/pts/")
    r = ex(vms, guest, "--", "tty")
    assert r.stdout.strip() == "not a tty"


def test_ctrl_c_signal_is_forwarded(vms, guest):
    p = subprocess.Popen([vms.vmcat, "exec", guest, "--", "sh", "-c",
                          "trap 'echo got-INT; exit 9' INT; echo ready; while :; do sleep 1; done"],
                         env=vms.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert "got-INT" in out
        assert p.returncode == 9  # the guest's handler decided the exit status
    finally:
        if p.poll() is None:
            p.kill()


def test_signal_kills_with_128_plus_n(vms, guest):
    p = subprocess.Popen([vms.vmcat, "exec", guest, "--", "sleep", "100"], env=vms.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: "sleep 100" in ex(vms, guest, "--", "ps").stdout, 30,
                 what="sleep to start in the guest")
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        assert p.returncode == 128 + signal.SIGTERM
    finally:
        if p.poll() is None:
            p.kill()


def test_ctrl_c_in_a_tty_session(vms, guest):
    term = Tmux(f"{vms.vmcat} exec -it {guest} -- sh", env={"VMCAT_RUNTIME_DIR": str(vms.root)})
    try:
        term.wait("# ")
        term.send("sleep 100; echo after-sleep", "Enter")
        time.sleep(1)
        term.send("C-c")
        term.send("echo alive-$((20+3))", "Enter")
        term.wait("alive-23")
        lines = [line.strip() for line in term.screen().splitlines()]
        assert "after-sleep" not in lines  # the interrupted list did not go on
        term.send("exit 5", "Enter")
        wait_for(lambda: not term.alive(), 20, what="the tty session to end")
    finally:
        term.kill()


def test_window_size_follows_resizes(vms, guest):
    term = Tmux(f"{vms.vmcat} exec -it {guest} -- sh", env={"VMCAT_RUNTIME_DIR": str(vms.root)},
                width=100, height=30)
    try:
        term.wait("# ")
        term.send("stty size", "Enter")
        term.wait("30 100")
        term.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
        time.sleep(0.5)
        term.send("stty size", "Enter")
        term.wait("40 120")
    finally:
        term.kill()


def test_eight_concurrent_execs(vms, guest):
    results = {}

    def one(i):
        r = ex(vms, guest, "--", "sh", "-c", f"sleep 1; seq 1 {1000 * (i + 1)}; exit {i}",
               timeout=180)
        results[i] = r

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    for i in range(8):
        r = results[i]
        assert r.returncode == i
        assert r.stdout == "".join(f"{n}\n" for n in range(1, 1000 * (i + 1) + 1))
    assert elapsed < 8 * 1.0 + 20  # they ran side by side, not one after another


def test_vsock_channel_inside_the_guest(vms, guest):
    # The guest's own vmcat reaches its agent over vsock loopback (CID 1):
    # the agent's vsock listener works without any host vsock device.
    r = ex(vms, guest, "--", "vmcat", "exec", "--vsock", "1", "--", "echo", "via-vsock")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "via-vsock\n"


def test_agent_restart_is_survived(vms, guest):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(vms.paths(guest)["serial"]))
        s.sendall(b"killall vmcat; echo killed-$((7*6))\n")
        vms.wait_log(guest, "killed-42")
    r = vms.run("wait", guest, "--timeout", "60")
    assert r.returncode == 0, r.stderr
    r = ex(vms, guest, "--", "echo", "back")
    assert r.stdout == "back\n"


def test_agent_unreachable_is_explained(vms):
    vms.up("noagent", wait_ready=False)
    r = vms.run("exec", "noagent", "--", "true")
    assert r.returncode == 255
    assert "started without the agent channel" in r.stderr
    r = vms.run("wait", "noagent", "--timeout", "2")
    assert r.returncode == 1
    missing = vms.run("exec", "ghost-vm", "--", "true")
    assert missing.returncode == 255 and 'no VM named "ghost-vm"' in missing.stderr
    vms.run("stop", "--force", "noagent")


def test_shell_is_an_interactive_login_shell(vms, guest):
    term = Tmux(f"{vms.vmcat} shell {guest}", env={"VMCAT_RUNTIME_DIR": str(vms.root)})
    try:
        term.wait("# ")
        term.send("tty; echo shell-$((3*3))", "Enter")
        term.wait("shell-9")
        assert "/dev/pts/" in term.screen()
        term.send("exit", "Enter")
        wait_for(lambda: not term.alive(), 20, what="the shell to end")
    finally:
        term.kill()
