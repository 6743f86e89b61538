"""VM services end to end: vmcat up/ls/console/logs/monitor/qmp/events/fwd/
snapshot/stop with real QEMU 7.2 guests under TCG (the tiny test image)."""
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import free_port, process_gone, wait_for
from vmlib import Tmux, VmRunner, build_image

pytestmark = pytest.mark.vm

_markers = itertools.count(1000)


@pytest.fixture(scope="module")
def image():
    return build_image()


@pytest.fixture(scope="module")
def vms(vmcat, image):
    runner = VmRunner(vmcat, image)
    yield runner
    runner.cleanup()


def guest_sh(vms, name, command, timeout=30):
    """Types a command into the guest's console and waits until it has run."""
    n = next(_markers)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(vms.paths(name)["serial"]))
        s.sendall(f"{command}; echo DONE$((N={n}+1))\n".encode())
        vms.wait_log(name, f"DONE{n + 1}", timeout=timeout)


@pytest.fixture(scope="module")
def svc(vms, tmp_path_factory):
    """One VM shared by the read-mostly tests: user net, a qcow2 disk."""
    disk = tmp_path_factory.mktemp("disk") / "d.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    # Not quiet: the kernel's own boot messages show that nothing is lost
    # before the first viewer attaches.
    vms.up("svc", "--mem", "128M", "--disk", str(disk), "--net", "user",
           append="console=ttyS0")
    return "svc"


def test_up_prints_sockets_and_ls_shows_running(vms, svc):
    listing = vms.ls_json()
    vm = listing["svc"]
    assert vm["state"] == "running"
    assert vm["accel"] == "tcg"  # this machine has /dev/kvm but no vmx/svm
    assert os.path.exists(vm["sockets"]["serial"])
    assert os.path.exists(vm["sockets"]["monitor"])
    assert oct(os.stat(vms.paths("svc")["dir"]).st_mode & 0o777) == "0o700"
    table = vms.run("ls").stdout
    assert "svc" in table and "running" in table


def test_logs_hold_boot_output_from_before_any_attach(vms, svc):
    out = vms.logs("svc")
    assert "vmcat-guest: ready" in out
    assert "Linux version" in out
    assert out.index("Linux version") < out.index("vmcat-guest: ready")


def test_logs_on_a_terminal_leave_out_the_guests_terminal_questions(vms, svc):
    """The guest's shell asked its terminal for the cursor position (ESC [ 6 n)
    when it printed its prompt. Into a pipe the log keeps those bytes; on a
    terminal they are left out, or the terminal (tmux here) would answer into
    the user's shell as if typed."""
    def raw_log():
        return subprocess.run([vms.vmcat, "logs", "svc"], env=vms.env, capture_output=True,
                              timeout=30).stdout
    wait_for(lambda: b"guest# \x1b[6n" in raw_log(), 30,
             what="the shell's prompt and its question in the log, byte for byte")
    term = Tmux("bash --norc --noprofile", env={"VMCAT_RUNTIME_DIR": str(vms.root), "PS1": "$ "})
    try:
        # After the log, count the bytes waiting on the terminal's input
        # (non-canonical, up to 1 s): an answer to ESC [ 6 n would be there.
        term.send(f"{vms.vmcat} logs svc; sleep 0.5; stty -icanon -echo min 0 time 10; "
                  "n=$(dd bs=64 count=1 2>/dev/null | wc -c); stty sane; "
                  "echo typed=$((n+1000))", "Enter")
        term.wait("typed=1")
        screen = term.screen()
        assert "guest#" in screen, screen
        assert "typed=1000" in screen, screen  # nothing was typed
    finally:
        term.kill()


