#!/usr/bin/python3
"""Benchmark vmcat's guest agent against Debian's qemu-guest-agent (qemu-ga).

Both agents run in the SAME guest: one VM, started with `vmcat up --agent`
(vmcat's virtio-serial port org.vmcat.agent.0, owned by the supervisor) plus a
second virtio-serial port org.qemu.guest_agent.0 on a QEMU chardev socket that
this driver talks to directly (no QMP, no libvirt). The image is the variant
built by `images/build-image.sh --with-qemu-ga`, which starts qemu-ga from
inittab. Contestants run side by side in one run, interleaved.

Scenarios (select with --only; they run in this order):

  exec       One `/bin/true` round trip, --runs times per contestant, the order
             rotating every round (one-shot qemu-ga: see below):
               vmcat CLI        wall time of `vmcat exec VM -- /bin/true`,
                                process start to exit (rc 0 checked)
               vmcat in-process this driver speaks the agent protocol itself on
                                ctl.sock: connect, {"op":"agent"}, EXEC, until
                                EXIT (a new connection per command, as vmcat
                                exec does; no process start-up)
               qemu-ga          guest-exec {"path":"/bin/true","capture-output":
                                true}, then guest-exec-status until exited:true,
                                sleeping I ms between polls (first poll at once):
                                I = 0 (tight loop: the protocol's floor), 10 ms,
                                100 ms (libvirt-style), on an open connection
                                (guest-sync-delimited done beforehand);
               qemu-ga one-shot the same plus a fresh connection and the
                                guest-sync-delimited handshake, as a one-shot
                                CLI would do. It runs in this driver, so unlike
                                vmcat CLI it pays no process start-up (see the
                                host /bin/true row). Its cost depends on how long
                                no client was connected, so it runs apart,
                                --oneshot-runs times: each run after
                                --oneshot-gap s idle (I = 10 ms, 100 ms; vmcat
                                CLI likewise), and back to back (I = 10 ms).
  stream     Command output streamed to the host, --stream-runs runs each:
               vmcat    `vmcat exec VM -- sh -c 'head -c N /dev/zero'`, stdout
                        piped to this driver (spawn until EOF and exit)
               qemu-ga  guest-exec of the same command with capture-output,
                        guest-exec-status every --stream-poll ms until exited,
                        base64 "out-data" decoded (from guest-exec until
                        decoded); qemu-ga keeps at most 16 MiB (out-truncated)
             for N = 100 MiB and the fair N = 16 MiB, and again with a producer
             that is not CPU-bound under TCG (dd bs=64k; busybox head is).
             The producer alone (to /dev/null in the guest) is timed too.
  firstbyte  `sh -c 'echo first <guest clock>; sleep 5; echo done'`: the time
             from starting the exec until the host has the "first" line, and
             from the guest writing it (the guest prints its CLOCK_MONOTONIC
             from /proc/timer_list, mapped to the host clock by calibration
             execs just before) until the host has it.

Everything uses UNIX sockets only (no vsock). The VM runs under a private
runtime directory ($VMCAT_RUNTIME_DIR) that is removed at the end; the VM is
stopped with `vmcat stop --force`, its supervisor and QEMU are killed if still
alive, and every process started here runs in its own process group and is
killed on every exit path.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import math
import os
import platform
import random
import resource
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (REPO, BenchError, VmBench, argument_parser, command_line, cpu_busy_counters,
                      cpu_description, exit_on_signals, find_image, first_line, fmt_num, git_commit,
                      load_average, log, median, p90, proc_runtime_ns, remove_tmp,
                      render_report_markdown, render_report_text, select_scenarios, verdict)

DOC_SECTION = "## vmcat agent vs qemu-guest-agent"
SCENARIOS = ["exec", "stream", "firstbyte"]  # run in this order
VM_NAME = "agentbench"
QGA_PORT = "org.qemu.guest_agent.0"
MIB = 1 << 20

# Targets
EXEC_TARGET_RATIO = 5.0
STREAM_TARGET_RATIO = 10.0
FIRSTBYTE_TARGET_MS = 50.0

# vmcat agent protocol (docs/AGENT_PROTOCOL.md)
FRAME_MAGIC = 0x54434D56
FRAME_HDR = struct.Struct("<IIHHI")
T_ERROR, T_EXEC, T_STARTED, T_STDOUT, T_STDERR, T_EXIT, T_WINDOW = 4, 10, 11, 14, 15, 18, 19

# The guest's CLOCK_MONOTONIC in ns, without forking: line 3 of
# /proc/timer_list is "now at <ns> nsecs" (busybox date has no %N).
GUEST_NOW = '{ read a; read a; read a; } </proc/timer_list; set -- $a'


# --------------------------------------------------------------------------
# Processes and /proc


def proc_cpu_s(pid: int) -> float | None:
    """CPU seconds of all the process's threads, from schedstat (exact)."""
    ns = proc_runtime_ns(pid)
    return None if ns is None else ns / 1e9


