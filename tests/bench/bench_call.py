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
      - added latency, per agent turn: the turn row's first_frame_ms
        (the end of turn -> the reply's first frame sent) less the
        providers' own time on that turn's path, as the stand-ins timed
        it (CLOCK_MONOTONIC; see "the providers' own time, per turn"
        below): STT service + the model to the first sentence + the
        first sentence's TTS service (0 on a tts-worker cache hit);
        and where it goes: stt_ms, llm_first_sentence_ms and tts_ms each
        less its provider's own time, and the gateway between the stages
        (first_frame_ms - stt_ms - llm_first_sentence_ms - tts_ms); also
        voice to voice less the end-of-turn wait, the providers and the
        --jitter-ms buffer (the caller's side apart), how far each
        stand-in ran over its setting, and the old figure (less the
        settings);
      - barge-in: caller starts speaking -> `clear` received
        (clear_at_ms - speech_start_ms of the barge-in line; "n/a" when
        this sim-caller does not report them), p50/p90/max;
      - CPU: CPU seconds of all daemons during the calls (less their idle
        rate before) over the calls' total length, as % of one core per
        call; per daemon too; the stand-ins' and sim-caller's apart;
      - RSS: the daemons' summed VmRSS, peak during the calls less before,
        per call.
The gateway's filler is off (MERKAZIA_FILLER_AFTER_MS=0): it would be
the first frame heard in every turn. --repeats N runs each level N times;
a summary at the end gives each figure's median over the runs, beside the
aims. --json prints each level's figures as one JSON line on stdout (the
table goes to stderr).

--smoke: one call against MERKAZIA_BIN (the ASan build in `make check`);
exits 0 only when the call ended ok and every figure was printed. Exit 1
when a run could not be made (the stack did not start, sim-caller printed
nothing, a call failed), never because of a figure. Loopback only; every
wait bounded (x MERKAZIA_TEST_TIMEOUT_MULT); every process it starts is
stopped. Standard library only.
"""
import argparse
import calendar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
import benchlib  # noqa: E402
from benchlib import REPO, cpu_s, is_asan, say, stop_overrun  # noqa: E402
import conv_e2e  # noqa: E402
import e2e  # noqa: E402

SCENARIO = os.path.join(REPO, "tests", "scenarios", "short_buyer.json")
BARGE_LINE = "when"
SAMPLE_S = 0.25
DAEMONS = ["gateway", "stt-worker", "llm-worker", "tts-worker", "crm-store",
           "watchdog"]

# The goals, as printed (never asserted).
AIM_AT_CALLS = 100
AIM_ADDED_P50_MS = 10.0
AIM_ADDED_P99_MS = 30.0
AIM_CLEAR_P50_MS = 300.0
AIM_CPU_PCT_PER_CALL = 0.09

# ---- /proc ----------------------------------------------------------------

def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


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
                  "--set", "crm-store:MERKAZIA_STORE_DEMO=1",
                  # No filler: it would be the first reply frame heard
                  # (1.2 s after the end of turn, before the providers'
                  # 1.2 s are over) and hide the reply's own latency.
                  "--set", "gateway:MERKAZIA_FILLER_AFTER_MS=0"]
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
                "--jitter-ms", str(args.jitter_ms),
                "--barge-in", "%s:%d" % (BARGE_LINE, args.barge_ms),
                "--max-call-ms", str(int(e2e.T(240) * 1000))]
        with open(out_path, "wb") as out, \
                open(os.path.join(run_dir, "sim-caller.log"), "wb") as log:
            sim = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=log)
        theirs["sim-caller"] = sim.pid
        t_start = time.monotonic()
        wall_off = [time.time() - time.monotonic()]
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
        wall_off.append(time.time() - time.monotonic())
        stop_overrun(sim, deadline - t_start)
        with open(out_path, encoding="utf-8", errors="replace") as f:
            lines = [json.loads(x) for x in f if x.startswith("{")]
        calls = [c for c in lines if "call_sid" in c]
        e2e.check(calls, "sim-caller printed nothing (exit %s; see %s)" %
                  (sim.returncode, os.path.join(run_dir, "sim-caller.log")))
        rows = turn_rows(stack, [c["call_sid"] for c in calls])
        with open(os.path.join(run_dir, "turns.json"), "w",
                  encoding="utf-8") as f:  # for --keep
            json.dump(rows, f, ensure_ascii=False)
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
    exact = provider_times(run_dir, calls, rows,
                           sum(wall_off) / len(wall_off))
    their_cpu = sum(last_theirs[k][0] - first_theirs.get(k, (0, 0))[0]
                    for k in last_theirs)
    call_s = sum((c.get("duration_ms") or 0) for c in calls) / 1000.0
    return figures(args, n, calls, rows, cpu, per, their_cpu, call_s,
                   base_rss, peak_rss, secs, overrun, exact)


# ---- the providers' own time, per turn ----------------------------------
#
# The stand-ins note per request, on CLOCK_MONOTONIC (the clock of
# time.monotonic() here): t_arrived, t_done (the answer's last byte) and,
# for chat streams, t_first_content and t_first_sentence (the content
# delta that completed the first sentence). A turn's critical path is its
# caller line's transcription, the model up to the reply's first sentence
# (after a tool round, the whole first request too) and the first
# sentence's synthesis (none on a tts-worker cache hit). The requests
# carry no call id, so they are tied to calls this way:
#   * STT: the stt-worker logs each job ("transcribed ...") with its
#     call_sid when the answer came back; the stand-in request that ended
#     last before that log line (wall clock less the wall-monotonic offset
#     the bench measured) is the job's;
#   * LLM: the chat request for the same scenario line (the stand-in
#     knows it from the transcript) that arrived first after that STT
#     request ended (our hand-over takes a millisecond or two; another
#     call's same line is tens of ms away); a tool round's follow-up is the
#     next request of that line after the first one ended;
#   * TTS: the synthesis of a text the agent turn's generated_text begins
#     with (its first sentence) that arrived nearest the moment the first
#     sentence left the model stand-in; none near it: a tts-worker cache
#     hit, no provider time.
# Agent turn rows are paired with these chains per call by the caller's
# text (the previous caller row's heard_text = the chat's last_user).

STT_ROUTE = "/v1/audio/transcriptions"
CHAT_ROUTE = "/v1/chat/completions"
TTS_ROUTE = "/v1/text:synthesize"
STT_DONE = re.compile(r"transcribed .* in (\d+) ms")


def timed(path, route):
    """The answered requests of route in a stand-in's request log that
    carry the monotonic timings."""
    return [r for r in e2e.json_lines(path) if r.get("path") == route and
            r.get("status") == 200 and
            isinstance(r.get("t_arrived"), (int, float)) and
            isinstance(r.get("t_done"), (int, float))]


def iso_epoch(ts):
    """Seconds since the epoch of a log line's ts (2026-...T..:..:..mmmZ)."""
    try:
        return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) \
            + float("0" + ts[19:].rstrip("Z"))
    except (TypeError, ValueError):
        return None


