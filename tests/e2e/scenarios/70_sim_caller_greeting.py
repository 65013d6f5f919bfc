#!/usr/bin/env python3
"""Scenario: a simulated Twilio call hears the greeting. tools/sim-caller
(ASan build) posts the signed voice webhook, opens the signed Media Streams
WebSocket, sends connected/start and 20 ms media frames, listens, and hangs
up once the greeting has played (stop, close 1000).
Asserts: the TwiML is <Connect><Stream>; the call ends normally with stop
sent and a clean close; the first audio heard is the greeting (audible,
and the same waveform as espeak-ng's rendering of MERKAZIA_GREETING_TEXT
through tools/speak); every mark the gateway sent came back after its
audio played; no protocol error; the gateway logged no warning for the
call; and the signature was checked (the same call unsigned gets 403).
Prints webhook, upgrade, greeting latencies (never asserted).
Why: the prototype's worst failure was "greeting, then silence"; this is
the smallest whole call, and the frame every later call test builds on."""
import array
import json
import math
import os
import subprocess
import sys
import wave

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import T, check  # noqa: E402

GREETING = "שלום, הגעתם לשי דירות ומשרדים, איך אפשר לעזור?"
BUSINESS = "e2e-business"


def sim_caller(stack, name, *args):
    """Run sim-caller against the stack; return (exit code, its JSON)."""
    log = stack.path("log", name + ".log")
    with open(log, "w", encoding="utf-8") as err:
        p = subprocess.run(
            [os.path.join(e2e.BIN, "sim-caller"), "--env",
             stack.ready["env"], "--max-call-ms", str(int(T(30) * 1000))] +
            list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            timeout=T(60), check=False)
    lines = [l for l in p.stdout.decode("utf-8").splitlines() if l.strip()]
    check(len(lines) == 1, "%s printed %d lines, not one: %r" %
          (name, len(lines), lines[:3]))
    return p.returncode, json.loads(lines[0])


def samples(path):
    with wave.open(path, "rb") as w:
        check(w.getframerate() == 8000 and w.getnchannels() == 1 and
              w.getsampwidth() == 2, "%s is not 8 kHz mono PCM16" % path)
        return array.array("h", w.readframes(w.getnframes()))


def first_sound(a):
    for i, x in enumerate(a):
        if abs(x) > 0:
            return i
    return None


def scenario():
    stack = e2e.Stack("--only", "gateway", "--no-db", "--no-standins",
                      "--set", "gateway:MERKAZIA_DEFAULT_BUSINESS=" +
                      BUSINESS,
                      "--set", "gateway:MERKAZIA_GREETING_TEXT=" + GREETING)
    stack.start()
    heard = stack.path("heard.wav")
    code, call = sim_caller(stack, "sim-caller", "--wav", heard)
    e2e.say("call: " + json.dumps({k: call.get(k) for k in (
        "result", "error", "twiml", "upgrade_status", "closed_by",
        "close_code", "marks", "protocol_error_kinds")},
        ensure_ascii=False))
    check(code == 0 and call["result"] == "ok",
          "the call did not end normally: %s %s" %
          (call["result"], call.get("error")))
    check(call["twiml"]["kind"] == "stream" and
          call["twiml"]["stream_url"].endswith("/twilio/media"),
          "TwiML without the media stream: %s" % call["twiml"])
    check(call["twiml"]["parameters"].get("business") == BUSINESS,
          "the stream's parameters miss the business: %s" %
          call["twiml"]["parameters"])
    check(call["signed"] and call["upgrade_signed"] and
          call["upgrade_status"] == 101, "the upgrade was not a signed 101")
    check(call["start_sent"] and call["stop_sent"] and
          call["closed_by"] == "caller" and call["close_code"] == 1000,
          "the call did not stop cleanly: stop_sent=%s closed_by=%s "
          "close_code=%s" % (call["stop_sent"], call["closed_by"],
                             call["close_code"]))
    check(call["turns"] == [], "the caller spoke: %s" % call["turns"])
    check(call["greeting_ms"] is not None and call["heard_audible_ms"] > 0,
          "no audible greeting was heard")
    check(call["protocol_errors"] == 0, "protocol errors from the gateway: "
          "%s" % call["protocol_error_kinds"])
    check(call["marks"], "the gateway sent no mark with the greeting")
    for m in call["marks"]:
        check(m["echoed"] and m["played"],
              "mark %s was not echoed as played" % m["name"])
    check(call["marks_pending"] == 0, "marks left pending")

    # The first audio heard is the greeting: the same waveform as
    # espeak-ng's rendering of its text (the gateway's own fallback voice).
    ref_path = stack.path("greeting.wav")
    rc, _, err = e2e.run([os.path.join(e2e.BIN, "speak"), "--format",
                          "wav", "-o", ref_path, GREETING])
    check(rc == 0, "speak failed: %s" % err[-300:])
    got, ref = samples(heard), samples(ref_path)
    g0, r0 = first_sound(got), first_sound(ref)
    check(g0 is not None, "the recording is silent")
    n = min(len(got) - g0, len(ref) - r0)
    check(n > 8000, "less than a second of greeting was heard")
    dot = sum(got[g0 + i] * ref[r0 + i] for i in range(n))
    eg = sum(got[g0 + i] ** 2 for i in range(n))
    er = sum(ref[r0 + i] ** 2 for i in range(n))
    corr = dot / math.sqrt(eg * er) if eg and er else 0.0
    e2e.say("greeting vs espeak-ng rendering: correlation %.4f over %.2f s"
            % (corr, n / 8000.0))
    check(corr > 0.9, "the first audio heard is not the greeting "
          "(correlation %.3f)" % corr)
    rms = math.sqrt(eg / n)
    check(rms > 300, "the greeting is nearly silent (RMS %.0f)" % rms)

    # A normal call logs no warning at the gateway (R10).
    warns = [l for l in stack.log("gateway")
             if l.get("call_sid") == call["call_sid"] and
             l.get("level") in ("warn", "error", "fatal")]
    check(not warns, "gateway warnings for the call: %s" % warns[:3])

    # The signature is what let it in: unsigned, the webhook gets 403.
    code, bad = sim_caller(stack, "sim-caller-unsigned", "--unsigned")
    check(code == 1 and bad["result"] == "webhook_status" and
          bad["webhook_status"] == 403,
          "an unsigned webhook was not refused with 403: %s %s" %
          (bad["result"], bad.get("webhook_status")))

    e2e.delay("webhook", call["webhook_ms"] / 1000.0)
    e2e.delay("upgrade", call["upgrade_ms"] / 1000.0)
    e2e.delay("greeting (start sent -> first audible frame)",
              call["greeting_ms"] / 1000.0)
    e2e.delay("first media after start", call["first_media_ms"] / 1000.0)

    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