def rusage_cpu_s(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


# --------------------------------------------------------------------------
# Formatting


def fmt_ratio(a: float | None, b: float | None) -> str:
    """a / b as 'N.N×'."""
    if a is None or b is None or b <= 0:
        return "—"
    return f"{a / b:.1f}×"


def fmt_size(n: int) -> str:
    if n % MIB == 0:
        return f"{n // MIB} MiB"
    return f"{n / MIB:.2f} MiB"


# --------------------------------------------------------------------------
# Clients


def recv_more(sock: socket.socket, buf: bytearray, error: type[BenchError], what: str,
              closed: str) -> None:
    """Appends what `sock` has next (up to 1 MiB) to `buf`. A socket error
    raises `error` with "WHAT: the error", the peer closing it `error` with
    `closed`."""
    try:
        d = sock.recv(1 << 20)
    except OSError as e:
        raise error(f"{what}: {e}") from e
    if not d:
        raise error(closed)
    buf += d


class VmcatSession:
    """One agent session through the supervisor's ctl.sock, as `vmcat exec` opens it:
    {"op":"agent"} then frames of session 1."""

    SESSION = 1

    def __init__(self, ctl: Path, timeout: float = 30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(ctl))
            self.sock.sendall(b'{"op":"agent"}\n')
            buf = b""
            while b"\n" not in buf:
                d = self.sock.recv(4096)
                if not d:
                    raise BenchError("ctl.sock closed before the agent reply")
                buf += d
            line, _, rest = buf.partition(b"\n")
            self.reply = json.loads(line)
            if not self.reply.get("ok"):
                raise BenchError(f"agent op refused: {self.reply.get('error')}")
            self.buf = bytearray(rest)
        except (OSError, ValueError) as e:
            self.sock.close()
            raise BenchError(f"ctl.sock agent session: {e}") from e

    def close(self) -> None:
        self.sock.close()

    def send(self, mtype: int, payload: bytes | dict) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        self.sock.sendall(FRAME_HDR.pack(FRAME_MAGIC, len(payload), mtype, 0, self.SESSION)
                          + payload)

    def read_frame(self) -> tuple[int, bytes]:
        while True:
            if len(self.buf) >= FRAME_HDR.size:
                magic, length, mtype, _flags, _sess = FRAME_HDR.unpack_from(self.buf)
                if magic != FRAME_MAGIC:
                    raise BenchError("bad frame magic from the supervisor")
                end = FRAME_HDR.size + length
                if len(self.buf) >= end:
                    payload = bytes(self.buf[FRAME_HDR.size:end])
                    del self.buf[:end]
                    return mtype, payload
            recv_more(self.sock, self.buf, BenchError, "agent session",
                      "agent session closed before EXIT")

    def run(self, argv: list[str]) -> dict:
        """EXEC argv; returns {code, out, t_exec, t_started, t_first_out, t_exit}."""
        req = {"argv": argv, "env": [], "cwd": "", "user": "", "tty": False,
               "stdin": False, "rows": 0, "cols": 0}
        r = {"out": bytearray(), "t_started": None, "t_first_out": None}
        r["t_exec"] = time.monotonic()
        self.send(T_EXEC, req)
        while True:
            mtype, payload = self.read_frame()
            now = time.monotonic()
            if mtype == T_STARTED:
                r["t_started"] = now
            elif mtype in (T_STDOUT, T_STDERR):
                if r["t_first_out"] is None:
                    r["t_first_out"] = now
                if mtype == T_STDOUT:
                    r["out"] += payload
                self.send(T_WINDOW, struct.pack("<I", len(payload)))
            elif mtype == T_EXIT:
                r["t_exit"] = now
                j = json.loads(payload or b"{}")
                r["code"] = j.get("code", 128 + j.get("signal", 0))
                return r
            elif mtype == T_ERROR:
                raise BenchError(f"agent error: {payload.decode(errors='replace')}")


def vmcat_run(ctl: Path, argv: list[str], timeout: float = 30.0) -> dict:
    """Connect + agent op + EXEC + EXIT; adds t_connect (before connecting)."""
    t0 = time.monotonic()
    s = VmcatSession(ctl, timeout)
    try:
        r = s.run(argv)
    finally:
        s.close()
    r["t_connect"] = t0
    return r


class QgaError(BenchError):
    pass


class QgaClient:
    """A QMP-less qemu-ga client on the chardev socket: one JSON object per
    request, one JSON line per reply."""

    def __init__(self, path: Path, timeout: float = 120.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        try:
            self.sock.connect(str(path))
        except OSError as e:
            self.sock.close()
            raise QgaError(f"qga socket: {e}") from e

    def close(self) -> None:
        self.sock.close()

    def readline(self) -> bytes:
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line
            start = len(self.buf)
            recv_more(self.sock, self.buf, QgaError, "qga", "qga connection closed")

    def sync(self) -> None:
        """guest-sync-delimited: 0xFF resets qemu-ga's parser (it answers that
        with a parse error); the reply is prefixed with 0xFF; stale replies
        of an earlier client are skipped."""
        ident = random.randrange(1, 2**31)
        self.sock.sendall(b"\xff" + json.dumps(
            {"execute": "guest-sync-delimited", "arguments": {"id": ident}}).encode())
        while True:
            line = self.readline()
            i = line.rfind(b"\xff")
            if i < 0:
                continue
            try:
                r = json.loads(line[i + 1:])
            except ValueError:
                continue
            if r.get("return") == ident:
                return

    def call(self, cmd: str, args: dict | None = None):
        m = {"execute": cmd}
        if args is not None:
            m["arguments"] = args
        self.sock.sendall(json.dumps(m).encode())
        r = json.loads(self.readline())
        if "error" in r:
            raise QgaError(f"{cmd}: {r['error'].get('class')}: {r['error'].get('desc')}")
        return r["return"]

    def exec_wait(self, path: str, arg: list[str], interval: float,
                  deadline_s: float = 120.0) -> dict:
        """guest-exec with capture-output, then guest-exec-status (first poll at
        once, then every `interval` s) until exited. Returns the final status
        plus t_exec (before guest-exec), t_done (final reply parsed), polls."""
        t0 = time.monotonic()
        a = {"path": path, "capture-output": True}
        if arg:
            a["arg"] = arg
        pid = self.call("guest-exec", a)["pid"]
        polls = 0
        while True:
            st = self.call("guest-exec-status", {"pid": pid})
            polls += 1
            if st.get("exited"):
                break
            if time.monotonic() - t0 > deadline_s:
                raise QgaError(f"guest-exec pid {pid}: not exited after {deadline_s:g} s")
            if interval > 0:
                time.sleep(interval)
        st["t_exec"] = t0
        st["t_done"] = time.monotonic()
        st["polls"] = polls
        return st


def qga_oneshot(path: Path, exe: str, arg: list[str], interval: float) -> dict:
    """As a one-shot CLI would: fresh connection, guest-sync-delimited, exec, poll."""
    t0 = time.monotonic()
    c = QgaClient(path, timeout=30)
    try:
        c.sync()
        t_synced = time.monotonic()
        st = c.exec_wait(exe, arg, interval)
    finally:
        c.close()
    st["t_exec"] = t0
    st["t_synced"] = t_synced
    return st


# --------------------------------------------------------------------------
# Results


@dataclass
class Series:
    label: str
    what: str
    ms: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    started_ms: list[float] = field(default_factory=list)  # vmcat in-process: STARTED seen
    sync_ms: list[float] = field(default_factory=list)  # qemu-ga one-shot: connect + sync
    attempted: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class StreamRun:
    seconds: float
    delivered: int
    truncated: str  # for qemu-ga: the out-truncated flag; vmcat: "—"
    polls: int | None = None  # qemu-ga: guest-exec-status calls
    qemu_cpu: float | None = None
    sup_cpu: float | None = None
    client_cpu: float | None = None
    driver_cpu: float | None = None


@dataclass
class StreamCase:
    label: str
    agent: str  # "vmcat" | "qemu-ga"
    command: str
    requested: int
    runs: list[StreamRun] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def med(self, attr: str) -> float | None:
        vals = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return median(vals)

    def mibps(self) -> float | None:
        vals = [r.delivered / MIB / r.seconds for r in self.runs if r.seconds > 0]
        return median(vals)


@dataclass
class FirstByteRun:
    first_ms: float           # exec start -> "first" line on the host
    exit_ms: float            # exec start -> command finished (EOF+exit / exited:true)
    guest_write_ms: float | None = None   # exec start -> guest timestamp (mapped)
    delay_ms: float | None = None         # guest timestamp -> host has the line (midpoint)
    delay_hi_ms: float | None = None      # upper bound of that
    delay_lo_ms: float | None = None      # lower bound


@dataclass
class FirstByteCase:
    label: str
    how: str
    runs: list[FirstByteRun] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def med(self, attr: str) -> float | None:
        return median([getattr(r, attr) for r in self.runs if getattr(r, attr) is not None])


@dataclass
class Results:
    exec_series: dict[str, Series] = field(default_factory=dict)
    guest_spawn_ms: float | None = None
    stream: list[StreamCase] = field(default_factory=list)
    producer: dict[str, float] = field(default_factory=dict)  # command -> guest seconds
    firstbyte: dict[str, FirstByteCase] = field(default_factory=dict)
    calib_halfwidth_ms: list[float] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# The benchmark


class Bench(VmBench):
    def __init__(self, args: argparse.Namespace, tmp: Path):
        super().__init__(args, tmp)
        self.qga_sock = tmp / "qga.sock"
        self.vm_started = False
        self.sup_pid = 0
        self.qemu_pid = 0
        self.results = Results()
        self.shared_qga: QgaClient | None = None

    # ---- VM

    @property
    def ctl(self) -> Path:
        return self.runtime / VM_NAME / "ctl.sock"

    def start_vm(self) -> None:
        a = self.args
        argv = ["up", "--name", VM_NAME, "--agent", "--accel", "tcg",
                "--kernel", str(a.image / "vmlinuz"), "--initrd", str(a.image / "initramfs.cpio.gz"),
                "--append", a.append, "--mem", a.mem, "--",
                "-chardev", f"socket,id=qga0,path={self.qga_sock},server=on,wait=off",
                "-device", f"virtserialport,bus=vmcat-vser.0,chardev=qga0,name={QGA_PORT}"]
        self.vm_started = True
        t0 = time.monotonic()
        r = self.vmcat(*argv, timeout=60)
        if r.returncode != 0:
            raise BenchError(f"vmcat up: rc {r.returncode}: "
                             f"{r.stderr.decode(errors='replace').strip()[-400:]}")
        try:
            st = json.loads((self.runtime / VM_NAME / "state.json").read_text())
            self.sup_pid, self.qemu_pid = int(st["supervisor_pid"]), int(st["qemu_pid"])
            self.results.facts["accel"] = st.get("accel", "?")
        except (OSError, ValueError, KeyError) as e:
            raise BenchError(f"state.json: {e}") from e
        r = self.vmcat("wait", VM_NAME, "--timeout", "120", timeout=130)
        if r.returncode != 0:
            raise BenchError(f"vmcat wait: rc {r.returncode}: "
                             f"{r.stderr.decode(errors='replace').strip()[-400:]}")
        t_vmcat = time.monotonic() - t0
        # qemu-ga: started by init once the port's /dev/virtio-ports link exists.
        deadline = time.monotonic() + 60
        last = ""
        while True:
            try:
                c = QgaClient(self.qga_sock, timeout=2)
                try:
                    c.sync()
                    info = c.call("guest-info")
                finally:
                    c.close()
                break
            except (QgaError, OSError, ValueError) as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise BenchError(f"qemu-ga did not answer guest-sync within 60 s ({last}); "
                                 "is the image built with --with-qemu-ga?")
            time.sleep(0.2)
        t_qga = time.monotonic() - t0
        self.results.facts["qemu-ga"] = info.get("version", "?")
        log(f"  vmcat agent answered {t_vmcat:.1f} s after vmcat up, qemu-ga {t_qga:.1f} s")
        self.results.facts["boot"] = (f"vmcat agent answered {t_vmcat:.1f} s after `vmcat up` "
                                      f"started, qemu-ga {t_qga:.1f} s")
        # Facts about the guest.
        try:
            r = vmcat_run(self.ctl, ["sh", "-c", "uname -r; nproc"])
            kver, ncpu = r["out"].decode().split()[:2]
            self.results.facts["guest"] = f"Linux {kver}, {ncpu} vCPU, {self.args.mem} RAM"
            s = VmcatSession(self.ctl)
            self.results.facts["vmcat agent"] = s.reply.get("agent", "?")
            s.close()
        except (BenchError, ValueError) as e:
            self.results.facts["guest"] = f"? ({e})"

    def stop_vm(self) -> None:
        if not self.vm_started:
            return
        self.vm_started = False
        self.close_shared_qga()
        self.force_stop(VM_NAME, self.sup_pid, self.qemu_pid, shown="vmcat stop --force",
                        label="")

    def cleanup(self) -> None:
        try:
            self.stop_vm()
        finally:
            self.procs.kill_all()

    def get_shared_qga(self) -> QgaClient:
        if self.shared_qga is None:
            c = QgaClient(self.qga_sock, timeout=60)
            try:
                c.sync()
            except BaseException:
                c.close()
                raise
            self.shared_qga = c
        return self.shared_qga

    def close_shared_qga(self) -> None:
        # The chardev serves one client at a time: close before a one-shot client.
        if self.shared_qga is not None:
            self.shared_qga.close()
            self.shared_qga = None

    def guest_seconds(self, script: str) -> float:
        """Runs `script` in the guest between two guest clock readings (via the
        vmcat agent; the script's output is discarded); returns guest seconds."""
        r = vmcat_run(self.ctl, ["sh", "-c", f'{GUEST_NOW}; t0=$3; ( {script} ) >/dev/null 2>&1; '
                                 f'{GUEST_NOW}; echo "$t0 $3"'], timeout=120)
        t0, t1 = map(int, r["out"].split())
        return (t1 - t0) / 1e9

    # ---- scenario: exec /bin/true

    def exec(self) -> None:
        a = self.args
        ctl, qs = self.ctl, self.qga_sock
        S = self.results.exec_series
        argv = [a.vmcat, "exec", VM_NAME, "--", "/bin/true"]

        def vmcat_cli(s: Series) -> None:
            t0 = time.monotonic()
            p = self.procs.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=self.env)
            try:
                _, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.procs.kill(p)
                raise BenchError("vmcat exec: no exit within 30 s")
            dt = time.monotonic() - t0
            self.procs.forget(p)
            if p.returncode != 0:
                raise BenchError(f"vmcat exec: rc {p.returncode}: "
                                 f"{err.decode(errors='replace').strip()}")
            s.ms.append(dt * 1000)

        def vmcat_inproc(s: Series) -> None:
            r = vmcat_run(ctl, ["/bin/true"])
            if r["code"] != 0:
                raise BenchError(f"/bin/true exited {r['code']}")
            s.ms.append((r["t_exit"] - r["t_connect"]) * 1000)
            if r["t_started"] is not None:
                s.started_ms.append((r["t_started"] - r["t_connect"]) * 1000)

        def qga_persistent(interval: float):
            def run(s: Series) -> None:
                c = self.get_shared_qga()
                try:
                    st = c.exec_wait("/bin/true", [], interval)
                except BaseException:
                    self.close_shared_qga()
                    raise
                if st.get("exitcode") != 0:
                    raise BenchError(f"guest-exec /bin/true: {st}")
                s.ms.append((st["t_done"] - st["t_exec"]) * 1000)
                s.polls.append(st["polls"])
            return run

        def qga_fresh(interval: float):
            def run(s: Series) -> None:
                self.close_shared_qga()
                st = qga_oneshot(qs, "/bin/true", [], interval)
                if st.get("exitcode") != 0:
                    raise BenchError(f"guest-exec /bin/true: {st}")
                s.ms.append((st["t_done"] - st["t_exec"]) * 1000)
                s.sync_ms.append((st["t_synced"] - st["t_exec"]) * 1000)
                s.polls.append(st["polls"])
            return run

        def host_true(s: Series) -> None:
            t0 = time.monotonic()
            p = self.procs.start(["/bin/true"])
            p.wait(timeout=10)
            s.ms.append((time.monotonic() - t0) * 1000)
            self.procs.forget(p)

        contestants = [
            ("vmcat-cli", "vmcat exec (CLI)",
             "`vmcat exec VM -- /bin/true`: process start to exit", vmcat_cli),
            ("vmcat-inproc", "vmcat in-process",
             "ctl.sock connect + {\"op\":\"agent\"} + EXEC until EXIT", vmcat_inproc),
            ("qga-0", "qemu-ga, poll tight",
             "guest-exec + guest-exec-status in a tight loop, open connection",
             qga_persistent(0.0)),
            ("qga-10", "qemu-ga, poll 10 ms",
             "guest-exec + guest-exec-status every 10 ms, open connection",
             qga_persistent(0.010)),
            ("qga-100", "qemu-ga, poll 100 ms",
             "guest-exec + guest-exec-status every 100 ms, open connection",
             qga_persistent(0.100)),
            ("host-true", "host /bin/true",
             "spawn + reap of /bin/true on the host: the harness's process start cost",
             host_true),
        ]
        gap = a.oneshot_gap
        idle = [
            ("vmcat-cli-idle", f"vmcat exec (CLI), {gap:g} s idle",
             f"as vmcat exec (CLI), each run after {gap:g} s without any exec", vmcat_cli),
            ("qga-1shot-10", f"qemu-ga one-shot, {gap:g} s idle, poll 10 ms",
             f"after {gap:g} s with no qga client: connect + guest-sync-delimited + "
             "guest-exec + status every 10 ms", qga_fresh(0.010)),
            ("qga-1shot-100", f"qemu-ga one-shot, {gap:g} s idle, poll 100 ms",
             f"after {gap:g} s with no qga client: connect + guest-sync-delimited + "
             "guest-exec + status every 100 ms", qga_fresh(0.100)),
        ]
        b2b = ("qga-1shot-b2b", "qemu-ga one-shot, back to back, poll 10 ms",
               "connect + guest-sync-delimited + guest-exec + status every 10 ms, right after "
               "the previous one-shot client closed (a script calling a CLI in a loop)",
               qga_fresh(0.010))
        for key, label, what, _ in contestants + idle + [b2b]:
            S[key] = Series(label, what)
        # Warm-up (unmeasured): page cache, first connections.
        for key, _, _, fn in contestants:
            try:
                fn(Series("", ""))
            except BenchError as e:
                log(f"  warm-up {key}: {e}")
        for i in range(a.runs):
            k = i % len(contestants)
            order = contestants[k:] + contestants[:k]
            for key, _, _, fn in order:
                s = S[key]
                s.attempted += 1
                try:
                    fn(s)
                except BenchError as e:
                    s.failures.append(str(e))
            if (i + 1) % 10 == 0 or i + 1 == a.runs:
                log(f"  round {i + 1}/{a.runs}: " + ", ".join(
                    f"{key} {fmt_num(median(S[key].ms))}" for key, *_ in contestants))
        self.close_shared_qga()
        # One-shot users: a fresh qga connection each time. qemu-ga's cost
        # depends on how long no client was connected (see the notes), so
        # these run apart, each after a fixed idle gap, rotating the order.
        log(f"  one-shot runs after {gap:g} s idle ({a.oneshot_runs} each)")
        for i in range(a.oneshot_runs):
            k = i % len(idle)
            for key, _, _, fn in idle[k:] + idle[:k]:
                s = S[key]
                s.attempted += 1
                time.sleep(gap)
                try:
                    fn(s)
                except BenchError as e:
                    s.failures.append(str(e))
        log("  " + ", ".join(f"{key} {fmt_num(median(S[key].ms))}" for key, *_ in idle))
        key, _, _, fn = b2b
        try:
            fn(Series("", ""))  # so that the first measured run follows a one-shot too
        except BenchError as e:
            log(f"  warm-up {key}: {e}")
        for i in range(a.oneshot_runs):
            s = S[key]
            s.attempted += 1
            try:
                fn(s)
            except BenchError as e:
                s.failures.append(str(e))
        log(f"  {key} {fmt_num(median(S[key].ms))}")
        # The guest's own cost of spawning /bin/true (busybox sh fork+exec+wait).
        try:
            n = 30
            secs = self.guest_seconds(
                f"i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done")
            self.results.guest_spawn_ms = secs / n * 1000
        except (BenchError, ValueError) as e:
            log(f"  guest spawn baseline: {e}")

    # ---- scenario: stream

    def stream_vmcat(self, case: StreamCase) -> None:
        argv = [self.args.vmcat, "exec", VM_NAME, "--", "sh", "-c", case.command]
        errf = open(self.tmp / "stream.stderr", "w+b")
        q0, s0 = proc_cpu_s(self.qemu_pid), proc_cpu_s(self.sup_pid)
        c0, d0 = rusage_cpu_s(resource.RUSAGE_CHILDREN), rusage_cpu_s(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        p = self.procs.start(argv, stdout=subprocess.PIPE, stderr=errf, env=self.env)
        n = 0
        nonzero = False
        fd = p.stdout.fileno()
        deadline = t0 + self.args.stream_timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"no EOF within {self.args.stream_timeout:g} s "
                                     f"({n} bytes)")
                r, _, _ = select.select([fd], [], [], left)
                if not r:
                    continue
                d = os.read(fd, 1 << 20)
                if not d:
                    break
                n += len(d)
                if not nonzero and d.strip(b"\0"):
                    nonzero = True
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
            dt = time.monotonic() - t0
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.procs.kill(p)
            errf.close()
            raise BenchError(str(e)) from e
        self.procs.forget(p)
        p.stdout.close()
        run = StreamRun(dt, n, "—")
        run.client_cpu = rusage_cpu_s(resource.RUSAGE_CHILDREN) - c0
        run.driver_cpu = rusage_cpu_s(resource.RUSAGE_SELF) - d0
        q1, s1 = proc_cpu_s(self.qemu_pid), proc_cpu_s(self.sup_pid)
        run.qemu_cpu = q1 - q0 if None not in (q0, q1) else None
        run.sup_cpu = s1 - s0 if None not in (s0, s1) else None
        errf.seek(0)
        err = errf.read().decode(errors="replace").strip()
        errf.close()
        if p.returncode != 0:
            raise BenchError(f"rc {p.returncode}: {err[-300:]}")
        if n != case.requested or nonzero:
            raise BenchError(f"got {n} bytes (wanted {case.requested} zero bytes)")
        case.runs.append(run)

    def stream_qga(self, case: StreamCase) -> None:
        self.close_shared_qga()
        c = QgaClient(self.qga_sock, timeout=self.args.stream_timeout)
        try:
            c.sync()
            q0 = proc_cpu_s(self.qemu_pid)
            d0 = rusage_cpu_s(resource.RUSAGE_SELF)
            st = c.exec_wait("/bin/sh", ["-c", case.command], self.args.stream_poll / 1000,
                             deadline_s=self.args.stream_timeout)
            data = base64.b64decode(st.get("out-data", ""))
            t1 = time.monotonic()
            d1 = rusage_cpu_s(resource.RUSAGE_SELF)
            q1 = proc_cpu_s(self.qemu_pid)
        finally:
            c.close()
        run = StreamRun(t1 - st["t_exec"], len(data), str(st.get("out-truncated")).lower())
        run.driver_cpu = d1 - d0
        run.qemu_cpu = q1 - q0 if None not in (q0, q1) else None
        if st.get("exitcode") != 0:
            raise BenchError(f"exitcode {st.get('exitcode')}, signal {st.get('signal')}")
        if data.strip(b"\0"):
            raise BenchError("out-data is not all zero bytes")
        expect = min(case.requested, 16 * MIB)
        if len(data) != expect:
            log(f"    qemu-ga returned {len(data)} bytes of {case.requested} "
                f"(out-truncated {run.truncated})")
        run.polls = st["polls"]
        case.runs.append(run)

    def stream(self) -> None:
        a = self.args
        big = a.stream_mib * MIB
        head = "head -c {n} /dev/zero"
        dd = "dd if=/dev/zero bs=65536 count={c} 2>/dev/null"
        groups: list[list[StreamCase]] = []
        for n in (big, 16 * MIB):
            cmd = head.format(n=n)
            groups.append([StreamCase(f"vmcat, {fmt_size(n)}", "vmcat", cmd, n),
                           StreamCase(f"qemu-ga, {fmt_size(n)}", "qemu-ga", cmd, n)])
        for n in (big, 16 * MIB):
            cmd = dd.format(c=n // 65536)
            g = [StreamCase(f"vmcat, {fmt_size(n)}, dd", "vmcat", cmd, n)]
            if n == 16 * MIB or a.qga_big_dd:
                g.append(StreamCase(f"qemu-ga, {fmt_size(n)}, dd", "qemu-ga", cmd, n))
            groups.append(g)
        self.results.stream = [c for g in groups for c in g]
        # The producers alone, in the guest, to /dev/null.
        for n in (big, 16 * MIB):
            for cmd in (head.format(n=n), dd.format(c=n // 65536)):
                try:
                    self.results.producer[cmd] = self.guest_seconds(cmd)
                except (BenchError, ValueError) as e:
                    log(f"  producer alone ({cmd}): {e}")
        for i in range(a.stream_runs):
            # Each vmcat case next to its qemu-ga twin, alternating who goes first.
            for case in [c for g in groups for c in (g if i % 2 == 0 else g[::-1])]:
                try:
                    if case.agent == "vmcat":
                        self.stream_vmcat(case)
                    else:
                        self.stream_qga(case)
                    r = case.runs[-1]
                    log(f"  run {i + 1}: {case.label} ({case.command}): {r.seconds:.2f} s, "
                        f"{r.delivered / MIB:.1f} MiB, {r.delivered / MIB / r.seconds:.2f} MiB/s")
                except (BenchError, OSError, ValueError) as e:
                    case.failures.append(str(e))
                    log(f"  run {i + 1}: {case.label}: FAILED: {e}")

    # ---- scenario: first byte

    def calibrate(self) -> tuple[float, float]:
        """Host monotonic = guest monotonic + offset, offset in [lo, hi]:
        each guest clock reading was taken while its exec was in flight."""
        lo, hi = -math.inf, math.inf
        best = None
        for _ in range(self.args.calib_runs):
            r = vmcat_run(self.ctl, ["sh", "-c", f'{GUEST_NOW}; echo "$3"'])
            g = int(r["out"].split()[0]) / 1e9
            t_send, t_recv = r["t_exec"], r["t_first_out"] or r["t_exit"]
            lo, hi = max(lo, t_send - g), min(hi, t_recv - g)
            if best is None or t_recv - t_send < best[1] - best[0]:
                best = (t_send - g, t_recv - g)
        if lo > hi:  # clocks drifted apart between samples: use the tightest one
            lo, hi = best
        self.results.calib_halfwidth_ms.append((hi - lo) / 2 * 1000)
        return lo, hi

    def firstbyte(self) -> None:
        a = self.args
        script = (f'{GUEST_NOW}; echo "first $3"; sleep {a.sleep:g}; echo done')
        fb = self.results.firstbyte
        fb["vmcat"] = FirstByteCase(
            "vmcat exec (CLI)",
            "`vmcat exec VM -- sh -c SCRIPT`, stdout piped to the driver; spawn until the line")
        fb["qemu-ga"] = FirstByteCase(
            "qemu-ga", "guest-exec /bin/sh -c SCRIPT (capture-output), guest-exec-status every "
            f"{a.stream_poll:g} ms on an open connection; guest-exec sent until the reply "
            "with the line")

        def account(case: FirstByteCase, t0: float, t_first: float, t_end: float,
                    g: float, off: tuple[float, float]) -> FirstByteRun:
            run = FirstByteRun((t_first - t0) * 1000, (t_end - t0) * 1000)
            lo, hi = off
            w_lo, w_hi = g + lo, g + hi  # host time of the guest's write lies in here
            mid = (w_lo + w_hi) / 2
            run.guest_write_ms = (mid - t0) * 1000
            run.delay_ms = (t_first - mid) * 1000
            run.delay_hi_ms = (t_first - w_lo) * 1000
            run.delay_lo_ms = (t_first - w_hi) * 1000
            case.runs.append(run)
            return run

        def vmcat_once() -> FirstByteRun:
            off = self.calibrate()
            argv = [a.vmcat, "exec", VM_NAME, "--", "sh", "-c", script]
            t0 = time.monotonic()
            p = self.procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 env=self.env)
            fd = p.stdout.fileno()
            buf = b""
            t_first = g = None
            try:
                deadline = t0 + a.sleep + 30
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BenchError("no EOF in time")
                    r, _, _ = select.select([fd], [], [], left)
                    if not r:
                        continue
                    d = os.read(fd, 65536)
                    now = time.monotonic()
                    if not d:
                        break
                    buf += d
                    if t_first is None and b"\n" in buf and buf.startswith(b"first "):
                        t_first = now
                        g = int(buf.split(b"\n")[0].split()[1]) / 1e9
                p.wait(timeout=10)
                t_end = time.monotonic()
            except (BenchError, subprocess.TimeoutExpired) as e:
                self.procs.kill(p)
                raise BenchError(str(e)) from e
            self.procs.forget(p)
            p.stdout.close()
            if p.returncode != 0 or t_first is None or not buf.endswith(b"done\n"):
                raise BenchError(f"rc {p.returncode}, output {buf[:200]!r}")
            return account(fb["vmcat"], t0, t_first, t_end, g, off)

        def qga_once() -> FirstByteRun:
            off = self.calibrate()
            c = self.get_shared_qga()
            try:
                st = c.exec_wait("/bin/sh", ["-c", script], a.stream_poll / 1000)
            except BaseException:
                self.close_shared_qga()
                raise
            out = base64.b64decode(st.get("out-data", ""))
            if st.get("exitcode") != 0 or not out.startswith(b"first "):
                raise BenchError(f"status {st}")
            g = int(out.split(b"\n")[0].split()[1]) / 1e9
            return account(fb["qemu-ga"], st["t_exec"], st["t_done"], st["t_done"], g, off)

        for i in range(a.firstbyte_runs):
            order = [("vmcat", vmcat_once), ("qemu-ga", qga_once)]
            if i % 2:
                order.reverse()
            for key, fn in order:
                try:
                    r = fn()
                    log(f"  run {i + 1}: {key}: first line after {r.first_ms:.1f} ms "
                        f"(guest wrote it at {fmt_num(r.guest_write_ms)} ms; delay "
                        f"{fmt_num(r.delay_ms)} ms, ≤ {fmt_num(r.delay_hi_ms)}), "
                        f"end {r.exit_ms:.0f} ms")
                except (BenchError, OSError, ValueError) as e:
                    fb[key].failures.append(str(e))
                    log(f"  run {i + 1}: {key}: FAILED: {e}")
        self.close_shared_qga()


# --------------------------------------------------------------------------
# Report


def build_report(res: Results, args: argparse.Namespace) -> dict:
    tables, targets, notes = [], [], []
    S = res.exec_series
    if S:
        pairs = {"vmcat-cli": None, "vmcat-inproc": None, "qga-0": "vmcat-inproc",
                 "qga-10": "vmcat-inproc", "qga-100": "vmcat-inproc",
                 "qga-1shot-10": "vmcat-cli-idle", "qga-1shot-100": "vmcat-cli-idle",
                 "qga-1shot-b2b": "vmcat-cli", "host-true": None}
        rows = []
        for key, s in S.items():
            ref = pairs.get(key)
            ratio = (f"{fmt_ratio(median(s.ms), median(S[ref].ms))} vs {S[ref].label}"
                     if ref and ref in S else "")
            rows.append([s.label, f"{len(s.ms)}/{s.attempted}", fmt_num(median(s.ms), 2),
                         fmt_num(p90(s.ms), 2), fmt_num(min(s.ms) if s.ms else None, 2),
                         fmt_num(median(s.polls), 0) if s.polls else "", ratio, s.what])
        tables.append((f"`exec /bin/true` round trip (ms; {args.runs} runs each, interleaved; "
                       f"one-shot and idle rows {args.oneshot_runs} runs each)",
                       ["Contestant", "ok", "median", "p90", "min", "polls", "qemu-ga ÷ vmcat",
                        "What is timed"], rows))

        def ratio_target(q: str, v: str, desc: str) -> None:
            if q in S and v in S:
                mq, mv = median(S[q].ms), median(S[v].ms)
                ok = None if mq is None or mv is None else mq / mv >= EXEC_TARGET_RATIO
                targets.append((desc, verdict(ok),
                                f"{fmt_num(mv, 2)} ms vs {fmt_num(mq, 2)} ms = "
                                f"{fmt_ratio(mq, mv)}"))
        gap = f"{args.oneshot_gap:g} s"
        ratio_target("qga-1shot-10", "vmcat-cli-idle",
                     f"exec true, one-shot user ({gap} idle before each run): `vmcat exec` CLI "
                     "≥ 5× faster than qemu-ga connect + guest-sync-delimited + guest-exec + "
                     "status every 10 ms")
        ratio_target("qga-1shot-100", "vmcat-cli-idle",
                     f"exec true, one-shot user ({gap} idle), libvirt-style 100 ms polling: ≥ 5×")
        ratio_target("qga-1shot-b2b", "vmcat-cli",
                     "exec true, one-shot calls back to back (a loop): `vmcat exec` CLI ≥ 5× "
                     "faster than qemu-ga connect + sync + guest-exec + status every 10 ms")
        ratio_target("qga-10", "vmcat-inproc",
                     "exec true, per call on an open connection: vmcat in-process ≥ 5× faster "
                     "than guest-exec + status every 10 ms")
        ratio_target("qga-100", "vmcat-inproc",
                     "exec true, per call on an open connection, 100 ms polling: ≥ 5×")
        if "vmcat-inproc" in S and S["vmcat-inproc"].started_ms:
            notes.append(f"vmcat in-process: STARTED arrived after a median "
                         f"{median(S['vmcat-inproc'].started_ms):.2f} ms, EXIT after "
                         f"{median(S['vmcat-inproc'].ms):.2f} ms (from connecting to ctl.sock).")
        for key, s in S.items():
            if s.sync_ms:
                notes.append(f"{s.label}: connect + guest-sync-delimited took a median "
                             f"{median(s.sync_ms):.1f} ms (p90 {p90(s.sync_ms):.1f}, min "
                             f"{min(s.sync_ms):.1f}) of the {median(s.ms):.1f} ms.")
        if any(s.sync_ms for s in S.values()):
            notes.append("Why one-shot qemu-ga depends on timing: when its host client goes "
                         "away, qemu-ga's virtio-serial read returns EOF/EAGAIN and it sleeps "
                         "100 ms per turn (usleep(100*1000) in channel_event_cb, qga/main.c), "
                         "blocking its main loop; a client connecting in that phase waits for "
                         "the sleep to end (~100 ms right after a close, less later); after "
                         "longer idle the handshake is quicker again.")
        if res.guest_spawn_ms is not None:
            notes.append(f"Guest floor: busybox sh in the guest spawns and reaps /bin/true "
                         f"in {res.guest_spawn_ms:.2f} ms (mean of 30, timed in the guest); "
                         "both agents pay a spawn like this per exec.")
        for key, s in S.items():
            if s.failures:
                notes.append(f"{s.label}: {len(s.failures)} failed runs, e.g. {s.failures[0]}")

    if res.stream:
        rows = []
        by_label = {c.label: c for c in res.stream}
        for c in res.stream:
            prod = res.producer.get(c.command)
            rows.append([c.label, f"{len(c.runs)}/{len(c.runs) + len(c.failures)}",
                         fmt_size(c.requested),
                         fmt_size(int(median([r.delivered for r in c.runs]))) if c.runs else "—",
                         c.runs[-1].truncated if c.runs else "—",
                         fmt_num(c.med("seconds"), 2), fmt_num(c.mibps(), 2),
                         fmt_num(c.requested / MIB / prod, 1) if prod else "—",
                         fmt_num(c.med("qemu_cpu"), 2), fmt_num(c.med("sup_cpu"), 2),
                         fmt_num(c.med("client_cpu"), 2), fmt_num(c.med("driver_cpu"), 2),
                         c.command])
        tables.append((f"Command output streamed to the host (median of {args.stream_runs}; "
                       "MiB/s = delivered bytes / wall time)",
                       ["Contestant", "ok", "asked", "delivered", "out-truncated", "s", "MiB/s",
                        "producer alone MiB/s", "QEMU CPU s", "supervisor CPU s",
                        "vmcat CLI CPU s", "driver CPU s", "Command"], rows))

        def stream_target(v: str, q: str, desc: str) -> None:
            cv, cq = by_label.get(v), by_label.get(q)
            if cv and cq:
                mv, mq = cv.mibps(), cq.mibps()
                ok = None if mv is None or mq is None else mv / mq >= STREAM_TARGET_RATIO
                targets.append((desc, verdict(ok),
                                f"{fmt_num(mv, 2)} vs {fmt_num(mq, 2)} MiB/s = "
                                f"{fmt_ratio(mv, mq)}"))
        big = fmt_size(args.stream_mib * MIB)
        stream_target(f"vmcat, {big}", f"qemu-ga, {big}",
                      f"stream {big} of `head -c` output: vmcat ≥ 10× qemu-ga's throughput "
                      "(qemu-ga's counted on the bytes it delivered)")
        stream_target("vmcat, 16 MiB", "qemu-ga, 16 MiB",
                      "stream 16 MiB of `head -c` output (both deliver all): vmcat ≥ 10×")
        stream_target("vmcat, 16 MiB, dd", "qemu-ga, 16 MiB, dd",
                      "stream 16 MiB from `dd bs=64k` (not producer-bound): vmcat ≥ 10×")
        for c in res.stream:
            if c.failures:
                notes.append(f"stream {c.label}: {len(c.failures)} failed runs, e.g. "
                             f"{c.failures[0]}")
        qbig = by_label.get(f"qemu-ga, {big}")
        if qbig and qbig.runs:
            r = qbig.runs[-1]
            notes.append(f"qemu-ga with {big} asked: guest-exec-status returned "
                         f"{fmt_size(r.delivered)} of out-data with out-truncated={r.truncated}, "
                         f"exitcode 0 and no error: the rest is read and dropped silently "
                         f"(qemu-ga's 16 MiB cap, GUEST_EXEC_MAX_OUTPUT).")

    fb = res.firstbyte
    if fb:
        rows = []
        for key, c in fb.items():
            rows.append([c.label, f"{len(c.runs)}/{len(c.runs) + len(c.failures)}",
                         fmt_num(c.med("first_ms")), fmt_num(c.med("guest_write_ms")),
                         fmt_num(c.med("delay_ms")), fmt_num(c.med("delay_hi_ms")),
                         fmt_num(c.med("exit_ms"), 0), c.how])
        tables.append((f"First output byte of `sh -c 'echo first; sleep {args.sleep:g}; echo "
                       f"done'` (ms, median of {args.firstbyte_runs})",
                       ["Contestant", "ok", "exec → host has \"first\"",
                        "exec → guest writes it", "guest write → host", "(upper bound)",
                        "exec → end", "How"], rows))
        v = fb.get("vmcat")
        if v and v.runs:
            worst = max(r.delay_hi_ms for r in v.runs)
            targets.append(("first byte: vmcat delivers the line within 50 ms of the guest "
                            "writing it", verdict(worst <= FIRSTBYTE_TARGET_MS),
                            f"median {fmt_num(v.med('delay_ms'))} ms, worst upper bound "
                            f"{worst:.1f} ms"))
        if res.calib_halfwidth_ms:
            notes.append("Guest clock mapping: the guest prints CLOCK_MONOTONIC (/proc/timer_list"
                         f") before `echo first`; {args.calib_runs} calibration execs of the same "
                         "read just before each run bound the host-guest offset to "
                         f"±{median(res.calib_halfwidth_ms):.2f} ms (median half-width); "
                         "'guest write → host' is the midpoint, the upper bound uses the "
                         "offset interval's edge.")
        for key, c in fb.items():
            if c.failures:
                notes.append(f"first byte {c.label}: {len(c.failures)} failed runs, e.g. "
                             f"{c.failures[0]}")
    for e in res.errors:
        notes.append(f"Scenario error: {e}")
    return {"tables": tables, "targets": targets, "notes": notes}


def machine_facts(args: argparse.Namespace, res: Results) -> list[tuple[str, str]]:
    manifest = {}
    try:
        for line in (args.image / "manifest.txt").read_text().splitlines():
            k, _, v = line.partition("=")
            manifest[k] = v
    except OSError:
        pass
    qemu = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    f = res.facts
    return [
        ("Date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("Host CPUs (nproc)", f"{len(os.sched_getaffinity(0))} of {os.cpu_count()}"),
        ("CPU", cpu_description()),
        ("Host kernel", platform.release()),
        ("QEMU", f"{first_line([qemu, '--version'])}, accel {f.get('accel', 'tcg (asked)')}"),
        ("Guest", f"{f.get('guest', '?')}; image {args.image} "
                  f"(kernel {manifest.get('kernel_release', '?')})"),
        ("vmcat", f"{first_line([args.vmcat, '--version'])} at commit {git_commit()}; "
                  f"agent in the guest: {f.get('vmcat agent', '?')}"),
        ("qemu-ga", f"{f.get('qemu-ga', '?')} (package qemu-guest-agent "
                    f"{manifest.get('qemu_ga_package_version', '?')}), "
                    "virtio-serial port org.qemu.guest_agent.0 on a QEMU chardev socket"),
        ("Boot", f.get("boot", "?")),
        ("Host load", f"load average {f.get('loadavg', '?')} at the start; the host's CPUs "
                      f"were {f.get('busy', '?')} busy during the run (everything: this "
                      "guest's QEMU, the driver, and anything else running)"),
        ("Python", platform.python_version()),
    ]


# The last paragraph of the markdown section.
MARKDOWN_EXPLANATION = (
    "Both agents run in the same guest (one VM, TCG, 1 vCPU). vmcat is driven "
    "through its supervisor (`vmcat exec`, or this driver speaking the agent "
    "protocol on ctl.sock); qemu-ga through a QEMU chardev socket on its own "
    "virtio-serial port, by a Python client in the driver (no QMP, no libvirt, no "
    "process start). Times are from the driver's CLOCK_MONOTONIC; p90 is the "
    "nearest-rank 90th percentile. CPU columns: QEMU and supervisor from "
    "/proc/PID/task/*/schedstat, the vmcat CLI from its rusage, the driver's own "
    "(reading, base64 decoding) from its rusage.")


# --------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argument_parser(__doc__, vmcat_help="static vmcat binary, used on the host and put "
                                             "into the image")
    ap.add_argument("--image", type=Path,
                    help="directory with vmlinuz and initramfs.cpio.gz of an image built with "
                         "--with-qemu-ga (default: what `images/build-image.sh --with-qemu-ga "
                         "--vmcat VMCAT -q` prints)")
    ap.add_argument("--mem", default="512M", help="guest memory (default 512M)")
    ap.add_argument("--append", default="console=ttyS0 quiet",
                    help="kernel command line (default 'console=ttyS0 quiet')")
    ap.add_argument("--only", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true",
                    help="fewer runs: a smoke test, not a measurement")
    ap.add_argument("--runs", type=int, help="exec true runs per contestant (default 30; "
                                             "--quick 10)")
    ap.add_argument("--oneshot-runs", type=int,
                    help="runs per one-shot contestant (default 15; --quick 5)")
    ap.add_argument("--oneshot-gap", type=float, default=1.0,
                    help="idle seconds before each idle one-shot run (default 1)")
    ap.add_argument("--stream-runs", type=int, help="runs per stream case (default 3; --quick 1)")
    ap.add_argument("--stream-mib", type=int, default=100, help="big stream size (default 100)")
    ap.add_argument("--stream-poll", type=float, default=10.0,
                    help="qemu-ga guest-exec-status interval in ms for the stream and first "
                         "byte scenarios (default 10)")
    ap.add_argument("--stream-timeout", type=float, default=120.0,
                    help="seconds a stream run may take (default 120)")
    ap.add_argument("--qga-big-dd", action="store_true",
                    help="also run qemu-ga with the big dd producer (it truncates to 16 MiB)")
    ap.add_argument("--firstbyte-runs", type=int, help="runs per agent (default 3; --quick 1)")
    ap.add_argument("--sleep", type=float, default=5.0,
                    help="seconds the first-byte command sleeps (default 5)")
    ap.add_argument("--calib-runs", type=int, default=8,
                    help="clock calibration execs before each first-byte run (default 8)")
    ap.add_argument("--markdown", type=Path, help="also write the results as markdown to FILE")
    ap.add_argument("--keep-tmp", action="store_true",
                    help="keep the temporary directory (runtime dir, logs) for inspection")
    args = ap.parse_args(argv)
    q = args.quick
    args.runs = args.runs or (10 if q else 30)
    args.stream_runs = args.stream_runs or (1 if q else 3)
    args.oneshot_runs = args.oneshot_runs or (5 if q else 15)
    args.firstbyte_runs = args.firstbyte_runs or (1 if q else 3)
    args.scenarios = select_scenarios(ap, args.only, SCENARIOS)
    if not os.access(args.vmcat, os.X_OK):
        ap.error(f"{args.vmcat}: not an executable (build it: cmake -S . -B /tmp/build-agentbench "
                 "-G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DVMCAT_TESTS=OFF && ninja -C "
                 "/tmp/build-agentbench vmcat; then pass --vmcat or set $VMCAT)")
    args.vmcat = os.path.abspath(args.vmcat)
    cmd = [str(REPO / "images" / "build-image.sh"), "--with-qemu-ga", "--vmcat", args.vmcat, "-q"]
    args.image = find_image(ap, args.image, cmd, shown=" ".join(cmd))
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    exit_on_signals("agent_bench")
    # The command line, without the output and path options.
    command = command_line("bench/agent_bench.py", argv,
                           skip_with_value={"--markdown", "--vmcat", "--image"})
    busy0 = cpu_busy_counters()
    loadavg = load_average()
    tmp = Path(tempfile.mkdtemp(prefix="vmcat-agent-bench-"))
    bench = Bench(args, tmp)
    t_start = time.monotonic()
    log(f"agent_bench: image {args.image}, scenarios {', '.join(args.scenarios)}")
    try:
        try:
            log("starting the VM (both agents)")
            bench.start_vm()
            for name in args.scenarios:
                log(f"{name}:")
                try:
                    getattr(bench, name)()
                except (BenchError, OSError, ValueError) as e:
                    log(f"  {name} FAILED: {e}")
                    bench.results.errors.append(f"{name}: {e}")
                    bench.close_shared_qga()
        except BenchError as e:
            log(f"FAILED: {e}")
            bench.results.errors.append(str(e))
        except KeyboardInterrupt:
            log("agent_bench: interrupted: cleaning up")
            bench.results.errors.append("interrupted (SIGINT): the results are partial")
    finally:
        bench.cleanup()
        remove_tmp(tmp, args.keep_tmp)
    log(f"done in {time.monotonic() - t_start:.0f} s")
    busy1 = cpu_busy_counters()
    bench.results.facts["loadavg"] = loadavg
    if busy1[1] > busy0[1]:
        bench.results.facts["busy"] = f"{(busy1[0] - busy0[0]) / (busy1[1] - busy0[1]):.0%}"
    facts = machine_facts(args, bench.results)
    report = build_report(bench.results, args)
    print()
    print(render_report_text("vmcat agent vs qemu-guest-agent", facts, report, command))
    if args.markdown:
        args.markdown.write_text(render_report_markdown(DOC_SECTION, facts, report, command,
                                                         MARKDOWN_EXPLANATION))
    return 1 if bench.results.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