def test_monitor_info_status(vms, svc):
    r = vms.run("monitor", "svc", "info", "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "VM status: running\n"
    bad = vms.run("monitor", "svc", "nosuchcommand")
    assert bad.returncode == 1
    assert "unknown command" in bad.stderr


def test_plain_socat_on_monitor_sock_still_works(vms, svc):
    r = subprocess.run(["socat", "-", f"UNIX-CONNECT:{vms.paths('svc')['monitor']}"],
                       input="info status\n", capture_output=True, text=True, timeout=20)
    assert "(qemu) " in r.stdout
    assert "VM status: running" in r.stdout


def test_qmp_raw(vms, svc):
    r = vms.run("qmp", "svc", "query-status")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "running"
    r = vms.run("qmp", "svc", "query-name")
    assert json.loads(r.stdout) == {"name": "svc"}
    bad = vms.run("qmp", "svc", "no-such-command")
    assert bad.returncode == 1
    assert "CommandNotFound" in bad.stderr
    badargs = vms.run("qmp", "svc", "query-status", "[1")
    assert badargs.returncode == 1 and "JSON object" in badargs.stderr


def test_console_shows_boot_banner_and_typed_command(vms, svc):
    term = Tmux(f"{vms.vmcat} console svc", env={"VMCAT_RUNTIME_DIR": str(vms.root)})
    try:
        term.wait("vmcat-guest: ready")  # printed before we attached: history
        term.send("echo console-$((40+2))", "Enter")
        term.wait("console-42")
        term.send("C-]")
        wait_for(lambda: not term.alive() or "detached" in term.screen(), 10,
                 what="console to detach")
    finally:
        term.kill()


def test_console_restores_terminal_settings(vms, svc):
    term = Tmux("bash --norc --noprofile", env={"VMCAT_RUNTIME_DIR": str(vms.root), "PS1": "$ "})
    try:
        term.send(f"stty -a > {vms.root}/before; {vms.vmcat} console svc; "
                  f"stty -a > {vms.root}/after; echo back-$((1+1))", "Enter")
        term.wait("guest# ")
        term.send("C-]")
        term.wait("back-2")
        assert (vms.root / "before").read_text() == (vms.root / "after").read_text()
    finally:
        term.kill()


def test_second_console_viewer_is_read_only_until_forced(vms, svc):
    env = {"VMCAT_RUNTIME_DIR": str(vms.root)}
    first = Tmux(f"{vms.vmcat} console svc", env=env)
    second = None
    try:
        first.wait("detaches]")
        second = Tmux(f"{vms.vmcat} console svc", env=env)
        second.wait("read-only")
        second.send("echo ignored-$((3+3))", "Enter")
        first.send("echo typed-$((2+2))", "Enter")
        first.wait("typed-4")
        second.wait("typed-4")  # the read-only viewer sees the output too
        assert "ignored-6" not in vms.logs("svc")
        second.send("C-]")
        third = Tmux(f"{vms.vmcat} console --force svc", env=env)
        try:
            first.wait("read-only")  # told that the keyboard was taken
            third.send("echo forced-$((4+4))", "Enter")
            third.wait("forced-8")
        finally:
            third.kill()
    finally:
        first.kill()
        if second:
            second.kill()


def test_slow_hmp_command_returns_whole_answer(vms, svc):
    started = time.monotonic()
    r = vms.run("monitor", "svc", "savevm", "slow1")
    assert r.returncode == 0, r.stderr
    listing = vms.run("monitor", "svc", "info", "snapshots")
    assert "slow1" in listing.stdout
    # Piped like the seed, with no sleep: the answer of a slow command arrives.
    r = subprocess.run([vms.vmcat, "relay", "-", f"UNIX-CONNECT:{vms.paths('svc')['monitor']}"],
                       input="savevm slow2\ninfo snapshots\n", capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0
    assert "slow2" in r.stdout.split("info snapshots", 1)[1]
    assert time.monotonic() - started > 0.2


def test_snapshot_save_load_ls_rm(vms, svc):
    guest_sh(vms, "svc", "rm -f /tmp/after-save")
    r = vms.run("snapshot", "svc", "save", "s1")
    assert r.returncode == 0, r.stderr
    guest_sh(vms, "svc", "touch /tmp/after-save")
    r = vms.run("snapshot", "svc", "load", "s1")
    assert r.returncode == 0, r.stderr
    # The guest's RAM is back to before the file was created.
    guest_sh(vms, "svc", "test -e /tmp/after-save && echo STILL$((5*5)) || echo GONE$((6*6))")
    log = vms.logs("svc")
    assert "GONE36" in log and "STILL25" not in log
    assert "s1" in vms.run("snapshot", "svc", "ls").stdout
    assert vms.run("snapshot", "svc", "rm", "s1").returncode == 0
    assert "s1" not in vms.run("snapshot", "svc", "ls").stdout
    missing = vms.run("snapshot", "svc", "load", "nosuch")
    assert missing.returncode == 1 and "nosuch" in missing.stderr
    # A failed load does not leave the VM paused (QEMU alone would).
    assert vms.run("monitor", "svc", "info", "status").stdout == "VM status: running\n"


def test_fwd_add_live_reaches_guest_listener(vms, svc):
    guest_sh(vms, "svc", "mkdir -p /tmp/www && echo served-by-guest > /tmp/www/index.html "
                         "&& httpd -p 8080 -h /tmp/www")
    port = free_port()
    r = vms.run("fwd", "svc", "add", f"tcp::{port}-:8080")
    assert r.returncode == 0, r.stderr
    assert f"{port}" in vms.run("fwd", "svc", "ls").stdout
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=20).read()
    assert body == b"served-by-guest\n"
    dup = vms.run("fwd", "svc", "add", f"tcp::{port}-:8080")
    assert dup.returncode == 1 and "Could not" in dup.stderr
    assert vms.run("fwd", "svc", "rm", f"tcp::{port}").returncode == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5)