def standin_overrun(args, run_dir):
    """How far each stand-in ran over its setting, from its own timings:
    STT and TTS service time less the setting, the model's first content
    less ttft_ms. That time is the providers', not ours."""
    log = os.path.join(run_dir, "log")
    stt = timed(os.path.join(run_dir, "standin-openai-stt.requests.log"),
                STT_ROUTE)
    chat = timed(os.path.join(log, "standin-openai.requests.log"),
                 CHAT_ROUTE)
    tts = timed(os.path.join(log, "standin-google.requests.log"), TTS_ROUTE)
    return {
        "stt": dist([(r["t_done"] - r["t_arrived"]) * 1000 - args.stt_ms
                     for r in stt]),
        "llm": dist([(r["t_first_content"] - r["t_arrived"]) * 1000 -
                     args.ttft_ms for r in chat
                     if isinstance(r.get("t_first_content"), (int, float))]),
        "tts": dist([(r["t_done"] - r["t_arrived"]) * 1000 - args.tts_ms
                     for r in tts])}


def stt_calls(run_dir, stt, wall_off):
    """Set r["sid"] on the STT requests from the stt-worker's job lines."""
    jobs = []
    for ln in e2e.json_lines(os.path.join(run_dir, "log", "stt-worker.log")):
        t = iso_epoch(ln.get("ts"))
        m = STT_DONE.match(str(ln.get("msg", "")))
        if t is not None and ln.get("call_sid") and m:
            jobs.append((t - wall_off, int(m.group(1)) / 1000.0,
                         ln["call_sid"]))
    for t, took, sid in sorted(jobs):
        # The log line comes right after the answer (its ts cut to the
        # ms; the stand-in notes t_done a little after writing, under
        # load later than the worker logs): the nearest end, then the
        # nearest length.
        best, score = None, None
        for r in stt:
            if "sid" in r or abs(r["t_done"] - t) > 0.05:
                continue
            sc = abs(r["t_done"] - t) + \
                0.5 * abs(r["t_done"] - r["t_arrived"] - took)
            if best is None or sc < score:
                best, score = r, sc
        if best is not None:
            best["sid"] = sid


