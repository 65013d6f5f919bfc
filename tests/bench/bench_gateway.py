#!/usr/bin/env python3
"""bench-gateway: what one gateway costs per concurrent call, and how well
it keeps time, on this machine (`make bench-gateway`).

Why: the gateway holds every live call and paces every call's outbound
audio from one timer; the number of calls one machine can carry, and
whether callers hear smooth audio at that number, decide how many gateways
a deployment needs. The goals (printed next to the figures, never
asserted): 1,000 concurrent calls on 2 cores with the p99 gap between
received frames under 30 ms; at 100 calls at most 40 KiB of gateway RSS
and 0.09 % of a core per call; greeting p99 under 100 ms.

What it does, per level N (--levels, default 1,100,500,1000) and per run
(--repeats; by default 3 runs for levels up to 100 calls, 1 above):
  * starts the release gateway ALONE through tools/stack (--only gateway
    --no-db --no-standins, a fresh one per run so every baseline is a
    fresh process), with MERKAZIA_DEFAULT_BUSINESS set and a long greeting
    (MERKAZIA_GREETING_TEXT, about 10 s of espeak-ng speech) so every call
    is in playout for seconds;
  * runs tools/sim-caller in load mode: N calls, all at once at most,
    started 250 a second (--interval-ms 4); each call posts the signed
    webhook, opens the media stream, sends 20 ms media frames in real time
    as Twilio does, plays the greeting as Twilio would, echoes its mark,
    waits --pause-ms of silence and hangs up;
  * samples every 0.1 s (and /metrics every 0.25 s): the gateway's VmRSS
    and utime+stime (/proc/<pid>/status, /proc/<pid>/stat), sim-caller's
    utime+stime, and the gateway's calls_live, marks and late-frame
    counters;
  * the measurement window is the time every one of the N calls is live
    and still in its greeting (from the first sample with calls_live = N
    to the first sample at which a greeting's mark has been sent), so CPU
    is that of N calls in steady playout, not of the ramp;
  * prints: gateway RSS (baseline before the calls, peak in the window,
    KiB per call), gateway CPU (% of one core, and per call), sim-caller's
    own CPU (it runs on the same 2 cores), greeting latency (sim-caller's
    greeting_ms: start sent -> first audible frame played, behind its
    60 ms jitter buffer on a 20 ms play grid; and first_media_ms: start
    sent -> first media message), the gap between consecutive media frames
    the caller received (p50/p99/max over every gap of every call), the
    gateway's merkazia_playout_frames_late_total over the run, and
    sim-caller's own tick lag (when high, the caller is the bottleneck
    and the gaps it measures include its own delay).
Several runs of a level print each run and then the medians.

--smoke: one call of a short greeting against the ASan build
(MERKAZIA_BIN), as part of `make check`; exits 0 only when the call ended
normally and every figure was printed. Exit 1 when a run could not be
made (the stack did not start, sim-caller printed nothing), never because
of a figure. Loopback only; every wait bounded (x MERKAZIA_TEST_TIMEOUT_MULT);
every process it starts is stopped. Standard library only.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
import benchlib  # noqa: E402
from benchlib import CLK_TCK, cpu_s, is_asan, say, stop_overrun  # noqa: E402
import e2e  # noqa: E402

# About 10 s of espeak-ng speech: a greeting with the recording notice.
GREETING_LONG = ("שלום, הגעתם לשי דירות ומשרדים. השיחה מוקלטת לצורך שיפור "
                 "השירות. אפשר לקבוע פגישה עם סוכן או להשאיר הודעה. איך "
                 "אפשר לעזור לכם היום?")
# About 2.5 s: enough frames for gaps, quick under ASan.
GREETING_SHORT = "שלום, הגעתם לשי דירות ומשרדים."
BUSINESS = "bench-business"
DEFAULT_LEVELS = "1,100,500,1000"
SAMPLE_S = 0.1
METRICS_EVERY = 0.25

# The goals, as printed (never asserted).
AIM_CALLS = 1000
AIM_GAP_P99_MS = 30.0
AIM_AT_CALLS = 100
AIM_RSS_KIB_PER_CALL = 40.0
AIM_CPU_PCT_PER_CALL = 0.09
AIM_GREETING_P99_MS = 100.0


# ---- /proc and /metrics ---------------------------------------------------

def busy_s():
    """Seconds of CPU every core of the machine has spent busy (user,
    nice, system, irq, softirq, steal) since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def wait_quiet(limit_s, busy_pct=15.0):
    """Wait (at most limit_s) until the machine has been nearly idle for a
    second: whatever else runs (a build, a test) takes cores the gateway
    and sim-caller would use. Return the busy % of one core last seen."""
    end = time.monotonic() + limit_s
    pct = 0.0
    if limit_s <= 0:
        return pct
    for _ in range(int(limit_s) + 2):
        b0, t0 = busy_s(), time.monotonic()
        time.sleep(1.0)
        pct = 100.0 * (busy_s() - b0) / (time.monotonic() - t0)
        if pct < busy_pct or time.monotonic() >= end:
            break
    return pct


