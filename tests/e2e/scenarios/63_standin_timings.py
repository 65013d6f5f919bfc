#!/usr/bin/env python3
"""Scenario: the stand-ins time every request on the clock the tests use,
and keep to their latency setting with their own work inside it.

Why: `make bench-call` takes each turn's provider time away from the
system's latency using the stand-ins' own timings (docs/standins.md,
Timings). If those were on another clock, out of order, or if the
stand-in's work were added on top of latency_ms, the benchmark would
count the stand-ins as ours again. Checked against tools/fake-openai
(the frame, tools/standin.py, is the same for every stand-in):
  * a transcription with latency_ms 300: its record (GET
    /_standin/requests) has t_arrived and t_done on this process's
    time.monotonic() (inside the client's own before/after readings),
    t_done - t_arrived >= 300 ms, and `ms` is that difference;
  * a chat stream with ttft_ms 100 on top: t_arrived <= t_first_content
    <= t_first_sentence <= t_done, the first content >= 400 ms after
    the arrival, and not later than the client saw it;
  * a request in progress (a hang) is listed with "t_done": null.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import standins  # noqa: E402
from e2e import check  # noqa: E402

STT = "/v1/audio/transcriptions"
CHAT = "/v1/chat/completions"
LINE = {"id": "hello", "say": "שלום, מדבר דני.",
        "agent": "שלום דני, במה אפשר לעזור? אני כאן."}


def one(st, path):
    recs = st.requests(path)
    check(len(recs) == 1, "%s: %d records, want 1" % (path, len(recs)))
    return recs[0]


def scenario():
    key = "sk-test-" + "0" * 40
    env = dict(os.environ, OPENAI_API_KEY=key)
    path = os.path.join(e2e.RUN_DIR, "timings.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"format": "merkazia-scenario/1", "name": "timings",
                   "caller": {"wpm": 175}, "steps": [LINE]}, f,
                  ensure_ascii=False)
    st = standins.StandIn("fake-openai", "--scenario", path, "--latency-ms",
                          "300", env=env, name="fake-openai-timings")
    st.start()
    auth = {"Authorization": "Bearer " + key}
    try:
        # A transcription: the work (audio matching) inside the 300 ms.
        ctype, body = standins.multipart(
            {"model": "whisper-1", "language": "he",
             "response_format": "json"},
            [("file", "turn.wav", "audio/wav",
              standins.speak(LINE["say"], 175))])
        before = time.monotonic()
        code, _, out = standins.http("POST", st.base + STT, body,
                                     dict(auth, **{"Content-Type": ctype}))
        after = time.monotonic()
        check(code == 200, "transcription: %d %s" % (code, out[:200]))
        r = one(st, STT)
        check(before <= r["t_arrived"] <= r["t_done"] <= after,
              "transcription timings %s..%s outside the client's %.6f.."
              "%.6f (not CLOCK_MONOTONIC?)" % (
                  r.get("t_arrived"), r.get("t_done"), before, after))
        took = r["t_done"] - r["t_arrived"]
        check(took >= 0.3 - 0.001, "service %.3f s under latency_ms 300" %
              took)
        check(abs(r["ms"] - took * 1000) < 1.0, "ms %s is not t_done - "
              "t_arrived (%.1f)" % (r["ms"], took * 1000))
        e2e.delay("transcription with latency_ms 300 (stand-in's view)",
                  took)

        # A chat stream: first content at latency + ttft after arrival.
        st.control("POST", "config", {"ttft_ms": 100})
        doc = {"model": "gpt-4o", "stream": True, "messages": [
            {"role": "system", "content": "עני בעברית."},
            {"role": "user", "content": LINE["say"]}]}
        before = time.monotonic()
        code, _, chunks = standins.raw_post(
            st.base, CHAT, dict(auth, **{"Content-Type":
                                         "application/json"}),
            json.dumps(doc, ensure_ascii=False).encode("utf-8"))
        after = time.monotonic()
        check(code == 200, "chat: %s" % code)
        r = one(st, CHAT)
        ts = [r.get(k) for k in ("t_arrived", "t_first_content",
                                 "t_first_sentence", "t_done")]
        check(all(isinstance(t, (int, float)) for t in ts) and
              before <= ts[0] <= ts[1] <= ts[2] <= ts[3] <= after,
              "chat timings out of order or off the client's clock: %s "
              "(client %.6f..%.6f)" % (ts, before, after))
        check(ts[1] - ts[0] >= 0.4 - 0.001, "first content %.3f s after "
              "the arrival, under latency 300 + ttft 100 ms" %
              (ts[1] - ts[0]))
        e2e.delay("chat first content with 300 + 100 ms", ts[1] - ts[0])

        # In progress: t_done null until answered.
        st.control("DELETE", "requests")
        st.control("POST", "config", {"latency_ms": 0, "hang_s": 30})
        st.fail("/v1/models", "hang")
        def hang():
            try:
                standins.http("GET", st.base + "/v1/models", None, auth,
                              timeout=5)
            except OSError:
                pass  # the stand-in gave up on it at the stop
        threading.Thread(target=hang, daemon=True).start()
        e2e.wait_for(lambda: st.requests("/v1/models"), e2e.T(5),
                     "the hanging request listed")
        r = st.requests("/v1/models")[0]
        check(r["t_done"] is None and r["status"] is None and
              isinstance(r["t_arrived"], (int, float)),
              "in progress: %s" % {k: r.get(k) for k in (
                  "t_arrived", "t_done", "status")})
    finally:
        code = st.stop()
    check(code == 0, "fake-openai exited %s on SIGTERM" % code)
    e2e.say("stand-in timings: on CLOCK_MONOTONIC, in order, latency "
            "counted from the arrival, t_done null while in progress")


e2e.main(scenario)
