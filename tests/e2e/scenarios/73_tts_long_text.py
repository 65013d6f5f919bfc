#!/usr/bin/env python3
"""Scenario: a text over Google's 5000-byte limit is split at sentence
boundaries, each piece synthesized, and the audio comes back as one
result.

About 11,000 bytes of Hebrew sentences go to a tts-worker in one TTS_JOB.
tools/fake-google refuses any input.text over 5000 bytes, so a worker that
did not split would fall back. Checked: one result in Google's voice; three
synthesize requests, each at most 5000 bytes and (but for the last) ending
on a sentence; the audio about as long as the sum of three pieces. With Google failing,
the same text comes back in the fallback voice (espeak-ng speaks at most
120 s at once, so the worker renders it in pieces too).
"""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import tts_e2e as t  # noqa: E402
from e2e import check  # noqa: E402

SENTENCE = "הדירה נמצאת ברחוב הרצל והיא מוארת ושקטה מאוד. "


def scenario():
    g = t.FakeGoogle(os.path.join(e2e.RUN_DIR, "g")).start()
    try:
        s = t.start_worker(g, os.path.join(e2e.RUN_DIR, "s"))
        text = ""
        # fake-google renders with espeak-ng, which speaks at most 120 s
        # at once: rate 4 keeps a 5000-byte piece under that.
        while len(text.encode()) < 10500:
            text += SENTENCE
        text = text.strip()
        res = t.jobs(s, [t.job(1, text, budget_ms=30000, rate=4.0)], timeout_s=40)
        m = t.check_ok(res, 1, cached=False)
        e2e.delay("synthesis of %d bytes in pieces" % len(text.encode()),
                  m["payload"]["tts_ms"] / 1000.0)
        reqs = g.requests("/v1/text:synthesize")
        sizes = [len(r["body"]["input"]["text"].encode()) for r in reqs
                 if isinstance(r["body"]["input"].get("text"), str)]
        e2e.say("pieces sent to Google (bytes): %s; audio %d bytes" %
                (sizes, len(m["audio"])))
        check(len(reqs) == 3, "%d synthesize requests, not 3" % len(reqs))
        check(all(r.get("status", 200) == 200 for r in reqs),
              "a piece was refused: %s" % [r.get("status") for r in reqs])
        check(len(m["audio"]) > 8000 * 20,
              "only %d bytes of audio for %d bytes of text" %
              (len(m["audio"]), len(text.encode())))
        # Google down: the fallback voice speaks the long text in pieces.
        g.fail("503")
        res = t.jobs(s, [t.job(2, text, budget_ms=30000)], timeout_s=60)
        m = t.check_ok(res, 2, fallback=True)
        e2e.delay("fallback voice for %d bytes" % len(text.encode()),
                  m["payload"]["tts_ms"] / 1000.0)
        t.scan_secrets(s)
        code, report = s.stop()
        check(code == 0, "stack stopped with %s: %s" % (code, report))
    finally:
        g.stop()


e2e.main(scenario)