class EventReader:
    """Reads the JSON lines of a `vmcat events` process, with timeouts."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def next(self, timeout):
        """The next event's name, or None after `timeout` s without one."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            assert chunk, f"vmcat events ended: {self.buf!r}"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)["event"]


def test_pause_resume_events_and_ls(vms, svc):
    events = subprocess.Popen([vms.vmcat, "events", "svc"], env=vms.env, stdout=subprocess.PIPE)
    reader = EventReader(events)
    try:
        # The subscription starts a moment after the process does: pause until
        # a STOP shows it is live (a pause before it could be missed).
        for attempt in itertools.count():
            assert attempt < 20, "no STOP event after 20 pauses"
            assert vms.run("pause", "svc").returncode == 0
            vms.wait_state("svc", "paused")
            if reader.next(2) == "STOP":
                break
            assert vms.run("resume", "svc").returncode == 0
            vms.wait_state("svc", "running")
            while reader.next(0.5) is not None:
                pass
        assert vms.ls_json()["svc"]["state"] == "paused"
        assert vms.run("monitor", "svc", "info", "status").stdout == "VM status: paused\n"
        assert vms.run("resume", "svc").returncode == 0
        vms.wait_state("svc", "running")
        assert reader.next(10) == "RESUME"
        assert reader.next(0.5) is None  # one event per change, no more
    finally:
        events.kill()
        events.wait()


