#!/usr/bin/env python3
"""bench-call: what a whole call feels like and costs, voice to voice, on
this machine (`make bench-call`).

Why: the caller judges the agent by the silence between the end of their
sentence and the first word of the reply, and by how fast the agent stops
when interrupted. Most of that silence belongs to the providers (STT, the
model's first token, TTS) and to the end-of-turn wait; this benchmark
measures what the system adds on top, and what each call costs in CPU
and memory over every process of ours. The goals (printed next to the
figures, never asserted): added latency p50 <= 10 ms and p99 <= 30 ms at
100 calls; caller starts speaking -> `clear` within 300 ms median; every
process together under 0.09 % of a core per call.

What it does, per level N (--levels, default 1,10,100):
  * starts a second OpenAI stand-in (tools/fake-openai, strict, the same
    scenario) with --latency-ms STT (default 700) for the stt-worker
    alone, then the whole release stack through tools/stack (PostgreSQL,
    the stand-ins, the six daemons; the stt-worker pointed at the second
    stand-in), and sets the stack's stand-ins: the model's first token
    after --ttft-ms (default 300; the stack's OpenAI stand-in, which only
    the llm-worker uses) and Google TTS after --tts-ms (default 200);
  * runs tools/sim-caller in load mode: N calls of
    tests/scenarios/short_buyer.json at once (started --interval-ms
    apart), each with one barge-in (--barge-in when:MS: the caller's
    "when" line starts MS ms into the agent's previous reply);
  * samples every 0.25 s utime+stime and VmRSS of every daemon (pids.json)
    and, apart, of the stand-ins and sim-caller (the test's side);
  * prints, per level:
      - voice to voice: sim-caller's reply_ms over every turn (end of the
        caller's speech -> first audible frame of the reply, as a caller
        with Twilio's jitter buffer hears it), p50/p90/p99;
      - end-of-turn wait: the turn rows' end_of_turn_ms (the VAD's
        hangover after the last voiced frame);
      - added latency: the agent turn rows' first_frame_ms (the end of
        turn -> the reply's first frame sent) less the stand-ins' own
        STT + first token + TTS latencies: what our processes and sockets
        add; and where it goes: stt_ms - STT, llm_first_sentence_ms -
        TTFT, tts_ms - TTS, and the gateway between the stages
        (first_frame_ms - stt_ms - llm_first_sentence_ms - tts_ms);
      - barge-in: caller starts speaking -> `clear` received
        (clear_at_ms - speech_start_ms of the barge-in line; "n/a" when
        this sim-caller does not report them), p50/p90/max;
      - CPU: CPU seconds of all daemons during the calls (less their idle
        rate before) over the calls' total length, as % of one core per
        call; per daemon too; the stand-ins' and sim-caller's apart;
      - RSS: the daemons' summed VmRSS, peak during the calls less before,
        per call.
--json prints each level's figures as one JSON line on stdout (the table
goes to stderr).

--smoke: one call against MERKAZIA_BIN (the ASan build in `make check`);
exits 0 only when the call ended ok and every figure was printed. Exit 1
when a run could not be made (the stack did not start, sim-caller printed
nothing, a call failed), never because of a figure. Loopback only; every
wait bounded (x MERKAZIA_TEST_TIMEOUT_MULT); every process it starts is
stopped. Standard library only.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))
sys.dont_write_bytecode = True
os.environ.setdefault("MERKAZIA_BIN", os.path.join(REPO, "build/bin"))
sys.path.insert(0, os.path.join(REPO, "tests/e2e/lib"))
import conv_e2e  # noqa: E402
import e2e  # noqa: E402

SCENARIO = os.path.join(REPO, "tests", "scenarios", "short_buyer.json")
BARGE_LINE = "when"
SAMPLE_S = 0.25
CLK_TCK = os.sysconf("SC_CLK_TCK")
DAEMONS = ["gateway", "stt-worker", "llm-worker", "tts-worker", "crm-store",
           "watchdog"]

# The goals, as printed (never asserted).
AIM_AT_CALLS = 100
AIM_ADDED_P50_MS = 10.0
AIM_ADDED_P99_MS = 30.0
AIM_CLEAR_P50_MS = 300.0
AIM_CPU_PCT_PER_CALL = 0.09

OUT = sys.stdout  # the table; --json sends it to stderr


def say(text):
    print(text, file=OUT, flush=True)


# ---- /proc ----------------------------------------------------------------

def cpu_s(pid):
    """utime + stime of pid in seconds, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def is_asan(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# ---- figures --------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile of values (None when empty)."""
    v = sorted(values)
    if not v:
        return None
    k = max(1, int(-(-p * len(v) // 100)))
    return v[min(k, len(v)) - 1]


def dist(values):
    values = [x for x in values if x is not None]
    return {"n": len(values), "p50": pct(values, 50), "p90": pct(values, 90),
            "p99": pct(values, 99),
            "max": max(values) if values else None}


def fmt(v, spec="%.0f"):
    return "n/a" if v is None else spec % v


def fdist(d, spec="%.0f"):
    return "p50 %s  p90 %s  p99 %s  max %s  (n=%d)" % (
        fmt(d["p50"], spec), fmt(d["p90"], spec), fmt(d["p99"], spec),
        fmt(d["max"], spec), d["n"])


# ---- one level ------------------------------------------------------------

class SttStandin:
    """A second fake-openai for the stt-worker, with the STT latency."""

    def __init__(self, run_dir, key, latency_ms):
        env = dict(os.environ)
        env.update({"OPENAI_API_KEY": key,
                    "MERKAZIA_STANDIN_SCENARIO": SCENARIO,
                    "MERKAZIA_STANDIN_RECORD_DIR": run_dir})
        env.pop("MERKAZIA_STANDIN_DEMO", None)
        self.log = os.path.join(run_dir, "standin-openai-stt.log")
        with open(self.log, "ab") as lf:
            self.proc = subprocess.Popen(
                [os.path.join(REPO, "tools/fake-openai"), "--listen",
                 "127.0.0.1:0", "--latency-ms", str(latency_ms),
                 "--record", os.path.join(run_dir,
                                          "standin-openai-stt.requests.log")],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=lf)
        line = e2e._Lines(self.proc.stdout).line(e2e.T(20))
        try:
            self.listen = json.loads(line)["listen"]
        except (TypeError, ValueError, KeyError):
            self.stop()
            raise e2e.Fail("the STT stand-in printed no listen line (see "
                           "%s)" % self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=e2e.T(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sample(pids):
    """{name: (cpu s, rss KiB)} of the pids that still run."""
    out = {}
    for name, pid in pids.items():
        c = cpu_s(pid)
        if c is not None:
            out[name] = (c, rss_kib(pid) or 0)
    return out


def run_level(args, n, run_dir):
    """Start the stack, run n calls, stop it; return the level's figures
    (a dict) or raise e2e.Fail."""
    key = "sk-bench-" + secrets.token_hex(20)
    stt = SttStandin(run_dir, key, args.stt_ms)
    gw_bin = os.path.join(e2e.BIN, "gateway")
    stack_args = ["--quiet", "--bin-dir=" + e2e.BIN,
                  "--set", "OPENAI_API_KEY=" + key,
                  "--set", "stt-worker:OPENAI_BASE_URL=http://%s/v1" %
                  stt.listen,
                  "--set", "crm-store:MERKAZIA_STORE_DEMO=1"]
    if not is_asan(gw_bin):
        stack_args.append("--release")
    env = dict(os.environ)
    env["MERKAZIA_STANDIN_SCENARIO"] = SCENARIO
    env.pop("MERKAZIA_STANDIN_DEMO", None)
    stack = e2e.Stack(*stack_args, run_dir=run_dir, env=env)
    sim = None
    try:
        stack.start()
        conv_e2e.control(stack, "OPENAI_BASE_URL", "config",
                         {"latency_ms": 0, "ttft_ms": args.ttft_ms})
        conv_e2e.control(stack, "GOOGLE_TTS_BASE_URL", "config",
                         {"latency_ms": args.tts_ms})
        conv_e2e.wait_business(stack)
        ours = {d: stack.pid(d) for d in stack.pids
                if stack.pids[d].get("daemon") in DAEMONS}
        theirs = {d: stack.pid(d) for d in stack.pids
                  if d.startswith("standin-")}
        theirs["standin-openai-stt"] = stt.proc.pid
        # The daemons' idle rate (heartbeats, timers), to take away.
        s0, t0 = sample(ours), time.monotonic()
        time.sleep(2.0)
        s1, t1 = sample(ours), time.monotonic()
        idle_rate = {k: (s1[k][0] - s0[k][0]) / (t1 - t0)
                     for k in s1 if k in s0}
        base_rss = sum(v[1] for v in s1.values())
        out_path = os.path.join(run_dir, "sim-caller.out")
        argv = [os.path.join(e2e.BIN, "sim-caller"), "--env",
                stack.ready["env"], "--scenario", SCENARIO, "-q",
                "--calls", str(n), "--concurrency", str(n),
                "--interval-ms", str(args.interval_ms),
                "--pause-ms", str(args.pause_ms),
                "--barge-in", "%s:%d" % (BARGE_LINE, args.barge_ms),
                "--max-call-ms", str(int(e2e.T(240) * 1000))]
        with open(out_path, "wb") as out, \
                open(os.path.join(run_dir, "sim-caller.log"), "wb") as log:
            sim = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=log)
        theirs["sim-caller"] = sim.pid
        t_start = time.monotonic()
        first = sample(ours)
        first_theirs = sample(theirs)
        last, last_theirs = first, dict(first_theirs)
        peak_rss = base_rss
        deadline = t_start + e2e.T(n * args.interval_ms / 1000.0 + 300)
        while time.monotonic() < deadline and sim.poll() is None:
            time.sleep(SAMPLE_S)
            s = sample(ours)
            if len(s) < len(ours):
                gone = sorted(set(ours) - set(s))
                raise e2e.Fail("%s died during the run" % ", ".join(gone))
            last = s
            last_theirs.update(sample(theirs))
            peak_rss = max(peak_rss, sum(v[1] for v in s.values()))
        t_end = time.monotonic()
        if sim.poll() is None:
            sim.send_signal(signal.SIGTERM)  # it hangs every call up
            try:
                sim.wait(timeout=e2e.T(20))
            except subprocess.TimeoutExpired:
                sim.kill()
                sim.wait()
            raise e2e.Fail("sim-caller ran over %.0f s" %
                           (deadline - t_start))
        with open(out_path, encoding="utf-8", errors="replace") as f:
            lines = [json.loads(x) for x in f if x.startswith("{")]
        calls = [c for c in lines if "call_sid" in c]
        e2e.check(calls, "sim-caller printed nothing (exit %s; see %s)" %
                  (sim.returncode, os.path.join(run_dir, "sim-caller.log")))
        rows = turn_rows(stack, [c["call_sid"] for c in calls])
        code, report = stack.stop()
        if not (code == 0 and report and report.get("ok")):
            say("bench: the stack did not stop cleanly: %s" %
                (report or {}).get("problems"))
    finally:
        if sim is not None and sim.poll() is None:
            sim.kill()
            sim.wait()
        stack.stop()
        stt.stop()
    secs = t_end - t_start
    per = {k: max(last[k][0] - first[k][0] - idle_rate.get(k, 0) * secs,
                  0.0) for k in last if k in first}
    cpu = sum(per.values())
    overrun = standin_overrun(args, run_dir)
    their_cpu = sum(last_theirs[k][0] - first_theirs.get(k, (0, 0))[0]
                    for k in last_theirs)
    call_s = sum((c.get("duration_ms") or 0) for c in calls) / 1000.0
    return figures(args, n, calls, rows, cpu, per, their_cpu, call_s,
                   base_rss, peak_rss, secs, overrun)


def standin_overrun(args, run_dir):
    """How long the STT and TTS stand-ins took beyond their configured
    latency (their request logs' ms: Python, WAV rendering), as
    distributions: that time is inside the stage figures, not ours."""
    out = {}
    for key, path, route, want in (
            ("stt", os.path.join(run_dir, "standin-openai-stt.requests.log"),
             "/v1/audio/transcriptions", args.stt_ms),
            ("tts", os.path.join(run_dir, "log",
                                 "standin-google.requests.log"),
             "/v1/text:synthesize", args.tts_ms)):
        out[key] = dist([r["ms"] - want for r in e2e.json_lines(path)
                         if r.get("path") == route and
                         isinstance(r.get("ms"), (int, float))])
    return out


def turn_rows(stack, sids):
    """The turn rows (speaker, interrupted, latency) of the calls, once
    every call is completed (bounded wait; what is there after it)."""
    lst = ",".join("'%s'" % s.replace("'", "") for s in sids)

    def completed():
        n = conv_e2e.sql(stack, "SELECT count(*) FROM calls WHERE call_sid "
                         "IN (%s) AND status = 'completed'" % lst)
        return int(n or 0) >= len(sids)
    try:
        e2e.wait_for(completed, e2e.T(30), "every call completed",
                     interval=0.5)
    except e2e.Fail as e:
        say("bench: %s" % e)
    out = conv_e2e.sql(stack, "SELECT coalesce(json_agg(json_build_object("
                       "'sid', call_sid, 'speaker', speaker, 'interrupted', "
                       "interrupted, 'latency', latency)), '[]') FROM turns "
                       "WHERE call_sid IN (%s)" % lst)
    return json.loads(out or "[]")


def figures(args, n, calls, rows, cpu, per, their_cpu, call_s, base_rss,
            peak_rss, secs, overrun):
    over_stt = overrun["stt"]["p50"] or 0
    over_tts = overrun["tts"]["p50"] or 0
    replies, barge, have_barge_fields = [], [], False
    for c in calls:
        for t in c.get("turns") or []:
            if t.get("reply_ms") is not None:
                replies.append(t["reply_ms"])
            if t.get("id") == BARGE_LINE and "speech_start_ms" in t:
                have_barge_fields = True
                if t.get("clear_at_ms") is not None and \
                        t.get("speech_start_ms") is not None:
                    barge.append(t["clear_at_ms"] - t["speech_start_ms"])
    eot, added, net, stt, llm, tts, gw = [], [], [], [], [], [], []
    hits = 0

    def val(lat, k):
        v = lat.get(k)
        return v if isinstance(v, (int, float)) and v >= 0 else None
    for r in rows:
        lat = r.get("latency") or {}
        e = val(lat, "end_of_turn_ms")
        if e is not None and r["speaker"] == "caller":
            eot.append(e)
        if r["speaker"] != "agent":
            continue
        ff, s, l, t = (val(lat, k) for k in (
            "first_frame_ms", "stt_ms", "llm_first_sentence_ms", "tts_ms"))
        # A sentence the tts-worker had in its cache never reached the
        # TTS stand-in: no provider time to take away for that stage.
        hit = t is not None and t < args.tts_ms
        hits += hit
        provider = args.stt_ms + args.ttft_ms + (0 if hit else args.tts_ms)
        if ff is not None:
            added.append(ff - provider)
            # Less the stand-ins' median overrun (approximate: the
            # overrun of this turn's own requests is not matched).
            net.append(ff - provider - over_stt - (0 if hit else over_tts))
        if s is not None:
            stt.append(s - args.stt_ms)
        if l is not None:
            llm.append(l - args.ttft_ms)
        if t is not None:
            tts.append(t - (0 if hit else args.tts_ms))
        if None not in (ff, s, l, t):
            gw.append(ff - s - l - t)
    ok = sum(1 for c in calls if c.get("result") == "ok")
    return {
        "calls": n, "ok": ok, "reports": len(calls),
        "results": sorted({c.get("result") for c in calls}),
        "stand_in_ms": {"stt": args.stt_ms, "ttft": args.ttft_ms,
                        "tts": args.tts_ms},
        "run_s": round(secs, 1), "call_s": round(call_s, 1),
        "voice_to_voice_ms": dist(replies),
        "end_of_turn_ms": dist(eot),
        "added_ms": dist(added),
        "tts_cache_hits": hits,
        "standin_overrun_ms": overrun,
        "added_net_ms": dist(net),
        "added_stt_ms": dist(stt), "added_llm_ms": dist(llm),
        "added_tts_ms": dist(tts), "added_gateway_ms": dist(gw),
        "clear_ms": dist(barge) if have_barge_fields else None,
        "cpu_pct_per_call": round(100.0 * cpu / call_s, 4)
        if call_s > 0 else None,
        "cpu_pct_per_call_by_daemon": {
            k: round(100.0 * v / call_s, 4) for k, v in sorted(per.items())}
        if call_s > 0 else {},
        "test_side_cpu_pct_per_call": round(100.0 * their_cpu / call_s, 4)
        if call_s > 0 else None,
        "rss_kib_base": base_rss, "rss_kib_peak": peak_rss,
        "rss_kib_per_call": round((peak_rss - base_rss) / n, 1),
    }


def aim(ok):
    return "meets the aim" if ok else "MISSES the aim"


def print_level(f):
    say("")
    say("== %d concurrent call(s): %d/%d ok (%s), %.0f s of calls in "
        "%.0f s ==" % (f["calls"], f["ok"], f["reports"],
                        ",".join(str(r) for r in f["results"]), f["call_s"],
                        f["run_s"]))
    say("voice to voice (end of speech -> reply heard), ms: %s" %
        fdist(f["voice_to_voice_ms"]))
    say("  end-of-turn wait (VAD hangover), ms:            %s" %
        fdist(f["end_of_turn_ms"]))
    def note(a):
        if f["calls"] != AIM_AT_CALLS or a["p50"] is None:
            return ""
        return "  [aim p50 <= %.0f, p99 <= %.0f at %d calls: %s]" % (
            AIM_ADDED_P50_MS, AIM_ADDED_P99_MS, AIM_AT_CALLS,
            aim(a["p50"] <= AIM_ADDED_P50_MS and
                a["p99"] <= AIM_ADDED_P99_MS))
    a = f["added_ms"]
    say("  added by us (first frame - stand-ins %d ms), ms: %s%s" % (
        sum(f["stand_in_ms"].values()), fdist(a), note(a)))
    say("    (a TTS cache hit takes no TTS time away: %d of the turns)" %
        f["tts_cache_hits"])
    say("    stt job round trip - %d ms:                   %s" % (
        f["stand_in_ms"]["stt"], fdist(f["added_stt_ms"])))
    say("    llm first sentence - %d ms:                   %s" % (
        f["stand_in_ms"]["ttft"], fdist(f["added_llm_ms"])))
    say("    tts job round trip - %d ms (0 on a cache hit): %s; %d hits" % (
        f["stand_in_ms"]["tts"], fdist(f["added_tts_ms"]),
        f["tts_cache_hits"]))
    say("    gateway between the stages:                   %s" %
        fdist(f["added_gateway_ms"]))
    o = f["standin_overrun_ms"]
    say("  inside those: the stand-ins' own time over their setting, ms: "
        "STT %s; TTS %s" % (fdist(o["stt"]), fdist(o["tts"])))
    say("  added by us less the stand-ins' median overrun, ms: %s%s" %
        (fdist(f["added_net_ms"]), note(f["added_net_ms"])))
    c = f["clear_ms"]
    if c is None:
        say("barge-in (caller starts speaking -> clear), ms: n/a (this "
            "sim-caller reports no speech_start_ms/clear_at_ms)")
    else:
        say("barge-in (caller starts speaking -> clear), ms: %s  [aim "
            "median <= %.0f: %s]" % (
                fdist(c), AIM_CLEAR_P50_MS,
                aim(c["p50"] is not None and c["p50"] <= AIM_CLEAR_P50_MS)
                if c["n"] else "no clear seen"))
    cpu = f["cpu_pct_per_call"]
    say("CPU, every daemon together: %s %% of a core per call  [aim <= %.2f:"
        " %s]" % (fmt(cpu, "%.4f"), AIM_CPU_PCT_PER_CALL,
                  aim(cpu is not None and cpu <= AIM_CPU_PCT_PER_CALL)))
    say("  by daemon (%% of a core per call): %s" % ", ".join(
        "%s %.4f" % kv for kv in f["cpu_pct_per_call_by_daemon"].items()))
    say("  the test's side (stand-ins, sim-caller), not ours: %s %%" %
        fmt(f["test_side_cpu_pct_per_call"], "%.4f"))
    say("RSS, every daemon together: %d -> %d KiB, %.1f KiB per call" % (
        f["rss_kib_base"], f["rss_kib_peak"], f["rss_kib_per_call"]))


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="tests/bench/bench_call.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="1,10,100",
                    help="concurrent calls per level (default 1,10,100)")
    ap.add_argument("--stt-ms", type=int, default=700)
    ap.add_argument("--ttft-ms", type=int, default=300)
    ap.add_argument("--tts-ms", type=int, default=200)
    ap.add_argument("--barge-ms", type=int, default=1000,
                    help="the barge-in line starts this long into the "
                         "agent's reply (default 1000)")
    ap.add_argument("--interval-ms", type=int, default=100,
                    help="between call starts (default 100)")
    ap.add_argument("--pause-ms", type=int, default=1500,
                    help="agent silence before the caller speaks "
                         "(default 1500)")
    ap.add_argument("--json", action="store_true",
                    help="one JSON line of figures per level on stdout")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run directories (logs)")
    ap.add_argument("--smoke", action="store_true",
                    help="one call against MERKAZIA_BIN (make check)")
    a = ap.parse_args(argv)
    a.levels = [1] if a.smoke else [int(x) for x in a.levels.split(",")]
    return a


def main(argv):
    global OUT
    args = parse_args(argv)
    if args.json:
        OUT = sys.stderr
    say("bench-call: %s build (%s), stand-ins STT %d ms, first token %d ms, "
        "TTS %d ms; levels %s; machine: %d cores, shared (figures vary "
        "with what else runs)" % (
            "ASan" if is_asan(os.path.join(e2e.BIN, "gateway"))
            else "release", e2e.BIN, args.stt_ms, args.ttft_ms, args.tts_ms,
            ",".join(map(str, args.levels)), os.cpu_count() or 0))
    code = 0
    for n in args.levels:
        run_dir = tempfile.mkdtemp(prefix="mzc.", dir="/tmp")
        try:
            f = run_level(args, n, run_dir)
            print_level(f)
            if args.json:
                print(json.dumps(f), flush=True)
            if f["ok"] != n or f["reports"] != n:
                say("bench: %d of %d calls did not end ok" %
                    (n - f["ok"], n))
                code = 1
            elif args.smoke and (f["added_ms"]["n"] == 0 or
                                 f["voice_to_voice_ms"]["n"] == 0):
                say("bench: the smoke call left no latency figures")
                code = 1
        except e2e.Fail as e:
            say("bench: level %d: %s (run directory %s)" % (n, e, run_dir))
            code = 1
            args.keep = True
        finally:
            if args.keep:
                say("bench: kept %s" % run_dir)
            else:
                shutil.rmtree(run_dir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