def mem_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB, or (None, None) when it is gone."""
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def metrics(listen):
    """The gateway's /metrics as {name or name{labels}: value}; {} when
    it does not answer within 2 s."""
    out = {}
    try:
        with urllib.request.urlopen("http://%s/metrics" % listen,
                                    timeout=2) as r:
            text = r.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return out
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


MARKS_SENT = 'merkazia_playout_marks_total{result="sent"}'
LATE = "merkazia_playout_frames_late_total"
SENT = "merkazia_playout_frames_sent_total"
LIVE = "merkazia_calls_live"


# ---- one run --------------------------------------------------------------

def raise_nofile(n):
    """Let the gateway and sim-caller (children: they inherit it) hold
    about 2 descriptors per call each. Return False when the hard limit is
    too low for n calls."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * n + 256
    if soft >= need:
        return True
    if hard != resource.RLIM_INFINITY and hard < need:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


def single_as_aggregate(call):
    """Shape one call's line (sim-caller prints no aggregate for one call)
    like the aggregate's figures."""
    def one(v):
        return {"n": 1 if v is not None else 0, "p50": v, "p99": v,
                "max": v}
    ok = call.get("result") == "ok"
    gap = call.get("frame_gap_ms") or {}
    return {"calls": 1, "ok": 1 if ok else 0, "failed": 0 if ok else 1,
            "results": {call.get("result"): 1},
            "webhook_ms": one(call.get("webhook_ms")),
            "greeting_ms": one(call.get("greeting_ms")),
            "first_media_ms": one(call.get("first_media_ms")),
            "frame_gap_ms": gap, "underruns": call.get("underruns"),
            "protocol_errors": call.get("protocol_errors"),
            "tick_lag_ms": {"n": 0, "p50": None, "p99": None, "max": None}}