def llm_chain(chat, line, after):
    """The chat request(s) of a turn whose transcription ended at after:
    (provider seconds to the first sentence, its monotonic time, the
    chat's last_user) or None."""
    def first(pred, t):
        # t_done is noted just after the last write, so the next request
        # may arrive a little "before" it: the nearest arrival.
        c = [r for r in chat if not r.get("used") and
             (r.get("chat") or {}).get("line") == line and pred(r) and
             t - 0.05 <= r["t_arrived"] <= t + 5.0]
        return min(c, key=lambda r: abs(r["t_arrived"] - t)) if c else None
    a = first(lambda r: (r["chat"].get("tool_rounds") or 0) == 0, after)
    if a is None:
        return None
    a["used"] = True
    spent, r = 0.0, a
    for _ in range(4):  # tool rounds, bounded
        if isinstance(r.get("t_first_sentence"), (int, float)):
            return (spent + r["t_first_sentence"] - r["t_arrived"],
                    r["t_first_sentence"], a["chat"].get("last_user"))
        spent += r["t_done"] - r["t_arrived"]
        nxt = first(lambda q: (q["chat"].get("tool_rounds") or 0) > 0,
                    r["t_done"])
        if nxt is None:
            return None
        nxt["used"] = True
        r = nxt
    return None


def tts_for(tts, text, t_sentence):
    """The first sentence's synthesis: (provider seconds, request) or
    (0, None) for a cache hit (no request near the sentence). The
    tts-worker asks for its sentence a millisecond or two after the model
    stand-in wrote it (and never shares another job's request): the
    request of that text that arrived nearest the sentence."""
    text = (text or "").strip()
    best = near = None
    for r in tts:
        said = str(((r.get("body") or {}).get("input") or {}).get("text") or
                   "").strip()
        dt = abs(r["t_arrived"] - t_sentence)
        if said and text.startswith(said) and \
                t_sentence - 0.05 <= r["t_arrived"] <= t_sentence + 0.5 and \
                (best is None or dt < abs(best["t_arrived"] - t_sentence)):
            best = r
        # The tts-worker spells numbers out ("4" -> "ארבעה"), so a text
        # with digits is not what the stand-in saw: then the nearest
        # request of any text within 20 ms.
        if -0.005 <= r["t_arrived"] - t_sentence <= 0.02 and \
                (near is None or dt < abs(near["t_arrived"] - t_sentence)):
            near = r
    if best is None and re.search(r"\d", text.split(".")[0]):
        best = near
    if best is None:
        return 0.0, None
    return best["t_done"] - max(best["t_arrived"], t_sentence), best


