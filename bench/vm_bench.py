#!/usr/bin/python3
"""Benchmark vmcat's VM services: the HMP monitor, start-up and the idle supervisor.

Scenarios (select with --only; they run in the order startup, idle, hmp), each
with its contestants side by side in one run:

  hmp      One HMP `info status` round trip, end to end as a user runs it
           (process start to exit), --hmp-runs sequential runs per client,
           interleaved (the order rotates every round), all against the same
           running VM and all through the supervisor's monitor.sock:
             vmcat    `vmcat monitor NAME info status`
             socat    `echo 'info status' | socat - UNIX-CONNECT:monitor.sock`
                      (the line is piped in by this driver, as a shell's echo would)
             nc       the seed article's
                      `cat <(echo 'info status'; sleep 1) | nc -U monitor.sock`
                      run via bash -c
             nc -N    the same with -N (shut down the sending side at EOF)
             true     /bin/true: the cost of starting a process in this harness
           Each run must print "VM status: running"; the time until that text
           arrived is reported too. A run that has not exited after
           --hmp-timeout seconds is killed and counted as failed; after
           --give-up consecutive such runs that client is not run again.
  startup  From launch until QMP answers, --startup-runs runs each (after one
           unmeasured warm-up run each), alternating which goes first:
             qemu     qemu-system-x86_64 -accel tcg ... -qmp unix:PATH,server=on,wait=off:
                      until a client that poll-connects in a tight loop has
                      the greeting and the answers to qmp_capabilities and
                      query-status; then QEMU is killed
             vmcat    the wall time of `vmcat up` (it returns once QMP answers);
                      then `vmcat stop --force`
  idle     The supervisor of a VM whose guest has booted (`vmcat-guest: ready`
           in serial.log) and then idled --idle-wait s: VmRSS, Pss, open
           descriptors; its CPU time over a --cpu-window s window
           (utime+stime from /proc/PID/stat in clock ticks, plus the exact
           run time from /proc/PID/schedstat) and wake-ups (context switches);
           memory again after one `vmcat monitor`, one `vmcat logs` and one
           socat on monitor.sock, once it has idled --idle-wait s again. If
           hmp runs too, it uses the same VM afterwards and the memory is
           sampled once more, --idle-wait s after it.

The VMs run under a private runtime directory ($VMCAT_RUNTIME_DIR) that is
removed at the end. Every VM is stopped with `vmcat stop --force` and its
supervisor and QEMU are killed if still alive, and every process started
here runs in its own process group and is killed on every exit path.
Only UNIX sockets are used.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import select
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (REPO, BenchError, VmBench, argument_parser, command_line, cpu_busy_counters,
                      cpu_description, exit_on_signals, find_image, first_line, fmt_num, git_commit,
                      load_average, log, median, p90, proc_alive, proc_runtime_ns, remove_tmp,
                      render_report_markdown, render_report_text, select_scenarios, verdict)

DOC_SECTION = "## vmcat VM services: monitor, start-up, idle supervisor"
SCENARIOS = ["startup", "idle", "hmp"]  # run in this order
ANSWER = b"VM status: running"
READY_LINE = "vmcat-guest: ready"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets
HMP_TARGET_MS = 30.0
STARTUP_TARGET_MS = 1000.0
RSS_TARGET_KIB = 2048
IDLE_CPU_TARGET = 0.001  # share of one CPU over the window: 10 ms per 10 s


# --------------------------------------------------------------------------
# Processes and /proc


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(value: str) -> int:
    """'1888 kB' -> 1888."""
    return int(value.split()[0])


def proc_pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return kib(line.split(":", 1)[1])
    raise BenchError(f"no Pss in /proc/{pid}/smaps_rollup")


def proc_cpu_ticks(pid: int) -> int:
    """utime + stime of the whole process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return int(fields[11]) + int(fields[12])


def proc_fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class BusyMeter:
    """The machine's CPU use over an interval (everything, ours included)."""

    def __init__(self) -> None:
        self.start = cpu_busy_counters()

    def share(self) -> float:
        busy, total = cpu_busy_counters()
        dt = total - self.start[1]
        return (busy - self.start[0]) / dt if dt > 0 else 0.0


# --------------------------------------------------------------------------
# Results