def run_level(args, n, rep, run_root):
    """Start a gateway, run n calls against it, stop it; return the run's
    figures (a dict) or raise e2e.Fail."""
    run_dir = os.path.join(run_root, "%d-%d" % (n, rep))
    idle = wait_quiet(0 if args.smoke else args.quiet_wait)
    if idle >= 15.0 and not args.smoke:
        say("bench: the machine is busy (%.0f %% of a core before the run "
            "of %d calls): figures will be worse than this machine's "
            "best" % (idle, n))
    gw_bin = os.path.join(e2e.BIN, "gateway")
    stack_args = ["--only", "gateway", "--no-db", "--no-standins", "--quiet",
                  "--bin-dir=" + e2e.BIN,
                  "--set", "gateway:MERKAZIA_DEFAULT_BUSINESS=" + BUSINESS,
                  "--set", "gateway:MERKAZIA_GREETING_TEXT=" + args.greeting]
    if not is_asan(gw_bin):
        stack_args.append("--release")
    stack = e2e.Stack(*stack_args, run_dir=run_dir)
    sim = None
    try:
        stack.start()
        listen = stack.ready["listen"]
        gw = stack.pid("gateway")
        if args.pin:
            os.sched_setaffinity(gw, {0})
        # One short call first, so the baseline already holds what any
        # first call pages in (library code, the loop's buffers): the
        # figures are the cost of N more calls, not of the first one.
        code, _, err = e2e.run(
            [os.path.join(e2e.BIN, "sim-caller"), "--env",
             stack.ready["env"], "-q", "--hangup-after", "1000"],
            timeout=30)
        e2e.check(code == 0, "the warm-up call failed: %s" % err[-300:])
        time.sleep(0.5)
        base_rss, _ = mem_kib(gw)
        base_m = metrics(listen)
        e2e.check(base_rss is not None and base_m,
                  "the gateway does not answer /metrics")
        out_path = os.path.join(run_dir, "sim-caller.out")
        argv = [os.path.join(e2e.BIN, "sim-caller"), "--env",
                stack.ready["env"], "-q", "--calls", str(n),
                "--concurrency", str(n), "--interval-ms",
                str(args.interval_ms), "--pause-ms", str(args.pause_ms),
                "--max-call-ms", str(int(e2e.T(120) * 1000))]
        with open(out_path, "wb") as out, \
                open(os.path.join(run_dir, "sim-caller.log"), "wb") as log:
            sim = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=log)
        if args.pin:
            os.sched_setaffinity(sim.pid, {1})
        t_start = time.monotonic()
        ramp_s = n * max(args.interval_ms, 0.25) / 1000.0
        deadline = t_start + e2e.T(ramp_s + 120)
        samples = []      # (t, gw cpu, gw rss, sim cpu, machine busy)
        window = [None, None]   # sample indexes: all live; first mark
        last_m = base_m
        next_metrics = 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            gcpu, (grss, _), scpu = cpu_s(gw), mem_kib(gw), cpu_s(sim.pid)
            if gcpu is None:
                raise e2e.Fail("the gateway died during the run")
            samples.append((now, gcpu, grss, scpu, busy_s()))
            if now >= next_metrics:
                next_metrics = now + METRICS_EVERY
                m = metrics(listen)
                if m:
                    last_m = m
                    marks = m.get(MARKS_SENT, 0) - base_m.get(MARKS_SENT, 0)
                    if window[0] is None and marks == 0 and \
                            m.get(LIVE, 0) >= n:
                        window[0] = len(samples) - 1
                    if window[0] is not None and window[1] is None and \
                            marks > 0:
                        window[1] = len(samples) - 1
            if sim.poll() is not None:
                break
            time.sleep(SAMPLE_S)
        stop_overrun(sim, deadline - t_start)
        end_m = metrics(listen) or last_m
        _, hwm = mem_kib(gw)
        with open(out_path, encoding="utf-8", errors="replace") as f:
            lines = [json.loads(x) for x in f if x.startswith("{")]
        e2e.check(lines, "sim-caller printed nothing (exit %s)" %
                  sim.returncode)
        agg = lines[-1].get("aggregate") if n > 1 else \
            single_as_aggregate(lines[-1])
        e2e.check(agg is not None, "sim-caller printed no aggregate")
        code, report = stack.stop()
        e2e.check(code == 0 and report and report.get("ok"),
                  "the gateway did not stop cleanly: %s" %
                  (report or {}).get("problems"))
    finally:
        if sim is not None and sim.poll() is None:
            sim.kill()
            sim.wait()
        stack.stop()
    return figures(n, samples, window, base_rss, hwm, base_m, end_m, agg)


