#!/usr/bin/env python3
"""End-to-end latency and broker requests of systems side by side, on one real Kafka.

  bench/latency.py [--systems passthrough,relay,kstreams,mephisto] [--lingers 0,1,2,5]
                   [--rounds 3] [--seconds 10] [--rate 5000] [--warmup 3]
                   [--bootstrap HOST:PORT --broker-pid PID]
                   [--variant 'LABEL=SYSTEM EXTRA ARGS...' ...]

Systems, each a process of its own, each reading `input` (8 partitions) from its end:
  passthrough  build/apps/mephisto-passthrough --follow: a bare librdkafka consumer-group
               member producing every record to the same partition of `latency_raw_output`,
               same key, value and timestamp
  kstreams     the colors topology of bench/peers/kstreams (Kafka Streams 4.1.1: filter,
               repartition, count in an in-memory store with a changelog, record cache off)
  mephisto     build/apps/colors worker (filter agent -> internal topic -> count agent with a
               table and its changelog -> output)
  relay        build/apps/mephisto-relay worker: Mephisto doing the pass-through's one hop
               (one agent sending every record to `latency_relay_output`), so that Mephisto's
               cost per hop compares with the bare client's
Every system runs with its producer's linger.ms set to the value under test and offsets
committed every 1000 ms (Mephisto's at-least-once default; the pass-through likewise; Kafka
Streams' COMMIT_INTERVAL_MS=1000 instead of its 30 s).

For each round, linger and system (systems in a rotating order), a fresh group / app id is
committed at the end of `input`, the system is started, and `mephisto-bench --latency-probe`
feeds `input` at --rate (color words, bursts every 2 ms, linger.ms 0, CreateTime = send time)
and reads the system's output from its end: after the first output and --warmup seconds
more, a window of --seconds; latency = now - CreateTime of each output whose input was fed
in the window. Outputs carry their input's timestamp in all three systems.

Requests: the broker's own counters (JMX, kafka.network RequestMetrics RequestsPerSec per
request type, read by attaching to the broker's JVM: `BenchTool requests PID`) at the window's
edges, minus the probe's own requests in the window (librdkafka statistics of its feeder
and consumer), per second. The same counting for all three systems.

--variant adds a system under its own label: SYSTEM with EXTRA ARGS appended to its command
line (kstreams: KEY=VALUE environment entries), e.g. --variant 'mephisto-nodelay=mephisto
--kafka.socket.nagle.disable true'; list the label in --systems.

Without --bootstrap it starts a broker with tests/kafka/kafka.sh in build/latency-kafka and
stops it at the end. Results: a Markdown table of medians over the rounds on stdout, every
run in build/latency-work/runs.jsonl, logs in build/latency-work/logs/.
Needs `ninja -C build mephisto-bench colors mephisto-passthrough` and bench/peers/install.sh
(the Kafka Streams jar).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "bench", "peers")
JAR = os.path.join(PEERS, "kstreams", "target", "colors-streams.jar")
CLASSPATH = JAR + ":" + os.path.join(PEERS, "kstreams", "target", "lib", "*")
BUILD = os.path.join(ROOT, "build")
OUTPUTS = {"passthrough": "latency_raw_output", "kstreams": "latency_kstreams_output",
           "mephisto": "output", "relay": "latency_relay_output"}
# Requests of the broker's own machinery (KRaft controller, in the same JVM), not clients'.
INTERNAL = {"BrokerHeartbeat", "BrokerRegistration", "ControllerRegistration", "Vote",
            "BeginQuorumEpoch", "EndQuorumEpoch", "FetchFollower", "FetchSnapshot",
            "AddRaftVoter", "RemoveRaftVoter", "UpdateRaftVoter", "AllocateProducerIds"}


def log(*args):
    print("latency.py:", *args, file=sys.stderr, flush=True)


def tool(*args, check=True):
    return subprocess.run(["java", "-Xmx256m", "-cp", CLASSPATH, "io.mephisto.bench.BenchTool",
                           *args], check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


class BrokerRequests:
    """The broker's request counters, read on demand through one attached JVM."""

    def __init__(self, pid):
        self.proc = subprocess.Popen(["java", "-Xmx128m", "-cp", CLASSPATH,
                                      "io.mephisto.bench.BenchTool", "requests", str(pid)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.read()

    def read(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("BenchTool requests ended")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def system_command(name, linger, bootstrap, app_id, work, extra=()):
    env = dict(os.environ)
    if name == "passthrough":
        cmd = [os.path.join(BUILD, "apps", "mephisto-passthrough"), "--broker",
               f"kafka://{bootstrap}", "--from", "input", "--to", OUTPUTS[name], "--follow",
               "--group", app_id, "--linger-ms", str(linger)]
    elif name == "mephisto":
        cmd = [os.path.join(BUILD, "apps", "colors"), "worker", "--broker",
               f"kafka://{bootstrap}", "--id", app_id, "--linger_ms", str(linger),
               "--log_level", "warn"]
    elif name == "relay":  # Mephisto, one hop: the same work as the pass-through
        cmd = [os.path.join(BUILD, "apps", "mephisto-relay"), "worker", "--broker",
               f"kafka://{bootstrap}", "--id", app_id, "--linger_ms", str(linger),
               "--log_level", "warn"]
    elif name == "kstreams":
        state = os.path.join(work, "kstreams-state", app_id)
        env.update(BOOTSTRAP=bootstrap, APP_ID=app_id, OUTPUT_TOPIC=OUTPUTS[name],
                   STATE_DIR=state, STREAM_THREADS="1", COMMIT_INTERVAL_MS="1000",
                   LINGER_MS=str(linger))
        env.update(dict(x.split("=", 1) for x in extra))
        extra = ()
        cmd = ["java", "-jar", JAR]
    else:
        raise SystemExit(f"unknown system {name} (passthrough, relay, kstreams, mephisto)")
    return cmd + list(extra), env


def stop(proc, grace=30):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_run(args, label, linger, rnd, bootstrap, requests, work):
    name, extra = args.variants.get(label, (label, []))
    app_id = f"lat-{label}-{linger}-{rnd}-{os.getpid()}"
    tool("commit-end", bootstrap, app_id, "input")
    cmd, env = system_command(name, linger, bootstrap, app_id, work, extra)
    logfile = open(os.path.join(work, "logs", f"{app_id}.log"), "w")
    system = subprocess.Popen(cmd, env=env, stdout=logfile, stderr=subprocess.STDOUT)
    probe = subprocess.Popen([os.path.join(BUILD, "apps", "mephisto-bench"), "--latency-probe",
                              "--broker", f"kafka://{bootstrap}", "--output-topic", OUTPUTS[name],
                              "--rate", str(args.rate), "--seconds", str(args.seconds),
                              "--warmup-seconds", str(args.warmup)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marks = {}
    result = None
    for line in probe.stdout:
        line = line.strip()
        if line.startswith("mark "):
            marks[line[5:]] = requests.read() if requests else None
        elif line.startswith("{"):
            result = json.loads(line)
    err = probe.stderr.read()
    probe.wait()
    stop(system)
    logfile.close()
    # drop its internal topics and its group
    tool("reset", bootstrap, "-", app_id, app_id, check=False)
    if result is None:
        return {"system": label, "linger": linger, "round": rnd, "ok": False,
                "error": err.strip()[-500:]}
    result.update(system=label, linger=linger, round=rnd, ok=True)
    if requests and "start" in marks and "end" in marks:
        a, b = marks["start"], marks["end"]
        secs = (b["ms"] - a["ms"]) / 1000.0
        probe_req = result["probe_requests"]
        per_s = {}
        for k in set(a) | set(b):
            if k == "ms" or k in INTERNAL:
                continue
            n = b.get(k, 0) - a.get(k, 0)
            if k == "Fetch" or k == "FetchConsumer":
                n -= probe_req.get("Fetch", 0)
            else:
                n -= probe_req.get(k, 0)
            if n:
                per_s[k] = n / secs
        # the broker counts a consumer's fetch as Fetch and FetchConsumer: keep Fetch
        if "Fetch" in per_s:
            per_s.pop("FetchConsumer", None)
        result["requests_per_s"] = per_s
    return result


def table(runs, systems, lingers):
    def med(xs):
        return statistics.median(xs) if xs else None

    out = ["| system | linger.ms | p50 ms | p99 ms | max ms | outputs/fed | Produce/s | Fetch/s "
           "| OffsetCommit/s | other/s | total req/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in systems:
        for l in lingers:
            rs = [r for r in runs if r["system"] == s and r["linger"] == l and r.get("ok")]
            if not rs:
                out.append(f"| {s} | {l} | failed | | | | | | | | |")
                continue
            req = [r.get("requests_per_s", {}) for r in rs]
            kind = lambda q, k: q.get(k, 0)
            other = lambda q: sum(v for k, v in q.items()
                                  if k not in ("Produce", "Fetch", "OffsetCommit"))
            fmt = lambda x: "–" if x is None else f"{x:.0f}"
            out.append(
                f"| {s} | {l} | {med([r['p50_ms'] for r in rs]):.1f} | "
                f"{med([r['p99_ms'] for r in rs]):.1f} | {med([r['max_ms'] for r in rs]):.0f} | "
                f"{sum(r['outputs'] for r in rs)}/{sum(r['fed'] for r in rs)} | "
                f"{fmt(med([kind(q, 'Produce') for q in req]))} | "
                f"{fmt(med([kind(q, 'Fetch') for q in req]))} | "
                f"{fmt(med([kind(q, 'OffsetCommit') for q in req]))} | "
                f"{fmt(med([other(q) for q in req]))} | "
                f"{fmt(med([sum(q.values()) for q in req]))} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--systems", default="passthrough,relay,kstreams,mephisto")
    ap.add_argument("--lingers", default="0,1,2,5")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--bootstrap")
    ap.add_argument("--broker-pid", type=int)
    ap.add_argument("--variant", action="append", default=[])
    args = ap.parse_args()
    args.variants = {}
    for v in args.variant:
        label, rest = v.split("=", 1)
        words = rest.split()
        args.variants[label] = (words[0], words[1:])
    systems = args.systems.split(",")
    lingers = [int(x) for x in args.lingers.split(",")]
    work = os.path.join(BUILD, "latency-work")
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    broker_dir = None
    bootstrap, pid = args.bootstrap, args.broker_pid
    if not bootstrap:
        broker_dir = os.path.join(BUILD, "latency-kafka")
        subprocess.run([os.path.join(ROOT, "tests", "kafka", "kafka.sh"), "start", broker_dir],
                       check=True, stdout=sys.stderr)
        bootstrap = open(os.path.join(broker_dir, "bootstrap")).read().strip()
        pid = int(open(os.path.join(broker_dir, "pid")).read().strip())
    requests = None
    try:
        outs = sorted({OUTPUTS[args.variants.get(s, (s,))[0]] for s in systems})
        tool("reset", bootstrap, ",".join(["input", *outs]), "lat-", "-")
        tool("create", bootstrap, "input:8", *[f"{o}:8" for o in outs])
        requests = BrokerRequests(pid) if pid else None
        runs = []
        with open(os.path.join(work, "runs.jsonl"), "w") as jl:
            for rnd in range(args.rounds):
                for li, linger in enumerate(lingers):
                    k = (rnd + li) % len(systems)
                    for name in systems[k:] + systems[:k]:
                        r = one_run(args, name, linger, rnd + 1, bootstrap, requests, work)
                        runs.append(r)
                        jl.write(json.dumps(r) + "\n")
                        jl.flush()
                        if r["ok"]:
                            q = r.get("requests_per_s", {})
                            log(f"round {rnd + 1} {name} linger {linger}: p50 {r['p50_ms']:.1f} "
                                f"p99 {r['p99_ms']:.1f} max {r['max_ms']:.0f} ms, "
                                f"{r['outputs']}/{r['fed']} outputs, {r['unsent']} unsent, "
                                f"{sum(q.values()):.0f} req/s "
                                + json.dumps({k: round(v) for k, v in sorted(q.items())}))
                        else:
                            log(f"round {rnd + 1} {name} linger {linger}: FAILED {r['error']}")
        print(f"{args.rate} records/s into input (8 partitions), {args.seconds} s windows, "
              f"medians of {args.rounds} rounds, Kafka at {bootstrap}, {os.cpu_count()} cores\n")
        print(table(runs, systems, lingers))
    finally:
        if requests:
            requests.close()
        if broker_dir:
            subprocess.run([os.path.join(ROOT, "tests", "kafka", "kafka.sh"), "stop", broker_dir],
                           stdout=sys.stderr)


if __name__ == "__main__":
    main()