def test_stop_through_acpi(vms):
    vms.up("acpi")
    r = vms.run("stop", "acpi", "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert "guest powered off" in r.stdout, (r.stdout, vms.logs("acpi")[-3000:])
    vm = vms.ls_json()["acpi"]
    assert vm["state"] == "stopped"
    assert vm["reason"] == "guest powered off"
    assert not vms.paths("acpi")["serial"].exists()  # runtime sockets removed
    assert "vmcat-guest: ready" in vms.logs("acpi")  # the log outlives the VM
    again = vms.run("stop", "acpi")
    assert again.returncode == 1 and "not running" in again.stderr


def test_crash_detected_after_kill_9_of_qemu(vms):
    vms.up("crashy", wait_ready=False)
    os.kill(vms.state("crashy")["qemu_pid"], signal.SIGKILL)
    vms.wait_state("crashy", "crashed")
    vm = vms.ls_json()["crashy"]
    assert vm["state"] == "crashed"
    assert "signal 9" in vm["reason"]
    r = vms.run("monitor", "crashy", "info", "status")
    assert r.returncode == 1 and "crashed" in r.stderr


def test_killed_supervisor_leaves_no_running_ghost(vms):
    vms.up("ghost", wait_ready=False)
    st = vms.state("ghost")
    os.kill(st["supervisor_pid"], signal.SIGKILL)
    # QEMU goes with its supervisor (it must not run unmanaged).
    wait_for(lambda: process_gone(st["qemu_pid"]), 20, what="QEMU to exit after its supervisor")
    vm = vms.ls_json()["ghost"]
    assert vm["state"] == "crashed"
    assert "supervisor" in vm["reason"]
    assert not vms.paths("ghost")["ctl"].exists()  # cleaned
    vms.up("ghost", wait_ready=False)  # the name is usable again
    assert vms.ls_json()["ghost"]["state"] in ("running", "paused")


def test_two_vms_at_once(vms):
    vms.up("twin-a", wait_ready=False)
    vms.up("twin-b", wait_ready=False)
    vms.wait_log("twin-a", "vmcat-guest: ready")
    vms.wait_log("twin-b", "vmcat-guest: ready")
    listing = vms.ls_json()
    assert listing["twin-a"]["state"] == "running"
    assert listing["twin-b"]["state"] == "running"
    assert listing["twin-a"]["qemu_pid"] != listing["twin-b"]["qemu_pid"]
    assert vms.run("monitor", "twin-b", "info", "name").stdout == "twin-b\n"
    for n in ("twin-a", "twin-b"):
        assert vms.run("stop", n, "--timeout", "60").returncode == 0


def test_up_from_definition_file(vms, tmp_path):
    definition = tmp_path / "web.toml"
    definition.write_text(f'''
# a commented definition, as in the README
name = "fromfile"
memory = "160M"
kernel = "{vms.image}/vmlinuz"
initrd = "{vms.image}/initramfs.cpio.gz"
append = "console=ttyS0 quiet vmcat.hostname=fromfile"
[[net]]
type = "user"
hostfwd = ["tcp::{free_port()}-:8080"]
''')
    r = vms.run("up", str(definition))
    assert r.returncode == 0, r.stderr
    vms.started.append("fromfile")
    vms.wait_log("fromfile", "vmcat-guest: ready")
    mem = json.loads(vms.run("qmp", "fromfile", "query-memory-size-summary").stdout)
    assert mem["base-memory"] == 160 * 1024 * 1024
    assert vms.run("stop", "fromfile", "--force").returncode == 0


def test_bad_input(vms, tmp_path, svc):
    unknown = vms.run("monitor", "nosuchvm", "info", "status")
    assert unknown.returncode == 1
    assert 'no VM named "nosuchvm"' in unknown.stderr
    dup = vms.run("up", "--name", "svc", "--kernel", str(vms.image / "vmlinuz"))
    assert dup.returncode == 1 and "already running" in dup.stderr
    missing = vms.run("up", "--name", "nokernel", "--kernel", "/nonexistent/vmlinuz")
    assert missing.returncode == 1
    assert "kernel /nonexistent/vmlinuz: No such file or directory" in missing.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkernel = "/k"\nmemroy = "1G"\n')
    r = vms.run("up", str(bad))
    assert r.returncode == 1
    assert f'{bad}:3: key "memroy": unknown key' in r.stderr
    refused = vms.run("up", "--name", "refused", "--kernel", str(vms.image / "vmlinuz"),
                      "--", "-device", "no-such-device")
    assert refused.returncode == 1
    assert "no-such-device" in refused.stderr  # QEMU's own message
    assert vms.ls_json()["refused"]["state"] == "crashed"
    badname = vms.run("up", "--name", "bad name", "--kernel", str(vms.image / "vmlinuz"))
    assert badname.returncode == 1 and "VM name" in badname.stderr


def test_interactive_monitor_edits_and_recalls(vms, svc):
    term = Tmux(f"{vms.vmcat} monitor svc", env={"VMCAT_RUNTIME_DIR": str(vms.root)})
    try:
        term.wait("(qemu) ")
        term.send("info stat", "Enter")  # not a command: QEMU says so
        term.wait("unknown command")
        term.send("Up")  # recall it, fix it with editing keys
        term.send("End", "u", "s", "Enter")
        term.wait("VM status: running")
        term.send("C-d")  # leaves the monitor, not QEMU
        wait_for(lambda: not term.alive(), 10, what="the monitor to end")
        assert vms.state("svc")["state"] == "running"
    finally:
        term.kill()


def test_up_loadvm_restores_a_snapshot(vms, tmp_path):
    disk = tmp_path / "lv.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    vms.up("lv", "--mem", "128M", "--disk", str(disk))
    guest_sh(vms, "lv", "echo saved-state > /tmp/marker")
    assert vms.run("snapshot", "lv", "save", "boot1").returncode == 0
    assert vms.run("stop", "lv", "--force").returncode == 0
    r = vms.run("up", "--name", "lv", "--mem", "128M", "--disk", str(disk),
                "--kernel", str(vms.image / "vmlinuz"),
                "--initrd", str(vms.image / "initramfs.cpio.gz"),
                "--append", "console=ttyS0 quiet", "--loadvm", "boot1")
    assert r.returncode == 0, r.stderr
    # No boot this time: the guest continues from the snapshot, marker included.
    guest_sh(vms, "lv", "cat /tmp/marker")
    assert "saved-state" in vms.logs("lv")
    assert "vmcat-guest: ready" not in vms.logs("lv")
    vms.run("stop", "lv", "--force")
    bad = vms.run("up", "--name", "lv2", "--disk", str(disk), "--kernel",
                  str(vms.image / "vmlinuz"), "--loadvm", "nosuch")
    assert bad.returncode == 1 and "nosuch" in bad.stderr  # QEMU's own message


def test_stop_then_rm_and_up_again_at_once(vms):
    vms.up("quick", wait_ready=False)
    assert vms.run("stop", "quick", "--force").returncode == 0
    r = vms.run("rm", "quick")
    assert r.returncode == 0, r.stderr
    assert "quick" not in vms.ls_json()
    again = vms.run("rm", "quick")
    assert again.returncode == 1 and 'no VM named "quick"' in again.stderr


def test_logs_follow_streams_new_output_until_the_vm_stops(vms):
    vms.up("follow")
    p = subprocess.Popen([vms.vmcat, "logs", "-f", "follow"], env=vms.env,
                         stdout=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        assert first  # the log so far comes first
        guest_sh(vms, "follow", "echo followed-$((9*9))")
        seen = ""
        while "followed-81" not in seen:
            line = p.stdout.readline()
            assert line, "logs -f ended early"
            seen += line
        assert vms.run("stop", "follow", "--force").returncode == 0
        p.wait(timeout=20)  # ends with the VM
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