def figures(n, samples, window, base_rss, hwm, base_m, end_m, agg):
    """Turn one run's samples and sim-caller's aggregate into figures."""
    w0, w1 = window
    short = False
    if w0 is None or w1 is None or samples[w1][0] - samples[w0][0] < 1.0:
        # Not every call was live at once in the greeting for a second
        # (a ramp longer than the greeting, or failed calls): measure over
        # the whole run instead and say so.
        w0, w1, short = 0, len(samples) - 1, True
    t0, g0, _, s0, b0 = samples[w0]
    t1, g1, _, s1, b1 = samples[w1]
    secs = max(t1 - t0, 1e-6)
    peak = max(s[2] for s in samples[w0:w1 + 1] if s[2] is not None)
    gw_pct = 100.0 * (g1 - g0) / secs
    sim_pct = 100.0 * (s1 - s0) / secs if s0 is not None and \
        s1 is not None else None
    # Everything else the machine ran meanwhile (another build, the
    # launcher): when high, the figures are not this machine's best.
    other_pct = 100.0 * (b1 - b0) / secs - gw_pct - (sim_pct or 0.0)
    late = end_m.get(LATE, 0) - base_m.get(LATE, 0)
    sent = end_m.get(SENT, 0) - base_m.get(SENT, 0)
    return {
        "calls": n, "ok": agg.get("ok"), "failed": agg.get("failed"),
        "results": agg.get("results"),
        "window_s": round(secs, 2), "window_short": short,
        "gw_rss_base_kib": base_rss, "gw_rss_peak_kib": peak,
        "gw_hwm_kib": hwm,
        "gw_rss_kib_per_call": round((peak - base_rss) / n, 2),
        "gw_cpu_pct": round(gw_pct, 2),
        "gw_cpu_pct_per_call": round(gw_pct / n, 4),
        "sim_cpu_pct": round(sim_pct, 2) if sim_pct is not None else None,
        "other_cpu_pct": round(max(other_pct, 0.0), 2),
        "greeting_ms": agg.get("greeting_ms"),
        "first_media_ms": agg.get("first_media_ms"),
        "webhook_ms": agg.get("webhook_ms"),
        "frame_gap_ms": agg.get("frame_gap_ms"),
        "frame_gap_call_p99_ms": agg.get("frame_gap_call_p99_ms"),
        "frames_sent": int(sent), "frames_late": int(late),
        "underruns": agg.get("underruns"),
        "protocol_errors": agg.get("protocol_errors"),
        "sim_tick_lag_ms": agg.get("tick_lag_ms"),
    }


# ---- printing -------------------------------------------------------------

def fig(d, key, sub=None):
    v = d.get(key)
    if sub is not None:
        v = (v or {}).get(sub)
    return v


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def median_of(runs, key, sub=None):
    vals = [fig(r, key, sub) for r in runs]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def line_of(runs):
    """One table row (medians over runs)."""
    def m(key, sub=None, spec="%.1f"):
        return fmt(median_of(runs, key, sub), spec)
    r0 = runs[0]
    short = "*" if any(r["window_short"] for r in runs) else " "
    return ("%5d | %4s/%-4d%s| %6s -> %6s KiB  %7s | %6s %8s | %6s %5s | "
            "%4s %4s | %4s %4s | %5s %5s %6s | %6s/%-7s | %5s" % (
                r0["calls"], m("ok", spec="%d"), r0["calls"], short,
                m("gw_rss_base_kib", spec="%d"),
                m("gw_rss_peak_kib", spec="%d"),
                m("gw_rss_kib_per_call"), m("gw_cpu_pct"),
                m("gw_cpu_pct_per_call", spec="%.4f"), m("sim_cpu_pct"),
                m("other_cpu_pct"),
                m("greeting_ms", "p50", "%.0f"),
                m("greeting_ms", "p99", "%.0f"),
                m("first_media_ms", "p50", "%.0f"),
                m("first_media_ms", "p99", "%.0f"),
                m("frame_gap_ms", "p50"), m("frame_gap_ms", "p99"),
                m("frame_gap_ms", "max"), m("frames_late", spec="%d"),
                m("frames_sent", spec="%d"),
                m("sim_tick_lag_ms", "p99")))


HEADER = ("calls |  ok/calls | gw RSS base -> peak  KiB/call | gw CPU "
          "%core  /call | sim % other | greet p50 p99 | 1st media | "
          "gap p50   p99    max | late/sent      | lag99")


def verdict(value, aim, below=True):
    if value is None:
        return "no figure"
    good = value < aim if below else value <= aim
    return "met" if good else "NOT met"


