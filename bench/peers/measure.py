#!/usr/bin/env python3
"""Measurement half of bench/compare.sh (standard library only).

  measure.py run --name NAME --target N --topic OUTPUT --tool 'java -cp ... BenchTool'
                 --bootstrap HOST:PORT --log FILE --timeout S [--cwd DIR] [--env K=V ...]
                 [--internal TOPIC ...] [--broker-pid PID]
                 [--verify 'ARGS'] [--verify-command verify] -- COMMAND...
      Starts BenchTool watch on OUTPUT, then (t0) the command in its own process group, and
      waits until the sum of OUTPUT's high watermarks reaches N (t_last). Processing starts
      (t_active) at the first record in OUTPUT or in an --internal topic (the repartition
      topic, written by the first stage). Samples the process tree from
      /proc (CPU = utime+stime of the tree plus its reaped children, peak RSS = the sum of
      VmHWM) at that moment, stops the process (SIGTERM, SIGKILL after 20 s), checks the
      output with BenchTool VERIFY_COMMAND OUTPUT ARGS (verify: 'RECORDS [KEY=N ...]';
      verify-windows: 'RECORDS EVENTS'; verify-join: 'RECORDS') and prints one JSON object.
  measure.py report RESULTS_JSON
      Prints the Markdown table of a results file written by compare.sh.
"""
import argparse
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()  # after "pid (comm) "
    # fields[0] is state (field 3); utime is field 14, stime 15, cutime 16, cstime 17
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / TICK
    reaped = (int(fields[13]) + int(fields[14])) / TICK
    return ppid, own, reaped


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(root):
    """The root and its live descendants."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def sample(root):
    """CPU seconds and peak RSS (MiB) of a live process tree, or None if the root is gone."""
    root_stat = proc_stat(root)
    if root_stat is None:
        return None
    if vm_hwm_kib(root) == 0:  # exiting: its memory is gone already
        return None
    cpu, rss = root_stat[2], 0
    for pid in tree(root):
        st = proc_stat(pid)
        if st:
            cpu += st[1]
        rss += vm_hwm_kib(pid)
    return {"cpu_s": round(cpu, 2), "peak_rss_mib": round(rss / 1024, 1)}


def machine_busy_s():
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TICK


def cpu_of(pid):
    st = proc_stat(pid) if pid else None
    return st[1] if st else None


def tail(path, lines=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def run(a):
    result = {"name": a.name, "ok": False, "target": a.target}
    tool = shlex.split(a.tool)
    watcher = subprocess.Popen(tool + ["watch", a.bootstrap, a.topic, str(a.target)] + a.internal,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events = queue.Queue()

    def read_watcher():
        for line in watcher.stdout:
            parts = line.split()
            if parts:
                events.put(parts)
        events.put(["eof"])

    threading.Thread(target=read_watcher, daemon=True).start()
    try:
        ev = events.get(timeout=60)
    except queue.Empty:
        ev = ["timeout"]
    if ev[0] != "ready":
        watcher.kill()
        result["error"] = f"the output watcher did not start ({ev[0]})"
        return result

    env = dict(os.environ)
    for kv in a.env:
        k, v = kv.split("=", 1)
        env[k] = v
    with open("/proc/loadavg") as f:
        result["loadavg_1m_before"] = float(f.read().split()[0])  # other load on the machine?
    log = open(a.log, "w")
    busy0, broker0 = machine_busy_s(), cpu_of(a.broker_pid)
    t0 = time.time()
    proc = subprocess.Popen(a.command, cwd=a.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    pid = proc.pid
    t_active = t_first = t_last = None
    last_sample, exit_status, rusage = None, None, None
    deadline = t0 + a.timeout
    exited_at = None
    sampled_at = 0.0
    while True:
        try:
            ev = events.get(timeout=0.05)
        except queue.Empty:
            ev = None
        if ev and ev[0] == "active":
            t_active = int(ev[1]) / 1000
        elif ev and ev[0] == "first":
            t_first = int(ev[1]) / 1000
        elif ev and ev[0] == "done":
            t_last = int(ev[1]) / 1000
            t_first = t_first or t_last
            t_active = t_active or t_first
        elif ev and ev[0] == "eof":
            result["error"] = "the output watcher died"
            break
        if exit_status is None:
            if time.time() - sampled_at >= 0.5:  # light: the final sample is taken at t_last
                sampled_at = time.time()
                s = sample(pid)
                if s:
                    last_sample = s
            reaped, status, ru = os.wait4(pid, os.WNOHANG)
            if reaped:
                exit_status, rusage, exited_at = status, ru, time.time()
                proc.returncode = os.waitstatus_to_exitcode(status)
        if t_last is not None:
            break
        now = time.time()
        if exited_at is not None and (proc.returncode != 0 or now - exited_at > 10):
            result["error"] = f"exited with {proc.returncode} before its output was complete"
            break
        if now > deadline:
            result["error"] = f"timed out after {a.timeout} s"
            break

    # resources at t_last (the process may still be running) or at its exit
    busy1, broker1 = machine_busy_s(), cpu_of(a.broker_pid)
    result["machine_cpu_s"] = round(busy1 - busy0, 2)
    if broker0 is not None and broker1 is not None:
        result["broker_cpu_s"] = round(broker1 - broker0, 2)
    if exit_status is None:
        s = sample(pid)
        if s:
            last_sample = s
        else:  # exiting or exited meanwhile: its rusage has the whole run
            for _ in range(100):
                reaped, status, ru = os.wait4(pid, os.WNOHANG)
                if reaped:
                    exit_status, rusage = status, ru
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.05)
    if rusage is not None:
        last_sample = {"cpu_s": round(rusage.ru_utime + rusage.ru_stime, 2),
                       "peak_rss_mib": round(rusage.ru_maxrss / 1024, 1)}
    if last_sample:
        result.update(last_sample)

    # stop it: SIGTERM to its process group, SIGKILL after 20 s
    stop_start = time.time()
    if exit_status is None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            result["killed"] = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        result["stop_s"] = round(time.time() - stop_start, 2)
    result["exit_code"] = proc.returncode
    watcher.kill()
    watcher.wait()
    log.close()

    with open("/proc/loadavg") as f:
        result["loadavg_1m_after"] = float(f.read().split()[0])
    if t_last is not None and "error" not in result:
        result["ok"] = True
        result["wall_s"] = round(t_last - t0, 3)
        result["startup_s"] = round(t_active - t0, 3)
        result["first_output_s"] = round(t_first - t0, 3)
        result["processing_s"] = round(t_last - t_active, 3)
        if a.verify:
            v = subprocess.run(tool + [a.verify_command, a.bootstrap, a.topic] + a.verify.split(),
                               capture_output=True, text=True)
            try:
                result["verify"] = json.loads(v.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                result["verify"] = {"ok": False, "error": (v.stdout + v.stderr)[-2000:]}
    else:
        result["log_tail"] = tail(a.log)
    return result


def fmt(v, digits=2):
    return "—" if v is None else f"{v:,.{digits}f}"


def report(path):
    with open(path) as f:
        res = json.load(f)
    workload = res.get("workload", "colors")
    if workload == "windows":
        print(f"Windows pipeline (emit-final count per key and 1-minute window), {res['events']:,} events, "
              f"{res['keys']:,} keys over {res['span_ms'] / 60000:g} min ({res['windows']:,} windows), "
              f"broker {res['broker']}, {res['machine']}\n")
    elif workload == "join":
        table = "a co-partitioned table" if res["join"] == "table" else "a global table"
        print(f"Join pipeline (clicks joined with {table} of users), {res['events']:,} clicks, "
              f"{res['keys']:,} users, broker {res['broker']}, {res['machine']}\n")
    else:
        words, colors = res["words"], res["colors"]
        print(f"Colors pipeline, {words:,} input words ({colors:,} colors), broker {res['broker']}, "
              f"{res['machine']}\n")
    print("| system | wall s | processing s | msgs/s | CPU s | peak RSS MiB | broker CPU s | machine CPU s | output check |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in res["order"]:
        r = res["systems"][name]
        if r.get("skipped"):
            print(f"| {name} | {r['skipped']} | | | | | | | |")
            continue
        if not r["ok"]:
            print(f"| {name} | FAILED: {r.get('error', '?')} | | | | | | | |")
            continue
        v = r.get("verify")
        check = "—" if v is None else ("ok" if v.get("ok") else
                                        f"WRONG ({v.get('records')} records, {v.get('final_counts')})"
                                        if "final_counts" in v else f"WRONG ({v.get('error')})")
        print(f"| {name} | {fmt(r['wall_s'])} | {fmt(r['processing_s'])} | {fmt(r.get('msgs_per_s'), 0)} "
              f"| {fmt(r.get('cpu_s'))} | {fmt(r.get('peak_rss_mib'), 0)} | {fmt(r.get('broker_cpu_s'))} "
              f"| {fmt(r.get('machine_cpu_s'))} | {check} |")
    print("\nCPU s: the system's process tree from launch to its last output record; broker CPU s:"
          " the broker over the same span (when compare.sh started it); machine CPU s: all"
          " processes on the machine (much more than the two means other load).")
    if res.get("ratios"):
        print()
        print("| ratio (msgs/s) | value |")
        print("|---|---:|")
        for k, v in res["ratios"].items():
            print(f"| {k} | {'—' if v is None else f'{v:.2f}×'} |")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--name", required=True)
    r.add_argument("--target", type=int, required=True)
    r.add_argument("--topic", required=True)
    r.add_argument("--tool", required=True)
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--timeout", type=float, default=600)
    r.add_argument("--cwd")
    r.add_argument("--env", action="append", default=[])
    r.add_argument("--verify", help="the arguments of the check after BOOTSTRAP TOPIC")
    r.add_argument("--verify-command", default="verify",
                   help="the BenchTool command that checks the output (verify, verify-windows,"
                        " verify-join)")
    r.add_argument("--internal", action="append", default=[],
                   help="a topic the system writes before its output (processing starts at the"
                        " first record in it or in the output)")
    r.add_argument("--broker-pid", type=int, help="also report this process's CPU seconds")
    r.add_argument("command", nargs=argparse.REMAINDER)
    rp = sub.add_parser("report")
    rp.add_argument("results")
    a = p.parse_args()
    if a.cmd == "run":
        if a.command and a.command[0] == "--":
            a.command = a.command[1:]
        print(json.dumps(run(a)))
    else:
        report(a.results)


if __name__ == "__main__":
    sys.exit(main())