@dataclass
class HmpResult:
    label: str
    command: str
    exit_ms: list[float] = field(default_factory=list)      # runs that exited with the answer
    answer_ms: list[float] = field(default_factory=list)    # runs where the answer arrived
    attempted: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: int = 0


@dataclass
class StartupResult:
    label: str
    command: str
    ms: list[float] = field(default_factory=list)
    attempted: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class MemSample:
    rss_kib: int
    hwm_kib: int
    pss_kib: int
    fds: int | None
    threads: int


@dataclass
class IdleResult:
    boot_s: float | None = None
    idle: MemSample | None = None
    window_s: float = 0.0
    cpu_ticks: int | None = None
    cpu_runtime_ns: int | None = None
    ctxt_switches: int | None = None
    qemu_cpu_ms: float | None = None
    exercised: MemSample | None = None
    exercise_errors: list[str] = field(default_factory=list)
    after_hmp: MemSample | None = None
    after_hmp_sessions: int = 0
    busy_share: float | None = None


@dataclass
class Results:
    hmp: list[HmpResult] = field(default_factory=list)
    hmp_busy: float | None = None
    startup: dict[str, StartupResult] = field(default_factory=dict)
    startup_busy: float | None = None
    idle: IdleResult | None = None
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# The benchmark


class Bench(VmBench):
    def __init__(self, args: argparse.Namespace, tmp: Path):
        super().__init__(args, tmp)
        self.vms: list[str] = []  # names started and not yet cleaned up
        self.results = Results()
        self.kernel = str(args.image / "vmlinuz")
        self.initrd = str(args.image / "initramfs.cpio.gz")

    # ---- vmcat helpers

    def up_argv(self, name: str) -> list[str]:
        argv = [self.args.vmcat, "up", "--name", name, "--kernel", self.kernel,
                "--initrd", self.initrd, "--append", self.args.append, "--mem", self.args.mem]
        for n in self.args.net:
            argv += ["--net", n]
        return argv

    def vm_dir(self, name: str) -> Path:
        return self.runtime / name

    def vm_pids(self, name: str) -> tuple[int, int]:
        st = json.loads((self.vm_dir(name) / "state.json").read_text())
        return int(st.get("supervisor_pid", 0)), int(st.get("qemu_pid", 0))

    def stop_vm(self, name: str) -> None:
        """`vmcat stop --force`, then make sure supervisor and QEMU are gone."""
        if name not in self.vms:
            return
        self.vms.remove(name)
        try:
            sup, qemu = self.vm_pids(name)
        except (OSError, ValueError):
            sup, qemu = 0, 0
        self.force_stop(name, sup, qemu, shown=f"vmcat stop {name} --force", label=f"{name}: ")

    def start_vm(self, name: str) -> tuple[float, int, int]:
        """`vmcat up`; returns (wall seconds, supervisor pid, qemu pid)."""
        self.vms.append(name)
        t0 = time.perf_counter()
        p = self.procs.start(self.up_argv(name), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.procs.kill(p)
            raise BenchError(f"vmcat up {name}: no exit within 60 s")
        dt = time.perf_counter() - t0
        self.procs.forget(p)
        if p.returncode != 0:
            raise BenchError(f"vmcat up {name}: rc {p.returncode}: "
                             f"{err.decode(errors='replace').strip()[-400:]}")
        sup, qemu = self.vm_pids(name)
        return dt, sup, qemu

    def wait_guest_ready(self, name: str, timeout: float = 120) -> float:
        log_path = self.vm_dir(name) / "serial.log"
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                if READY_LINE in log_path.read_text(errors="replace"):
                    return time.monotonic() - t0
            except OSError:
                pass
            sup, _ = self.vm_pids(name)
            if not proc_alive(sup):
                raise BenchError(f"VM {name} ended while booting")
            time.sleep(0.05)
        raise BenchError(f"VM {name}: no '{READY_LINE}' in serial.log after {timeout:g} s")

    def cleanup(self) -> None:
        for name in list(self.vms):
            self.stop_vm(name)
        self.procs.kill_all()

    # ---- scenario: start-up

    def qemu_startup_once(self, n: int) -> float:
        qmp = self.tmp / f"qmp-{n}.sock"
        try:
            qmp.unlink()
        except FileNotFoundError:
            pass
        argv = [self.args.qemu, "-accel", "tcg", "-display", "none", "-nodefaults",
                "-m", self.args.mem, "-kernel", self.kernel, "-initrd", self.initrd,
                "-append", self.args.append, "-qmp", f"unix:{qmp},server=on,wait=off",
                "-serial", "null"]
        errlog = open(self.tmp / f"qemu-{n}.stderr", "w+b")
        deadline = 60.0
        t0 = time.perf_counter()
        p = self.procs.start(argv, stdout=subprocess.DEVNULL, stderr=errlog)
        try:
            while True:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(str(qmp))
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    s.close()
                if p.poll() is not None:
                    errlog.seek(0)
                    raise BenchError(f"QEMU exited with {p.returncode}: "
                                     f"{errlog.read().decode(errors='replace').strip()[-400:]}")
                if time.perf_counter() - t0 > deadline:
                    raise BenchError("QMP socket did not accept within 60 s")
                if self.args.poll_interval > 0:
                    time.sleep(self.args.poll_interval)
            with s:
                s.settimeout(max(1.0, deadline - (time.perf_counter() - t0)))
                f = s.makefile("rwb", buffering=0)

                def next_message() -> dict:
                    line = f.readline()
                    if not line:
                        raise BenchError("QMP connection closed")
                    return json.loads(line)

                def execute(cmd: str) -> dict:
                    s.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
                    while True:
                        m = next_message()
                        if "return" in m:
                            return m["return"]
                        if "error" in m:
                            raise BenchError(f"QMP {cmd}: {m['error']}")

                greeting = next_message()
                if "QMP" not in greeting:
                    raise BenchError(f"unexpected QMP greeting {greeting!r}")
                execute("qmp_capabilities")
                status = execute("query-status")
                dt = time.perf_counter() - t0
                if status.get("status") != "running":
                    raise BenchError(f"query-status says {status!r}")
            return dt * 1000
        except (OSError, ValueError) as e:
            raise BenchError(f"QMP: {e}") from e
        finally:
            self.procs.kill(p)
            errlog.close()

    def vmcat_startup_once(self, n: int) -> float:
        name = f"startup-{n}"
        try:
            dt, _, _ = self.start_vm(name)
        finally:
            self.stop_vm(name)
        return dt * 1000

    def startup(self) -> None:
        a = self.args
        res = self.results.startup
        res["qemu"] = StartupResult(
            "QEMU alone", "spawn until greeting + qmp_capabilities + query-status answered")
        res["vmcat"] = StartupResult("vmcat up", "wall time of `vmcat up` (returns once QMP "
                                     "answers)")
        runners = {"qemu": self.qemu_startup_once, "vmcat": self.vmcat_startup_once}
        # One unmeasured warm-up each (page cache, first exec of the binaries).
        for key in ("qemu", "vmcat"):
            try:
                runners[key](0)
            except BenchError as e:
                log(f"  warm-up {key}: {e}")
        meter = BusyMeter()
        for i in range(1, a.startup_runs + 1):
            order = ["qemu", "vmcat"] if i % 2 else ["vmcat", "qemu"]
            shown = []
            for key in order:
                r = res[key]
                r.attempted += 1
                try:
                    ms = runners[key](i)
                    r.ms.append(ms)
                    shown.append(f"{key} {ms:.0f} ms")
                except BenchError as e:
                    r.failures.append(str(e))
                    shown.append(f"{key} FAILED ({e})")
            log(f"  run {i}: " + ", ".join(shown))
        self.results.startup_busy = meter.share()

    # ---- scenario: idle supervisor

    def mem_sample(self, pid: int) -> MemSample:
        st = proc_status(pid)
        return MemSample(kib(st["VmRSS"]), kib(st["VmHWM"]), proc_pss_kib(pid),
                         proc_fd_count(pid), int(st["Threads"]))

    def shared_vm(self) -> str:
        """The VM the idle and hmp scenarios use: started once, guest booted."""
        name = "bench"
        if name in self.vms:
            return name
        log("  starting the VM for the idle/hmp scenarios")
        self.start_vm(name)
        boot = self.wait_guest_ready(name)
        if self.results.idle is None:
            self.results.idle = IdleResult()
        self.results.idle.boot_s = boot
        log(f"  guest ready {boot:.1f} s after vmcat up returned")
        return name

    def idle(self) -> None:
        a = self.args
        res = self.results.idle = IdleResult()
        name = self.shared_vm()
        sup, qemu = self.vm_pids(name)
        log(f"  idling {a.idle_wait:g} s, then sampling supervisor pid {sup} "
            f"for {a.cpu_window:g} s")
        time.sleep(a.idle_wait)
        res.idle = self.mem_sample(sup)
        st0 = proc_status(sup)
        ticks0, rt0, q0 = proc_cpu_ticks(sup), proc_runtime_ns(sup), proc_cpu_ticks(qemu)
        meter = BusyMeter()
        t0 = time.monotonic()
        time.sleep(a.cpu_window)
        ticks1, rt1, q1 = proc_cpu_ticks(sup), proc_runtime_ns(sup), proc_cpu_ticks(qemu)
        res.window_s = time.monotonic() - t0
        res.busy_share = meter.share()
        st1 = proc_status(sup)
        res.cpu_ticks = ticks1 - ticks0
        if rt0 is not None and rt1 is not None:
            res.cpu_runtime_ns = rt1 - rt0

        def switches(st: dict[str, str]) -> int:
            return int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])
        res.ctxt_switches = switches(st1) - switches(st0)
        res.qemu_cpu_ms = (q1 - q0) * 1000 / CLK_TCK
        # Exercise it once each way, then sample memory again.
        sock = str(self.vm_dir(name) / "monitor.sock")
        r = self.vmcat("monitor", name, "info", "status", timeout=10)
        if r.returncode != 0 or ANSWER not in r.stdout:
            res.exercise_errors.append(f"vmcat monitor: rc {r.returncode}, "
                                       f"output {r.stdout[-200:]!r}")
        r = self.vmcat("logs", name, timeout=10)
        if r.returncode != 0 or READY_LINE.encode() not in r.stdout:
            res.exercise_errors.append(f"vmcat logs: rc {r.returncode}, {len(r.stdout)} bytes")
        p = self.procs.start([a.socat, "-", f"UNIX-CONNECT:{sock}"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, _ = p.communicate(b"info status\n", timeout=10)
            self.procs.forget(p)
            if ANSWER not in out:
                res.exercise_errors.append(f"socat: output {out[-200:]!r}")
        except subprocess.TimeoutExpired:
            self.procs.kill(p)
            res.exercise_errors.append("socat: no exit within 10 s")
        time.sleep(a.idle_wait)  # idle again, as before the first sample
        res.exercised = self.mem_sample(sup)

    # ---- scenario: HMP round trip

    def run_client(self, argv: list[str], stdin_data: bytes | None,
                   timeout: float) -> tuple[float | None, float | None, str | None]:
        """Runs one client; returns (ms to exit, ms to answer, error or None)."""
        t0 = time.perf_counter()
        p = self.procs.start(argv, stdin=subprocess.PIPE if stdin_data is not None
                             else subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env)
        if stdin_data is not None:
            try:
                p.stdin.write(stdin_data)
                p.stdin.close()
            except BrokenPipeError:
                pass
        out = bytearray()
        err = bytearray()
        answer_at = None
        open_fds = {p.stdout.fileno(): out, p.stderr.fileno(): err}
        deadline = t0 + timeout
        timed_out = False
        while open_fds:
            left = deadline - time.perf_counter()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select(list(open_fds), [], [], left)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    del open_fds[fd]
                    continue
                open_fds[fd].extend(chunk)
                if answer_at is None and fd == p.stdout.fileno() and ANSWER in out:
                    answer_at = time.perf_counter()
        if timed_out:
            self.procs.kill(p)
            rc = None
        else:
            left = max(0.0, deadline - time.perf_counter())
            try:
                rc = p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                self.procs.kill(p)
                rc = None
        exit_at = time.perf_counter()
        self.procs.forget(p)
        p.stdout.close()
        p.stderr.close()
        answer_ms = None if answer_at is None else (answer_at - t0) * 1000
        if rc is None:
            why = "answered" if answer_at is not None else "no answer"
            return None, answer_ms, f"did not exit within {timeout:g} s ({why})"
        exit_ms = (exit_at - t0) * 1000
        if rc != 0:
            return None, answer_ms, (f"exit status {rc}: "
                                     f"{bytes(err).decode(errors='replace').strip()[-200:]}")
        return exit_ms, answer_ms, None

    def hmp(self) -> None:
        a = self.args
        name = self.shared_vm()
        sock = str(self.vm_dir(name) / "monitor.sock")
        q = shlex.quote(sock)
        nc = f"cat <(echo 'info status'; sleep 1) | nc -U {q}"
        nc_n = f"cat <(echo 'info status'; sleep 1) | nc -N -U {q}"
        clients = [
            (HmpResult("vmcat monitor", f"vmcat monitor {name} info status"),
             [a.vmcat, "monitor", name, "info", "status"], None, True),
            (HmpResult("socat", "echo 'info status' | socat - UNIX-CONNECT:monitor.sock"),
             [a.socat, "-", f"UNIX-CONNECT:{sock}"], b"info status\n", True),
            (HmpResult("nc (article)", "cat <(echo 'info status'; sleep 1) | "
                       "nc -U monitor.sock"), ["bash", "-c", nc], None, True),
            (HmpResult("nc -N", "cat <(echo 'info status'; sleep 1) | nc -N -U monitor.sock"),
             ["bash", "-c", nc_n], None, True),
            (HmpResult("/bin/true (start-up floor)", "/bin/true"),
             ["/bin/true"], None, False),
        ]
        if a.no_nc_n:
            clients = [c for c in clients if c[0].label != "nc -N"]
        self.results.hmp = [c[0] for c in clients]
        consecutive_hangs = {c[0].label: 0 for c in clients}
        meter = BusyMeter()
        for i in range(a.hmp_runs):
            k = i % len(clients)
            for res, argv, stdin_data, needs_answer in clients[k:] + clients[:k]:
                if consecutive_hangs[res.label] >= a.give_up:
                    res.skipped += 1
                    continue
                res.attempted += 1
                exit_ms, answer_ms, error = self.run_client(argv, stdin_data, a.hmp_timeout)
                if answer_ms is not None:
                    res.answer_ms.append(answer_ms)
                if error is None and needs_answer and answer_ms is None:
                    error = "exited without 'VM status: running'"
                if error is None:
                    res.exit_ms.append(exit_ms)
                    consecutive_hangs[res.label] = 0
                else:
                    res.failures.append(error)
                    if error.startswith("did not exit"):
                        consecutive_hangs[res.label] += 1
                        if consecutive_hangs[res.label] == a.give_up:
                            log(f"  {res.label}: {a.give_up} runs in a row did not exit: "
                                "not running it again")
            if (i + 1) % 10 == 0 or i + 1 == a.hmp_runs:
                log(f"  round {i + 1}/{a.hmp_runs}: " + ", ".join(
                    f"{r.label} {fmt_num(median(r.exit_ms))} ms" for r in self.results.hmp))
        self.results.hmp_busy = meter.share()
        if self.results.idle is not None:
            sup, _ = self.vm_pids(name)
            time.sleep(a.idle_wait)
            self.results.idle.after_hmp = self.mem_sample(sup)
            self.results.idle.after_hmp_sessions = sum(
                r.attempted for r in self.results.hmp if r.command != "/bin/true")


# --------------------------------------------------------------------------
# Machine facts and output


def machine_facts(args: argparse.Namespace) -> list[tuple[str, str]]:
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
        mem_total = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        mem_total = "?"
    return [
        ("Date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("CPUs (nproc)", f"{len(os.sched_getaffinity(0))} of {os.cpu_count()}"),
        ("CPU", cpu_description(no_virt="no vmx/svm: TCG only")),
        ("Memory", mem_total),
        ("Kernel (uname -r)", platform.release()),
        ("Load average at start", load_average()),
        ("QEMU", first_line([args.qemu, "--version"])),
        ("vmcat", f"{first_line([args.vmcat, '--version'])} at commit {git_commit()} "
                  f"({args.vmcat})"),
        ("socat", first_line([args.socat, "-V"], r"socat version (\S+)")),
        ("nc", first_line(["nc", "-h"], r"(OpenBSD netcat[^)]*\))")),
        ("Python", platform.python_version()),
        ("Guest", f"{args.image}/vmlinuz + initramfs.cpio.gz, --mem {args.mem}, "
                  f"--append '{args.append}'" + "".join(f", --net {n}" for n in args.net)),
    ]


def build_report(res: Results, args: argparse.Namespace) -> dict:
    """Tables (title, header, rows), targets and notes, shared by text and markdown."""
    tables = []
    targets: list[tuple[str, str, str]] = []
    notes: list[str] = []

    if res.hmp:
        rows = []
        for r in res.hmp:
            ok = f"{len(r.exit_ms)}/{r.attempted}"
            if r.skipped:
                ok += f" ({r.skipped} skipped)"
            rows.append([r.label, fmt_num(median(r.exit_ms)), fmt_num(p90(r.exit_ms)),
                         fmt_num(min(r.exit_ms) if r.exit_ms else None),
                         fmt_num(max(r.exit_ms) if r.exit_ms else None),
                         fmt_num(median(r.answer_ms)), ok, r.command])
        tables.append((f"HMP `info status` round trip through monitor.sock, end to end "
                       f"(process start to exit), {args.hmp_runs} runs per client",
                       ["Client", "median ms", "p90 ms", "min ms", "max ms",
                        "answer seen, median ms", "OK runs", "Command"], rows))
        vm = next((r for r in res.hmp if r.label == "vmcat monitor"), None)
        if vm:
            m = median(vm.exit_ms)
            targets.append(("HMP: `vmcat monitor NAME info status` median ≤ 30 ms",
                            verdict(None if m is None else m <= HMP_TARGET_MS),
                            f"{fmt_num(m)} ms, p90 {fmt_num(p90(vm.exit_ms))} ms"))
        for r in res.hmp:
            if r.failures:
                kinds: dict[str, int] = {}
                for f in r.failures:
                    kinds[f] = kinds.get(f, 0) + 1
                notes.append(f"{r.label}: {len(r.failures)} failed run(s): " + "; ".join(
                    f"{n}× {k}" for k, n in kinds.items()))
        if res.hmp_busy is not None:
            notes.append(f"HMP scenario: the machine's CPUs were {res.hmp_busy:.0%} busy on "
                         "average (this benchmark, the idling VM and anything else).")

    if res.startup:
        rows = []
        for r in res.startup.values():
            rows.append([r.label, fmt_num(median(r.ms), 0),
                         fmt_num(min(r.ms) if r.ms else None, 0),
                         fmt_num(max(r.ms) if r.ms else None, 0),
                         f"{len(r.ms)}/{r.attempted}", r.command])
        q, v = res.startup.get("qemu"), res.startup.get("vmcat")
        diff = None
        if q and v and q.ms and v.ms:
            diff = median(v.ms) - median(q.ms)
            rows.append(["vmcat − QEMU (difference of medians)", f"{round(diff):+d}",
                         "", "", "", ""])
        tables.append((f"Start-up: launch until QMP answers, {args.startup_runs} runs each",
                       ["Launcher", "median ms", "min ms", "max ms", "OK runs", "What"], rows))
        targets.append(("Start-up: `vmcat up` ≤ QEMU alone + 1 s (medians)",
                        verdict(None if diff is None else diff <= STARTUP_TARGET_MS),
                        "—" if diff is None else f"{round(diff):+d} ms"))
        for r in res.startup.values():
            if r.failures:
                notes.append(f"Start-up {r.label}: {len(r.failures)} failed run(s): "
                             + "; ".join(r.failures[:3]))
        if res.startup_busy is not None:
            notes.append(f"Start-up scenario: the machine's CPUs were {res.startup_busy:.0%} "
                         "busy on average.")

    idle = res.idle
    if idle is not None and (idle.idle or idle.boot_s):
        rows = []

        def mem_rows(label: str, m: MemSample | None) -> None:
            if m is None:
                return
            rows.append([f"{label}: VmRSS", f"{m.rss_kib} KiB ({m.rss_kib / 1024:.2f} MiB)"])
            rows.append([f"{label}: Pss", f"{m.pss_kib} KiB ({m.pss_kib / 1024:.2f} MiB)"])
            rows.append([f"{label}: VmHWM (peak RSS) / threads / open fds",
                         f"{m.hwm_kib} KiB / {m.threads} / {m.fds}"])
        if idle.boot_s is not None:
            rows.append(["Guest `vmcat-guest: ready` after `vmcat up` returned",
                         f"{idle.boot_s:.1f} s"])
        mem_rows(f"Idle ({args.idle_wait:g} s after ready)", idle.idle)
        if idle.cpu_ticks is not None:
            rows.append([f"Supervisor CPU over {idle.window_s:.1f} s idle (utime+stime)",
                         f"{idle.cpu_ticks * 1000 / CLK_TCK:.0f} ms ({idle.cpu_ticks} ticks "
                         f"of {1000 / CLK_TCK:.0f} ms)"])
        if idle.cpu_runtime_ns is not None:
            rows.append([f"Supervisor CPU over {idle.window_s:.1f} s idle (schedstat)",
                         f"{idle.cpu_runtime_ns / 1e6:.3f} ms "
                         f"({idle.cpu_runtime_ns / 1e9 / idle.window_s:.4%} of a CPU)"])
        if idle.ctxt_switches is not None:
            rows.append([f"Supervisor wake-ups (context switches) over {idle.window_s:.1f} s",
                         f"{idle.ctxt_switches}"])
        if idle.qemu_cpu_ms is not None:
            rows.append(["For comparison: QEMU CPU over the same window (idle guest, TCG)",
                         f"{idle.qemu_cpu_ms:.0f} ms ({idle.qemu_cpu_ms / 10 / idle.window_s:.1f}"
                         " % of a CPU)"])
        mem_rows(f"After 1× vmcat monitor, 1× vmcat logs, 1× socat, then {args.idle_wait:g} s "
                 "idle", idle.exercised)
        mem_rows(f"After the HMP scenario ({idle.after_hmp_sessions} more sessions), then "
                 f"{args.idle_wait:g} s idle", idle.after_hmp)
        tables.append(("Idle supervisor (`vmcat supervise`, pid from state.json)",
                       ["Measure", "Value"], rows))
        samples = [(n, m) for n, m in (("idle", idle.idle), ("after exercising", idle.exercised),
                                       ("after the HMP scenario", idle.after_hmp)) if m]
        for n, m in samples:
            targets.append((f"Idle supervisor: VmRSS ≤ 2 MiB ({n})",
                            verdict(m.rss_kib <= RSS_TARGET_KIB),
                            f"{m.rss_kib / 1024:.2f} MiB, Pss {m.pss_kib / 1024:.2f} MiB"))
        if idle.cpu_ticks is not None:
            exact = idle.cpu_runtime_ns
            cpu_s = exact / 1e9 if exact is not None else idle.cpu_ticks / CLK_TCK
            share = cpu_s / idle.window_s
            targets.append(("Idle supervisor: CPU ~0 (≤ 0.1 % of a CPU) while the VM idles",
                            verdict(share <= IDLE_CPU_TARGET),
                            f"{cpu_s * 1000:.3f} ms in {idle.window_s:.1f} s, "
                            f"{idle.ctxt_switches} wake-ups"))
        if idle.exercise_errors:
            notes.append("Exercising the supervisor: " + "; ".join(idle.exercise_errors))
        if idle.busy_share is not None:
            notes.append(f"Idle window: the machine's CPUs were {idle.busy_share:.0%} busy "
                         "on average (mostly the TCG guest's QEMU).")
    for e in res.errors:
        notes.append(f"Scenario error: {e}")
    return {"tables": tables, "targets": targets, "notes": notes}


# The last paragraph of the markdown section.
MARKDOWN_EXPLANATION = ("End to end times are measured by the driver (Python) from before it "
                        "spawns the client until it has reaped it, so each includes the cost of "
                        "starting a process (the `/bin/true` row). p90 is the nearest-rank 90th "
                        "percentile. \"Answer seen\" is when `VM status: running` reached the "
                        "driver through the client's stdout. socat's input line is written to its "
                        "stdin by the driver (as `echo … |` would); the nc commands run via "
                        "`bash -c`. Start-up runs alternate which launcher goes first, after one "
                        "unmeasured warm-up each.")


# --------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64") or
                    "qemu-system-x86_64", help="QEMU for the start-up comparison")
    ap.add_argument("--socat", default=shutil.which("socat") or "/usr/bin/socat")
    ap.add_argument("--image", type=Path,
                    help="directory with vmlinuz and initramfs.cpio.gz "
                         "(default: what images/build-image.sh -q prints)")
    ap.add_argument("--mem", default="256M", help="guest memory (default 256M)")
    ap.add_argument("--append", default="console=ttyS0 quiet",
                    help="kernel command line (default 'console=ttyS0 quiet')")
    ap.add_argument("--net", action="append", default=[],
                    help="pass --net SPEC to vmcat up for the idle/hmp VM and the start-up "
                         "runs (default: no network, like the QEMU-alone command)")
    ap.add_argument("--only", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true",
                    help="fewer runs and shorter waits: a smoke test, not a measurement")
    ap.add_argument("--hmp-runs", type=int, help="runs per HMP client (default 50; --quick 10)")
    ap.add_argument("--hmp-timeout", type=float, default=3.0,
                    help="seconds an HMP client may take before it is killed (default 3)")
    ap.add_argument("--give-up", type=int, default=3,
                    help="stop running an HMP client after this many consecutive runs that "
                         "did not exit (default 3)")
    ap.add_argument("--no-nc-n", action="store_true", help="leave out the `nc -N` variant")
    ap.add_argument("--startup-runs", type=int,
                    help="start-up runs per launcher (default 10; --quick 3)")
    ap.add_argument("--poll-interval", type=float, default=0.0,
                    help="seconds between QMP connect attempts for QEMU alone "
                         "(default 0: a tight loop)")
    ap.add_argument("--idle-wait", type=float,
                    help="seconds to idle after the guest is ready (default 5; --quick 2)")
    ap.add_argument("--cpu-window", type=float,
                    help="seconds over which idle CPU is measured (default 10; --quick 3)")
    ap.add_argument("--markdown", type=Path, help="also write the results as markdown to FILE")
    ap.add_argument("--keep-tmp", action="store_true",
                    help="keep the temporary directory (runtime dirs, logs) for inspection")
    args = ap.parse_args(argv)
    q = args.quick
    args.hmp_runs = args.hmp_runs or (10 if q else 50)
    args.startup_runs = args.startup_runs or (3 if q else 10)
    args.idle_wait = args.idle_wait if args.idle_wait is not None else (2.0 if q else 5.0)
    args.cpu_window = args.cpu_window if args.cpu_window is not None else (3.0 if q else 10.0)
    args.scenarios = select_scenarios(ap, args.only, SCENARIOS)
    if not os.access(args.vmcat, os.X_OK):
        ap.error(f"{args.vmcat}: not an executable (build it: cmake -S . -B /tmp/build-vmbench "
                 "-G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DVMCAT_TESTS=OFF && ninja -C "
                 "/tmp/build-vmbench vmcat; then pass --vmcat or set $VMCAT)")
    args.vmcat = os.path.abspath(args.vmcat)
    for tool in ("qemu", "socat"):
        path = shutil.which(getattr(args, tool))
        if not path:
            ap.error(f"{getattr(args, tool)}: not found")
        setattr(args, tool, path)
    if "hmp" in args.scenarios and not shutil.which("nc"):
        ap.error("nc (netcat-openbsd) not found")
    args.image = find_image(ap, args.image, [str(REPO / "images" / "build-image.sh"), "-q"],
                            shown="images/build-image.sh -q")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    exit_on_signals("vm_bench")
    # The command line, without the output and path options.
    command = command_line("bench/vm_bench.py", argv,
                           skip_with_value={"--markdown", "--vmcat", "--image", "--qemu",
                                            "--socat"})
    facts = machine_facts(args)
    log("vmcat VM services benchmark: " + "; ".join(f"{k}: {v}" for k, v in facts[1:5]))
    log(f"scenarios: {', '.join(args.scenarios)}")
    tmp = Path(tempfile.mkdtemp(prefix="vmcat-vm-bench-"))
    bench = Bench(args, tmp)
    t_start = time.monotonic()
    try:
        for name in args.scenarios:
            log(f"{name}:")
            try:
                getattr(bench, name)()
            except BenchError as e:
                log(f"  {name} FAILED: {e}")
                bench.results.errors.append(f"{name}: {e}")
    finally:
        bench.cleanup()
        remove_tmp(tmp, args.keep_tmp)
    log(f"done in {time.monotonic() - t_start:.0f} s")
    report = build_report(bench.results, args)
    print()
    print(render_report_text("vmcat VM services benchmark", facts, report, command))
    if args.markdown:
        args.markdown.write_text(render_report_markdown(DOC_SECTION, facts, report, command,
                                                         MARKDOWN_EXPLANATION))
    res = bench.results
    failed = bool(res.errors) or any(r.failures for r in res.startup.values()) or any(
        r.failures for r in res.hmp if r.label in ("vmcat monitor", "socat"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