def print_targets(by_level):
    say("")
    say("targets (printed, not asserted):")
    top = by_level.get(AIM_CALLS)
    if top:
        ok = median_of(top, "ok")
        gap = median_of(top, "frame_gap_ms", "p99")
        say("  %d concurrent calls on 2 cores, p99 frame gap < %.0f ms: "
            "%s/%d calls ok, p99 gap %s ms -> %s" % (
                AIM_CALLS, AIM_GAP_P99_MS, fmt(ok, "%d"), AIM_CALLS,
                fmt(gap), verdict(gap, AIM_GAP_P99_MS)
                if ok == AIM_CALLS else "NOT met (calls failed)"))
    else:
        say("  %d concurrent calls on 2 cores, p99 frame gap < %.0f ms: "
            "level %d not run" % (AIM_CALLS, AIM_GAP_P99_MS, AIM_CALLS))
    mid = by_level.get(AIM_AT_CALLS)
    if mid:
        rss = median_of(mid, "gw_rss_kib_per_call")
        cpu = median_of(mid, "gw_cpu_pct_per_call")
        say("  at %d calls, gateway RSS <= %.0f KiB per call: %s KiB -> %s"
            % (AIM_AT_CALLS, AIM_RSS_KIB_PER_CALL, fmt(rss),
               verdict(rss, AIM_RSS_KIB_PER_CALL, below=False)))
        say("  at %d calls, gateway CPU <= %.2f %% of a core per call: "
            "%s %% -> %s" % (AIM_AT_CALLS, AIM_CPU_PCT_PER_CALL,
                             fmt(cpu, "%.4f"),
                             verdict(cpu, AIM_CPU_PCT_PER_CALL,
                                     below=False)))
    else:
        say("  at %d calls, RSS and CPU per call: level %d not run" %
            (AIM_AT_CALLS, AIM_AT_CALLS))
    for n in sorted(by_level):
        g = median_of(by_level[n], "greeting_ms", "p99")
        say("  greeting p99 < %.0f ms at %d calls: %s ms -> %s" % (
            AIM_GREETING_P99_MS, n, fmt(g, "%.0f"),
            verdict(g, AIM_GREETING_P99_MS)))


# ---- main -------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench_gateway.py",
        description="The gateway's cost per concurrent call (RSS, CPU) "
                    "and timing (greeting, frame gaps) under sim-caller.")
    ap.add_argument("--smoke", action="store_true",
                    help="one call, short greeting (make check)")
    ap.add_argument("--levels", default=None,
                    help="comma-separated concurrent calls per level "
                         "(default %s)" % DEFAULT_LEVELS)
    ap.add_argument("--repeats", type=int, default=None,
                    help="runs per level (default: 3 up to 100 calls, "
                         "1 above)")
    ap.add_argument("--interval-ms", type=int, default=4,
                    help="sim-caller's gap between call starts (default 4: "
                         "250 calls/s; 0: 20 every 5 ms)")
    ap.add_argument("--pause-ms", type=int, default=700,
                    help="silence after the greeting before hanging up")
    ap.add_argument("--greeting", default=None,
                    help="the greeting text (default: about 10 s of "
                         "speech; --smoke: about 2.5 s)")
    ap.add_argument("--quiet-wait", type=float, default=30,
                    help="seconds to wait before each run for the machine "
                         "to be nearly idle (default 30)")
    ap.add_argument("--pin", action="store_true",
                    help="pin the gateway to CPU 0 and sim-caller to CPU 1 "
                         "(each its own core; needs 2 CPUs)")
    ap.add_argument("--json", action="store_true",
                    help="print only the final JSON line on stdout")
    a = ap.parse_args(argv)
    levels = a.levels or ("1" if a.smoke else DEFAULT_LEVELS)
    try:
        a.levels = [int(x) for x in levels.split(",") if x.strip()]
    except ValueError:
        ap.error("--levels: comma-separated numbers")
    if not a.levels or any(not 1 <= x <= 2000 for x in a.levels):
        ap.error("--levels: 1..2000 calls each (sim-caller's bound)")
    if a.repeats is not None and not 1 <= a.repeats <= 20:
        ap.error("--repeats: 1..20")
    if not 0 <= a.interval_ms <= 1000:
        ap.error("--interval-ms: 0..1000")
    if a.pin and len(os.sched_getaffinity(0)) < 2:
        ap.error("--pin needs CPUs 0 and 1")
    if a.greeting is None:
        a.greeting = GREETING_SHORT if a.smoke else GREETING_LONG
    return a


