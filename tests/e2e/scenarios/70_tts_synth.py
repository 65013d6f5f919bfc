#!/usr/bin/env python3
"""Scenario: the tts-worker speaks through Google, strips every WAV header
layout, and answers a repeated sentence from its cache without asking
Google again.

A tts-worker (through tools/stack) talks to tools/fake-google, which checks
the wire format as strictly as Google (JWT, MULAW 8000, he-IL voice) and
rotates its WAV header layouts. Checked: a Hebrew sentence with a price
and a room count comes back as mu-law from the Google voice, with index,
cached false and tts_ms; the text Google received has its numbers spelled
out and the request carries he-IL, MULAW, 8000, the speaking rate and the
telephony profile; the same sentence sent four times with the cache off,
once per WAV layout (plain 44 bytes, fact, odd LIST with a pad byte, all
of them), gives four results of the same length (header bytes never
played); with the cache on, a repeat is answered cached: true and
fake-google records no second synthesize request; a bad job gets an ERROR
result naming the problem. No key, JWT or token appears in the log.
"""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import tts_e2e as t  # noqa: E402
from e2e import check  # noqa: E402

SENTENCE = "יש לנו דירה של 3 חדרים בתל אביב ב-₪1,200,000."
SYNTH = "/v1/text:synthesize"


def layouts(g):
    """Cache off: each WAV layout must give the same audio length."""
    s = t.start_worker(g, os.path.join(e2e.RUN_DIR, "nc"),
                       "MERKAZIA_TTS_CACHE_DIR=/proc/no-cache-here")
    lengths = {}
    for n, layout in enumerate(["plain", "fact", "list", "all"]):
        g.config(wav_layout=layout)
        res = t.jobs(s, [t.job(100 + n, "שלום, מדברים ממשרד התיווך.")])
        m = t.check_ok(res, 100 + n, cached=False)
        lengths[layout] = len(m["audio"])
    e2e.say("audio bytes per WAV layout: %s" % lengths)
    check(len(set(lengths.values())) == 1,
          "WAV layouts gave different audio lengths: %s" % lengths)
    g.config(wav_layout="rotate")
    t.scan_secrets(s)
    s.stop()


def synth_and_cache(g):
    s = t.start_worker(g, os.path.join(e2e.RUN_DIR, "c"))
    before = len(g.requests(SYNTH))
    res = t.jobs(s, [t.job(1, SENTENCE, voice="he-IL-Wavenet-C", rate=1.1)])
    m = t.check_ok(res, 1, cached=False)
    check(m["payload"]["voice_used"] == "he-IL-Wavenet-C",
          "voice_used %s" % m["payload"]["voice_used"])
    e2e.delay("synthesis (first job, token fetched at start)",
              m["payload"]["tts_ms"] / 1000.0)
    reqs = g.requests(SYNTH)
    check(len(reqs) == before + 1, "%d synthesize requests, not 1" %
          (len(reqs) - before))
    body = reqs[-1]["body"]
    text = body["input"]["text"]
    check(not any(c.isdigit() for c in text),
          "Google got digits (numbers not spelled out): %s" % text)
    check("שלושה חדרים" in text, "room count not spelled out: %s" % text)
    check(body["voice"] == {"languageCode": "he-IL",
                            "name": "he-IL-Wavenet-C"},
          "voice %s" % body["voice"])
    ac = body["audioConfig"]
    check(ac.get("audioEncoding") == "MULAW" and
          ac.get("sampleRateHertz") == 8000 and
          abs(ac.get("speakingRate", 0) - 1.1) < 1e-9 and
          ac.get("effectsProfileId") == ["telephony-class-application"],
          "audioConfig %s" % ac)

    # The same sentence again: from the cache, Google not asked.
    res = t.jobs(s, [t.job(2, SENTENCE, voice="he-IL-Wavenet-C", rate=1.1)])
    m2 = t.check_ok(res, 2, cached=True)
    check(m2["audio"] == m["audio"], "the cached audio differs")
    e2e.delay("cache hit", m2["payload"]["tts_ms"] / 1000.0)
    check(len(g.requests(SYNTH)) == before + 1,
          "a cache hit made a synthesize request")
    files = []
    for root, _, names in os.walk(s.path("state", "tts-cache")):
        files += [n for n in names if n.endswith(".ulaw")]
    check(len(files) == 1, "cache files: %s" % files)

    # Another rate is another entry.
    res = t.jobs(s, [t.job(3, SENTENCE, voice="he-IL-Wavenet-C")])
    t.check_ok(res, 3, cached=False)
    check(len(g.requests(SYNTH)) == before + 2, "rate 1.0 was not asked")

    # A bad job: an ERROR result, not silence.
    res = t.jobs(s, [t.job(4, "   "), t.job(5, "שלום", voice="bad voice!")])
    for jid in (4, 5):
        m = res.get(jid)
        check(m is not None and m["flags"] & 2 and
              m["payload"].get("error") == "bad_request",
              "job %d: %s" % (jid, m and m["payload"]))
    e2e.say("bad jobs: %s / %s" % (res[4]["payload"]["message"],
                                   res[5]["payload"]["message"]))
    t.scan_secrets(s)
    code, report = s.stop()
    check(code == 0, "stack stopped with %s: %s" % (code, report))


def scenario():
    g = t.FakeGoogle(os.path.join(e2e.RUN_DIR, "g")).start()
    try:
        synth_and_cache(g)
        layouts(g)
    finally:
        g.stop()


e2e.main(scenario)
