"""Helpers for end-to-end tests with real QEMU guests (TCG) run by vmcat."""
import json
import os
import pathlib
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 60.0  # TCG on a loaded 2-core machine


def build_image(vmcat=None, out=None):
    """Builds (or reuses) the test guest; returns its directory. By default it
    holds build/vmcat and lives in build/image; `vmcat` puts that binary in
    the guest instead (the one under test), `out` picks the directory."""
    args = [str(ROOT / "images" / "build-image.sh"), "-q"]
    if vmcat is not None:
        args += ["--vmcat", str(vmcat)]
    if out is not None:
        args += ["--out", str(out)]
    out = subprocess.run(args, check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    return pathlib.Path(out)


class VmRunner:
    """Runs vmcat VM commands against a private runtime directory."""

    def __init__(self, vmcat, image):
        self.vmcat = vmcat
        self.image = image
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="vmcat-vm-", dir="/tmp"))
        self.env = dict(os.environ, VMCAT_RUNTIME_DIR=str(self.root))
        self.started = []

    def run(self, *args, check=False, timeout=120, input=None):
        return subprocess.run([self.vmcat, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=check, input=input)

    def up(self, name, *extra, append="console=ttyS0 quiet", wait_ready=True, agent=False):
        args = ["up", "--name", name, "--kernel", str(self.image / "vmlinuz"),
                "--initrd", str(self.image / "initramfs.cpio.gz"), "--append",
                append + (" vmcat.agent=1" if agent else ""), *extra]
        if agent:
            args.append("--agent")
        r = self.run(*args)
        assert r.returncode == 0, f"vmcat up failed: {r.stderr}"
        self.started.append(name)
        if wait_ready:
            self.wait_log(name, "vmcat-guest: ready")
        return r

    def paths(self, name):
        d = self.root / name
        return {"dir": d, "serial": d / "serial.sock", "monitor": d / "monitor.sock",
                "ctl": d / "ctl.sock", "state": d / "state.json", "log": d / "serial.log"}

    def state(self, name):
        return json.loads((self.root / name / "state.json").read_text())

    def logs(self, name):
        return self.run("logs", name).stdout

    def wait_log(self, name, text, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.root / name / "serial.log"
            if log.exists() and text in log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise AssertionError(f"{name}: {text!r} not in the serial log after {timeout}s:\n"
                             + self.logs(name)[-2000:])

    def wait_state(self, name, wanted, timeout=30.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.state(name)["state"]
            except (OSError, ValueError):
                last = None
            if last == wanted:
                return
            time.sleep(0.05)
        raise AssertionError(f"{name}: state {last!r}, wanted {wanted!r}")

    def ls_json(self):
        r = self.run("ls", "--json", check=True)
        return {vm["name"]: vm for vm in json.loads(r.stdout)}

    def cleanup(self):
        for name in self.started:
            self.run("stop", "--force", name, timeout=30)
        subprocess.run(["rm", "-rf", str(self.root)])


class Tmux:
    """A real terminal: a private tmux server running one command."""

    def __init__(self, command, env=None, width=160, height=40):
        self.socket = tempfile.mktemp(prefix="vmcat-tmux-", dir="/tmp")
        env_args = []
        for k, v in (env or {}).items():
            env_args += ["-e", f"{k}={v}"]
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  *env_args, command)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True,
                              text=True, check=check)

    def send(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self):
        r = self.tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-", check=False)
        return r.stdout

    def wait(self, text, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not on the terminal after {timeout}s:\n{self.screen()}")

    def alive(self):
        return self.tmux("has-session", "-t", "t", check=False).returncode == 0

    def kill(self):
        self.tmux("kill-server", check=False)
        try:
            os.unlink(self.socket)
        except OSError:
            pass