def main(argv):
    args = parse_args(argv)
    if args.json:
        benchlib.OUT = sys.stderr
    for prog in ("gateway", "sim-caller"):
        e2e.check(os.access(os.path.join(e2e.BIN, prog), os.X_OK),
                  "%s is not built in %s" % (prog, e2e.BIN))
    run_root = os.environ.get("MERKAZIA_RUN_DIR") or \
        tempfile.mkdtemp(prefix="mzg.", dir="/tmp")
    own = not os.environ.get("MERKAZIA_RUN_DIR")
    by_level = {}
    t_all = time.monotonic()
    try:
        for n in args.levels:
            if not raise_nofile(n):
                say("bench: level %d skipped: the descriptor limit is too "
                    "low (ulimit -n)" % n)
                continue
            reps = args.repeats or (3 if n <= 100 and not args.smoke else 1)
            runs = []
            for rep in range(reps):
                r = run_level(args, n, rep, run_root)
                runs.append(r)
                say("bench: %d calls, run %d/%d: %s" % (
                    n, rep + 1, reps, json.dumps(r, ensure_ascii=False)))
            by_level[n] = runs
        say("")
        say("bench-gateway: %s gateway alone (%s), greeting %d chars, "
            "calls started %d/s, %d CPUs; medians of the runs per level" % (
                "ASan" if is_asan(os.path.join(e2e.BIN, "gateway"))
                else "release", e2e.BIN, len(args.greeting),
                1000 // max(args.interval_ms, 0.25), os.cpu_count() or 0))
        say(HEADER)
        for n in args.levels:
            if n in by_level:
                say(line_of(by_level[n]))
        say("(RSS in KiB; CPU in % of one core over the window when all "
            "calls are live in playout (*: no such window, the whole run); "
            "sim: sim-caller, other: the rest of the machine; greeting and "
            "gaps in ms; lag99: sim-caller's own p99 tick lag in ms)")
        print_targets(by_level)
        summary = {"bench": "gateway", "bin": e2e.BIN,
                   "seconds": round(time.monotonic() - t_all, 1),
                   "levels": {str(n): {
                       "runs": len(rs),
                       "median": {k: median_of(rs, k) for k in (
                           "ok", "gw_rss_kib_per_call", "gw_cpu_pct",
                           "gw_cpu_pct_per_call", "sim_cpu_pct",
                           "frames_late")} | {
                           "greeting_p99_ms":
                               median_of(rs, "greeting_ms", "p99"),
                           "first_media_p99_ms":
                               median_of(rs, "first_media_ms", "p99"),
                           "frame_gap_p50_ms":
                               median_of(rs, "frame_gap_ms", "p50"),
                           "frame_gap_p99_ms":
                               median_of(rs, "frame_gap_ms", "p99")},
                       "all": rs} for n, rs in by_level.items()}}
        print(json.dumps(summary, ensure_ascii=False), flush=True)
        if args.smoke:
            r = by_level.get(args.levels[0], [None])[0]
            e2e.check(r is not None and r["ok"] == r["calls"],
                      "the smoke call did not end normally: %s" %
                      (r or {}).get("results"))
            needed = [r["gw_rss_kib_per_call"], r["gw_cpu_pct"],
                      r["sim_cpu_pct"], fig(r, "greeting_ms", "p99"),
                      fig(r, "first_media_ms", "p99"),
                      fig(r, "frame_gap_ms", "p99")]
            e2e.check(all(v is not None for v in needed),
                      "a figure is missing: %s" % needed)
    finally:
        if own and os.environ.get("MERKAZIA_TEST_KEEP") != "1":
            shutil.rmtree(run_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except e2e.Fail as e:
        print("bench: FAIL: %s" % e, flush=True)
        sys.exit(1)