def provider_times(run_dir, calls, rows, wall_off):
    """{(call_sid, agent turn seq): {"stt", "llm", "tts" (ms), "hit",
    "line", "reply_ms"}} for the agent turns whose requests were found,
    and how many agent turns were not."""
    log = os.path.join(run_dir, "log")
    stt = timed(os.path.join(run_dir, "standin-openai-stt.requests.log"),
                STT_ROUTE)
    chat = [r for r in timed(os.path.join(log, "standin-openai.requests.log"),
                             CHAT_ROUTE) if r.get("chat") and r.get("stream")]
    tts = timed(os.path.join(log, "standin-google.requests.log"), TTS_ROUTE)
    stt_calls(run_dir, stt, wall_off)
    chains = {}  # sid -> [chain]
    for r in sorted((r for r in stt if "sid" in r),
                    key=lambda r: r["t_done"]):
        line = (r.get("match") or {}).get("line")
        c = llm_chain(chat, line, r["t_done"]) if line else None
        if c is not None:
            chains.setdefault(r["sid"], []).append({
                "stt": r["t_done"] - r["t_arrived"], "llm": c[0],
                "t_sentence": c[1], "user": (c[2] or "").strip(),
                "line": line})
    replies = {}
    for c in calls:
        for t in c.get("turns") or []:
            replies[(c.get("call_sid"), t.get("id"))] = t.get("reply_ms")
    out, missed = {}, 0
    by_call = {}
    for r in rows:
        by_call.setdefault(r["sid"], []).append(r)
    for sid, rs in by_call.items():
        rs.sort(key=lambda r: r.get("seq") or 0)
        todo = list(chains.get(sid, []))
        heard = ""
        for r in rs:
            if r["speaker"] == "caller":
                heard = (r.get("heard_text") or "").strip()
                continue
            if r["speaker"] != "agent":
                continue
            c = next((x for x in todo if x["user"] == heard), None)
            if c is None:
                missed += 1
                continue
            todo.remove(c)
            t, req = tts_for(tts, r.get("generated_text"), c["t_sentence"])
            out[(sid, r.get("seq"))] = {
                "stt": c["stt"] * 1000, "llm": c["llm"] * 1000,
                "tts": t * 1000, "hit": req is None, "line": c["line"],
                "reply_ms": replies.get((sid, c["line"]))}
    return {"turns": out, "missed": missed}


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
                       "'sid', call_sid, 'seq', seq, 'speaker', speaker, "
                       "'interrupted', interrupted, 'heard_text', "
                       "heard_text, 'generated_text', generated_text, "
                       "'latency', latency)), '[]') FROM turns "
                       "WHERE call_sid IN (%s)" % lst)
    return json.loads(out or "[]")


