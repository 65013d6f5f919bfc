#!/usr/bin/env python3
"""Scenario: the stt-worker transcribes utterances through the OpenAI
stand-in, filters Whisper's hallucinations and survives provider faults.

Checked (stt-worker + tools/fake-openai via tools/stack): a scenario line
rendered as mu-law 8 kHz comes back as STT_RESULT (FINAL) with the
scripted text, no_speech false, duration_ms and stt_ms, and the stand-in
received a 16-bit WAV with language=he and verbose_json; the caller's real
"תודה רבה!" is kept; silence and line noise (answered "תודה רבה." with a
high no_speech_prob) come back no_speech true with empty text; an empty
blob is an ERROR result bad_audio; 429 then success returns the text after
a retry; 500 on every try comes back as an ERROR result (its time
printed); a hung provider gives an ERROR result within the job's budget;
insufficient_quota comes back at once as ERROR quota, with an operator
alert in the log and the heartbeat's last error.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import ai_e2e as ai  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def one(s, job, timeout_s=20):
    r = ai.Results(s, 1, timeout_s)
    t0 = time.monotonic()
    ai.send(s, "JOBS_STT", [job], r.addr)
    msgs = r.collect()
    check(len(msgs) == 1, "%d results for job %d" % (len(msgs),
                                                     job["job_id"]))
    m = msgs[0]
    check(m["type"] == "STT_RESULT" and m["job_id"] == job["job_id"],
          "unexpected result %s" % m)
    check(m["flags"] & 1, "result without FINAL: %s" % m)
    return m, time.monotonic() - t0


def main():
    s = ai.start(os.path.join(e2e.RUN_DIR, "s"), "stt-worker",
                 "stt-worker:MERKAZIA_STT_RETRIES=2")
    o = ai.openai(s)
    want = ai.line("want-to-buy")
    audio = ai.speak_mulaw(want["say"])

    m, dt = one(s, ai.stt_job(1, audio))
    p = m["payload"]
    check(not (m["flags"] & 2), "error result: %s" % p)
    check(p["text"] == want.get("text", want["say"]),
          "text %r, expected %r" % (p["text"], want["say"]))
    check(p["no_speech"] is False, "no_speech: %s" % p)
    check(abs(p["duration_ms"] - len(audio) // 8) <= 1, "duration %s" % p)
    e2e.delay("transcription (stt_ms %d)" % p["stt_ms"], dt)
    req = o.requests(ai.STT_PATH)[-1]
    e2e.say("stand-in saw: %s" % {k: v for k, v in req.items()
                                  if k in ("path", "fields", "outcome")})

    # The caller's real thanks: kept.
    bye = ai.line("thanks-bye")
    m, _ = one(s, ai.stt_job(2, ai.speak_mulaw(bye["say"])))
    check(m["payload"]["no_speech"] is False and m["payload"]["text"],
          "the caller's thanks was dropped: %s" % m["payload"])

    # Silence and line noise: the hallucination is filtered.
    rnd = random.Random(7)
    noise = bytes(0xFF if rnd.random() < 0.5 else 0x7E
                  for _ in range(8000))
    for jid, audio_ in ((3, bytes([0xFF]) * 8000), (4, noise)):
        m, _ = one(s, ai.stt_job(jid, audio_))
        p = m["payload"]
        check(not (m["flags"] & 2), "error result: %s" % p)
        check(p["no_speech"] is True and p["text"] == "",
              "hallucination passed: %s" % p)
        e2e.say("filtered %r (%s)" % (p.get("filtered"), p.get("reason")))

    # No audio: bad_audio.
    m, _ = one(s, ai.stt_job(5, b""))
    check(m["flags"] & 2 and m["payload"]["error"] == "bad_audio",
          "empty blob: %s" % m)

    # 429 once, then success.
    o.fail(ai.STT_PATH, "429", 1, retry_after=1)
    m, dt = one(s, ai.stt_job(6, audio))
    check(not (m["flags"] & 2) and m["payload"]["attempts"] == 2,
          "429 then success: %s" % m["payload"])
    e2e.delay("transcription after a 429 with Retry-After 1", dt)

    # 500 on every try: an error result, never silence.
    o.fail(ai.STT_PATH, "500", -1)
    m, dt = one(s, ai.stt_job(7, audio))
    o.heal()
    check(m["flags"] & 2 and m["payload"]["error"] == "provider",
          "500: %s" % m["payload"])
    check(m["payload"]["attempts"] == 3, "attempts %s" % m["payload"])
    e2e.delay("error result after 500 x3 (stt_ms %d)" %
              m["payload"]["stt_ms"], dt)

    # A hung provider: an error within the job's budget.
    o.fail(ai.STT_PATH, "hang", -1)
    m, dt = one(s, ai.stt_job(8, audio, budget_ms=2500))
    o.heal()
    check(m["flags"] & 2 and m["payload"]["error"] == "timeout",
          "hang: %s" % m["payload"])
    check(dt < 2.5 + e2e.T(1.5), "hang answered after %.2f s" % dt)
    e2e.delay("error result for a hung provider (budget 2.5 s)", dt)

    # insufficient_quota: not retried, alert.
    o.fail(ai.STT_PATH, "quota", 1)
    m, dt = one(s, ai.stt_job(9, audio))
    check(m["flags"] & 2 and m["payload"]["error"] == "quota",
          "quota: %s" % m["payload"])
    check(m["payload"]["attempts"] == 1, "quota retried: %s" % m["payload"])
    e2e.wait_for(lambda: ai.log_has(s, "stt-worker", "operator alert"),
                 e2e.T(5), "the operator alert in the log")
    e2e.delay("quota error result", dt)
    # Works again afterwards.
    m, _ = one(s, ai.stt_job(10, audio))
    check(not (m["flags"] & 2), "after quota: %s" % m["payload"])
    s.stop()


e2e.main(main)
