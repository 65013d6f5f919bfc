#!/usr/bin/env python3
"""Scenario: when Google fails, every TTS job still gets speech back (the
espeak-ng fallback voice) within its budget, heartbeats say Google is not
reachable, and a cancelled job gets nothing and frees its request.

Checked against tools/fake-google: Google answering 503 to everything ->
each job comes back voice_used "espeak-ng" with audio, after the retries
the budget allows; Google hanging -> the fallback result arrives before
the job's budget runs out; Google gone (stand-in stopped, connection
refused) -> fallback; the heartbeats then carry provider_reachable false
and a last_error; a job cancelled (JOB_CANCEL for its call and
generation) while Google hangs gets no result and leaves no job in flight.
The time of each fallback is printed.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import tts_e2e as t  # noqa: E402
from e2e import T, check  # noqa: E402


def heartbeats(s, n=2):
    code, out, err = e2e.run([t.MSGTOOL, "recv", "-e", "HEALTH_GATEWAY",
                              "-n", str(n), "-t", str(int(T(5) * 1000))],
                             env=t.msgtool_env(s), timeout=20)
    check(code == 0, "no heartbeat (msgtool exit %d: %s)" % (code, err))
    return [json.loads(line)["payload"] for line in out.splitlines()
            if line.strip()]


def cancel(s, call_sid):
    """Publish a cancel of call_sid's generation 0 from one bound PUB
    socket, again every 0.2 s (a subscriber may connect late), until the
    worker logs it."""
    msg = json.dumps({"type": "JOB_CANCEL", "call_sid": call_sid,
                      "generation": 0, "payload": {"reason": "barge-in"}})
    pub = subprocess.Popen([t.MSGTOOL, "send", "-e", "CANCEL", "-t", "300"],
                           env=t.msgtool_env(s), stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, text=True)

    def done():
        pub.stdin.write(msg + "\n")
        pub.stdin.flush()
        return any(line.get("msg") == "job cancelled" and
                   line.get("call_sid") == call_sid
                   for line in s.log("tts-worker"))
    try:
        e2e.wait_for(done, T(10), "the worker to log the cancel",
                     interval=0.2)
    finally:
        pub.stdin.close()
        pub.wait(timeout=T(10))


def scenario():
    g = t.FakeGoogle(os.path.join(e2e.RUN_DIR, "g")).start()
    try:
        run(g)
    finally:
        g.stop()


def run(g):
    s = t.start_worker(g, os.path.join(e2e.RUN_DIR, "s"),
                       "MERKAZIA_TTS_FALLBACK_MS=400")
    e2e.wait_for(lambda: g.requests("/token"), T(10), "the first token")

    # Google answers 503 to every synthesize.
    g.fail("503")
    res = t.jobs(s, [t.job(1, "גוגל לא זמין כרגע, 3 ניסיונות", 3000),
                     t.job(2, "משפט שני", 3000)])
    for jid in (1, 2):
        m = t.check_ok(res, jid, cached=False, fallback=True)
        e2e.delay("fallback after 503s (job %d)" % jid,
                  m["payload"]["tts_ms"] / 1000.0)
    synth = len(g.requests("/v1/text:synthesize"))
    check(synth >= 4, "only %d synthesize requests: no retries" % synth)
    hb = heartbeats(s)
    check(any(h.get("provider_reachable") is False for h in hb),
          "heartbeats say Google is reachable: %s" % hb)
    check(any("503" in (h.get("last_error") or "") for h in hb),
          "no 503 in last_error: %s" % hb)
    e2e.say("heartbeat while Google fails: %s" % hb[-1])
    g.heal()

    # Google hangs: the fallback comes before the budget is spent.
    g.fail("hang")
    t0 = time.monotonic()
    res = t.jobs(s, [t.job(3, "גוגל תקוע", 1500)])
    took = time.monotonic() - t0
    m = t.check_ok(res, 3, fallback=True)
    check(m["payload"]["tts_ms"] < 1500, "fallback after the budget: %s ms"
          % m["payload"]["tts_ms"])
    e2e.delay("fallback while Google hangs (budget 1.5 s)",
              m["payload"]["tts_ms"] / 1000.0)
    e2e.delay("round trip of that job", took)

    # A job cancelled while Google hangs: nothing comes back.
    r = t.Results(s, 1, timeout_s=3, name="cancelled")
    t.send(s, [t.job(4, "בוטל באמצע", 20000, call_sid="CA" + "c" * 32)],
           r.addr)
    e2e.wait_for(lambda: len(g.requests("/v1/text:synthesize")) > synth + 1,
                 T(10), "the cancelled job's request to reach Google")
    cancel(s, "CA" + "c" * 32)
    got = r.collect()
    check(not got, "a cancelled job got a result: %s" %
          {k: v["payload"] for k, v in got.items()})
    hb = heartbeats(s)
    check(hb[-1].get("jobs_in_flight") == 0,
          "jobs in flight after the cancel: %s" % hb[-1])
    g.heal()

    # Google gone: connection refused.
    g.stop()
    res = t.jobs(s, [t.job(5, "אין חיבור לגוגל", 3000)])
    m = t.check_ok(res, 5, fallback=True)
    e2e.delay("fallback with Google gone", m["payload"]["tts_ms"] / 1000.0)
    t.scan_secrets(s)
    code, report = s.stop()
    check(code == 0, "stack stopped with %s: %s" % (code, report))


e2e.main(scenario)