def figures(args, n, calls, rows, cpu, per, their_cpu, call_s, base_rss,
            peak_rss, secs, overrun, exact):
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
    eot, old, added, server, caller = [], [], [], [], []
    stt, llm, tts, gw, prov = [], [], [], [], {"stt": [], "llm": [],
                                                  "tts": []}
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
        if ff is not None:  # the old figure: less the settings
            old.append(ff - args.stt_ms - args.ttft_ms -
                       (0 if t is not None and t < args.tts_ms
                        else args.tts_ms))
        if None not in (ff, s, l, t):
            gw.append(ff - s - l - t)
        p = exact["turns"].get((r["sid"], r.get("seq")))
        if p is None:
            continue
        hits += p["hit"]
        for k in prov:
            prov[k].append(p[k])
        total = p["stt"] + p["llm"] + p["tts"]
        if ff is not None:
            server.append(ff - total)
        if s is not None:
            stt.append(s - p["stt"])
        if l is not None:
            llm.append(l - p["llm"])
        if t is not None:
            tts.append(t - p["tts"])
        if p["reply_ms"] is not None and e is not None:
            added.append(p["reply_ms"] - e - total - args.jitter_ms)
            if ff is not None:
                caller.append(p["reply_ms"] - e - ff - args.jitter_ms)
    ok = sum(1 for c in calls if c.get("result") == "ok")
    r1 = lambda d: {k: (round(v, 1) if isinstance(v, float) else v)
                    for k, v in d.items()}
    return {
        "calls": n, "ok": ok, "reports": len(calls),
        "results": sorted({c.get("result") for c in calls}),
        "stand_in_ms": {"stt": args.stt_ms, "ttft": args.ttft_ms,
                        "tts": args.tts_ms},
        "jitter_ms": args.jitter_ms,
        "run_s": round(secs, 1), "call_s": round(call_s, 1),
        "voice_to_voice_ms": dist(replies),
        "end_of_turn_ms": dist(eot),
        "added_ms": r1(dist(added)),
        "added_server_ms": r1(dist(server)),
        "caller_side_ms": r1(dist(caller)),
        "turns_matched": len(exact["turns"]),
        "turns_unmatched": exact["missed"],
        "tts_cache_hits": hits,
        "provider_ms": {k: r1(dist(v)) for k, v in prov.items()},
        "standin_overrun_ms": {k: r1(v) for k, v in overrun.items()},
        "added_vs_settings_ms": dist(old),
        "added_stt_ms": r1(dist(stt)), "added_llm_ms": r1(dist(llm)),
        "added_tts_ms": r1(dist(tts)), "added_gateway_ms": dist(gw),
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


def added_note(a, n):
    """The added-latency aim beside a distribution (at the aim's level)."""
    if a["p50"] is None or n != AIM_AT_CALLS:
        return ""
    return "  [aim p50 <= %.0f, p99 <= %.0f at %d calls: %s]" % (
        AIM_ADDED_P50_MS, AIM_ADDED_P99_MS, AIM_AT_CALLS,
        aim(a["p50"] <= AIM_ADDED_P50_MS and a["p99"] <= AIM_ADDED_P99_MS))


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
    p = f["provider_ms"]
    say("  providers on the turn's path (their own timings), ms: STT %s; "
        "LLM to 1st sentence %s; TTS %s (0 on a cache hit: %d turns)" % (
            fmt(p["stt"]["p50"]), fmt(p["llm"]["p50"]),
            fmt(p["tts"]["p50"]), f["tts_cache_hits"]))
    say("  ADDED BY US (end of turn -> first frame sent, less the providers'"
        " own time), ms: %s%s" % (fdist(f["added_server_ms"], "%.1f"),
                                  added_note(f["added_server_ms"],
                                             f["calls"])))
    say("  voice to voice less end-of-turn wait, providers and the %d ms "
        "jitter buffer, ms: %s" % (f["jitter_ms"],
                                   fdist(f["added_ms"], "%.1f")))
    say("    = the above + the caller's side (20 ms frames, socket, and "
        "where the VAD and the caller put the end of speech): %s" %
        fdist(f["caller_side_ms"], "%.1f"))
    say("    stt job round trip - STT's own time:          %s" %
        fdist(f["added_stt_ms"], "%.1f"))
    say("    llm first sentence - the model's own time:    %s" %
        fdist(f["added_llm_ms"], "%.1f"))
    say("    tts job round trip - TTS's own time:          %s" %
        fdist(f["added_tts_ms"], "%.1f"))
    say("    gateway between the stages:                   %s" %
        fdist(f["added_gateway_ms"]))
    say("    (%d agent turns matched to their provider requests, %d not)" %
        (f["turns_matched"], f["turns_unmatched"]))
    o = f["standin_overrun_ms"]
    say("  the stand-ins over their setting (theirs, not ours), ms: STT %s;"
        " first token %s; TTS %s" % (fdist(o["stt"], "%.1f"),
                                     fdist(o["llm"], "%.1f"),
                                     fdist(o["tts"], "%.1f")))
    say("  (the old figure, first frame less the settings: %s)" %
        fdist(f["added_vs_settings_ms"]))
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


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] +
                                               v[len(v) // 2]) / 2.0


def print_summary(args, done):
    """Per level, the median over the runs of the figures the aims are
    about, beside the aims."""
    say("")
    say("== summary: median over %d run(s) per level; aims: added p50 <= "
        "%.0f and p99 <= %.0f ms at %d calls, clear p50 <= %.0f ms, CPU <= "
        "%.2f %% of a core per call ==" % (
            args.repeats, AIM_ADDED_P50_MS, AIM_ADDED_P99_MS, AIM_AT_CALLS,
            AIM_CLEAR_P50_MS, AIM_CPU_PCT_PER_CALL))
    say("calls | added by us p50 / p90 / p99 | voice to voice p50 / p99 | "
        "stand-ins over setting p99: STT / 1st token / TTS | clear p50 | "
        "CPU %/call")
    for n in sorted(done):
        fs = done[n]

        def m(get, spec="%.1f"):
            return fmt(median([get(f) for f in fs]), spec)
        a = median([f["added_server_ms"]["p50"] for f in fs])
        a99 = median([f["added_server_ms"]["p99"] for f in fs])
        verdict = ""
        if n == AIM_AT_CALLS and a is not None and a99 is not None:
            verdict = "  [%s]" % aim(a <= AIM_ADDED_P50_MS and
                                     a99 <= AIM_ADDED_P99_MS)
        say("%5d | %s / %s / %s | %s / %s | %s / %s / %s | %s | %s%s" % (
            n, m(lambda f: f["added_server_ms"]["p50"]),
            m(lambda f: f["added_server_ms"]["p90"]),
            m(lambda f: f["added_server_ms"]["p99"]),
            m(lambda f: f["voice_to_voice_ms"]["p50"], "%.0f"),
            m(lambda f: f["voice_to_voice_ms"]["p99"], "%.0f"),
            m(lambda f: f["standin_overrun_ms"]["stt"]["p99"]),
            m(lambda f: f["standin_overrun_ms"]["llm"]["p99"]),
            m(lambda f: f["standin_overrun_ms"]["tts"]["p99"]),
            m(lambda f: (f["clear_ms"] or {}).get("p50"), "%.0f"),
            m(lambda f: f["cpu_pct_per_call"], "%.4f"), verdict))


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
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs per level; the summary gives the median "
                         "over them (default 1)")
    ap.add_argument("--jitter-ms", type=int, default=60,
                    help="sim-caller's jitter buffer, taken away from the "
                         "added latency (default 60)")
    ap.add_argument("--json", action="store_true",
                    help="one JSON line of figures per level on stdout")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run directories (logs)")
    ap.add_argument("--smoke", action="store_true",
                    help="one call against MERKAZIA_BIN (make check)")
    a = ap.parse_args(argv)
    a.levels = [1] if a.smoke else [int(x) for x in a.levels.split(",")]
    a.repeats = 1 if a.smoke else max(1, a.repeats)
    return a


def main(argv):
    args = parse_args(argv)
    if args.json:
        benchlib.OUT = sys.stderr
    say("bench-call: %s build (%s), stand-ins STT %d ms, first token %d ms, "
        "TTS %d ms; levels %s; machine: %d cores, shared (figures vary "
        "with what else runs)" % (
            "ASan" if is_asan(os.path.join(e2e.BIN, "gateway"))
            else "release", e2e.BIN, args.stt_ms, args.ttft_ms, args.tts_ms,
            ",".join(map(str, args.levels)), os.cpu_count() or 0))
    code = 0
    runs = [(n, i) for n in args.levels for i in range(args.repeats)]
    done = {}
    for n, _ in runs:
        run_dir = tempfile.mkdtemp(prefix="mzc.", dir="/tmp")
        try:
            f = run_level(args, n, run_dir)
            print_level(f)
            done.setdefault(n, []).append(f)
            if args.json:
                print(json.dumps(f), flush=True)
            if f["ok"] != n or f["reports"] != n:
                say("bench: %d of %d calls did not end ok" %
                    (n - f["ok"], n))
                code = 1
            elif args.smoke and (f["added_server_ms"]["n"] == 0 or
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
    print_summary(args, done)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
