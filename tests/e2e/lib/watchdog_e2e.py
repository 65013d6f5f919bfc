"""Helpers for the watchdog scenarios (tests/e2e/scenarios/90_watchdog_*).

Why this exists: each watchdog scenario starts tools/stack with the
gateway, the watchdog, crm-store and fake-twilio, places simulated calls
that break in a chosen way, and then looks at two things only: the
watchdog's decision lines (JSON, one per decision, with call_sid) and the
call updates fake-twilio recorded. Written once here so each scenario
reads as its assertions. Standard library only.
"""

import json
import os
import subprocess
import time

import conv_e2e
import e2e
import standins
from e2e import T, check

BUSINESS = "e2e-watchdog"
# Never contacted: Twilio would fetch it, fake-twilio only checks that
# the Record URLs in the TwiML are absolute.
PUBLIC_URL = "https://calls.merkazia.test"
START_TIMEOUT_MS = 1500
MEDIA_TIMEOUT_MS = 2000
HEARTBEAT_TIMEOUT_MS = 1000


def start(*extra, only="gateway,watchdog,crm-store"):
    """tools/stack with short watchdog timeouts; return the Stack."""
    args = ["--only", only,
            "--set", "gateway:MERKAZIA_DEFAULT_BUSINESS=" + BUSINESS,
            "--set", "watchdog:MERKAZIA_PUBLIC_URL=" + PUBLIC_URL,
            "--set", "watchdog:MERKAZIA_WATCHDOG_START_TIMEOUT_MS=%d" %
            START_TIMEOUT_MS,
            "--set", "watchdog:MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS=%d" %
            MEDIA_TIMEOUT_MS,
            "--set", "MERKAZIA_HEARTBEAT_TIMEOUT_MS=%d" %
            HEARTBEAT_TIMEOUT_MS] + list(extra)
    st = e2e.Stack(*args)
    st.start()
    check(st.settings.get("TWILIO_API_BASE_URL", "").startswith(
        "http://127.0.0.1:"), "fake-twilio did not start: %s" %
        st.settings.get("TWILIO_API_BASE_URL"))
    return st


def sim_caller_argv(stack, *args):
    return [os.path.join(e2e.BIN, "sim-caller"), "--env", stack.ready["env"],
            "--max-call-ms", str(int(T(30) * 1000))] + list(args)


def sim_caller(stack, name, *args):
    """Run one simulated call to its end; return its JSON report."""
    with open(stack.path("log", name + ".log"), "w", encoding="utf-8") as err:
        p = subprocess.run(sim_caller_argv(stack, *args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=err, timeout=T(60), check=False)
    return report(p.stdout.decode("utf-8"), name)


def sim_caller_start(stack, name, *args):
    """Start one simulated call; finish it with sim_caller_wait()."""
    err = open(stack.path("log", name + ".log"), "w", encoding="utf-8")
    p = subprocess.Popen(sim_caller_argv(stack, *args),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=err)
    p.mz_err = err
    p.mz_name = name
    return p


def sim_caller_wait(p):
    out, _ = p.communicate(timeout=T(60))
    p.mz_err.close()
    return report(out.decode("utf-8"), p.mz_name)


def report(out, name):
    lines = [ln for ln in out.splitlines() if ln.strip()]
    check(len(lines) == 1, "%s printed %d lines, not one: %r" %
          (name, len(lines), lines[:3]))
    return json.loads(lines[0])


def decisions(stack, call_sid=None, decision=None):
    """The watchdog's decision lines, for one call and/or of one kind."""
    return [ln for ln in stack.log("watchdog")
            if "decision" in ln and
            (call_sid is None or ln.get("call_sid") == call_sid) and
            (decision is None or ln["decision"] == decision)]


def first_call_sid(stack, decision="watch"):
    """The call SID of the first decision line of a kind, or None."""
    got = decisions(stack, decision=decision)
    return got[0]["call_sid"] if got else None


def wait_decision(stack, call_sid, decision, timeout):
    """Wait for the watchdog to log decision about call_sid; return the
    line and the monotonic time it was seen."""
    line = e2e.wait_for(lambda: (decisions(stack, call_sid, decision) or
                                 [None])[0], T(timeout),
                        "the watchdog to log %s for %s" % (decision,
                                                           call_sid))
    return line, time.monotonic()


class Twilio:
    """The control endpoint of the stack's fake-twilio."""

    def __init__(self, stack):
        self.base = stack.settings["TWILIO_API_BASE_URL"].rstrip("/")
        self.account = stack.settings["TWILIO_ACCOUNT_SID"]

    def control(self, method, path, doc=None):
        code, _, body = standins.http(
            method, self.base + "/_standin/" + path,
            json.dumps(doc).encode() if doc is not None else None,
            {"Content-Type": "application/json"})
        check(code == 200, "fake-twilio %s %s: %d %s" % (method, path, code,
                                                         body[:200]))
        doc = json.loads(body)
        check("error" not in doc, "fake-twilio %s %s: %s" %
              (method, path, doc.get("error")))
        return doc

    def call_path(self, call_sid):
        return "/2010-04-01/Accounts/%s/Calls/%s.json" % (self.account,
                                                          call_sid)

    def updates(self, call_sid):
        """Every request fake-twilio recorded for the call's resource."""
        return [r for r in self.control("GET", "requests")["requests"]
                if r.get("path") == self.call_path(call_sid)]

    def set_call(self, call_sid, status):
        return self.control("POST", "calls", {"sid": call_sid,
                                              "status": status})


def check_record_update(req, call_sid, twilio):
    """Assert one recorded request is the watchdog's Record fallback."""
    check(req["method"] == "POST" and
          req["path"] == twilio.call_path(call_sid),
          "unexpected request %s %s" % (req["method"], req["path"]))
    auth = req["headers"].get("Authorization", "")
    check(auth.startswith("Basic "), "no Basic auth on the update: %r" %
          auth)
    if req.get("fault"):
        # Answered with a fault before it was parsed: only the form's
        # field names are recorded.
        check("Twiml" in (req.get("body") or {}),
              "the faulted update has no Twiml field: %s" % req.get("body"))
        return
    check(req.get("update") == "Twiml", "the update is %s, not Twiml" %
          req.get("update"))
    twiml = req["twiml"]
    check(req["verbs"] == ["Say", "Record"],
          "the fallback's verbs are %s" % req["verbs"])
    check('<Say language="he-IL">' in twiml,
          "no Hebrew <Say> in the fallback: %s" % twiml)
    check('action="%s/twilio/recording"' % PUBLIC_URL in twiml and
          'recordingStatusCallback="%s/twilio/recording-status"' %
          PUBLIC_URL in twiml,
          "the Record URLs are not the absolute public ones: %s" % twiml)
    check("maxLength=" in twiml, "no maxLength on <Record>: %s" % twiml)


# ----- the recording path (90_watchdog_recording) ----------------------------

def twilio_signature(token, url, params):
    """X-Twilio-Signature of a form POST: base64 HMAC-SHA1 over the URL
    and every parameter name and value, sorted by name."""
    import base64
    import hashlib
    import hmac
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8"),
                                     hashlib.sha1).digest()).decode()


def gateway_http(stack):
    """(listen address, effective public URL) from the gateway's log."""
    line = e2e.wait_for(
        lambda: next((ln for ln in stack.log("gateway")
                      if ln.get("listen") and ln.get("public_url")), None),
        T(10), "the gateway's listening line")
    return line["listen"], line["public_url"].rstrip("/")


def post_twilio(stack, path, params):
    """POST a signed Twilio webhook to the gateway; return the status."""
    import urllib.parse
    listen, public = gateway_http(stack)
    sig = twilio_signature(stack.settings["TWILIO_AUTH_TOKEN"],
                           public + path, params)
    code, _, _ = standins.http(
        "POST", "http://%s%s" % (listen, path),
        urllib.parse.urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded",
         "X-Twilio-Signature": sig})
    return code


def recording_status_form(twilio, call_sid, rec, url=None):
    """The form Twilio posts to recordingStatusCallback for rec (an answer
    of fake-twilio's POST /_standin/recordings)."""
    return {"AccountSid": twilio.account, "CallSid": call_sid,
            "RecordingSid": rec["sid"],
            "RecordingUrl": url if url is not None else rec["url"],
            "RecordingStatus": "completed",
            "RecordingDuration": str(rec["duration"]),
            "RecordingChannels": "1", "RecordingSource": "RecordVerb",
            "RecordingStartTime": "Wed, 25 Nov 2026 02:00:00 +0000",
            "RecordingTrack": "both"}


def watched_sid(stack, known, log=None):
    """The SID of the first watched call not in known (from the log file
    log, else the watchdog's), or None."""
    lines = e2e.json_lines(log) if log else stack.log("watchdog")
    for d in lines:
        if d.get("decision") == "watch" and d["call_sid"] not in known:
            return d["call_sid"]
    return None


def watched_call(stack, name, *args, known=()):
    """Start sim-caller (args) in the background and wait for the
    watchdog to watch its call (the first not in known); return (the
    process, the call SID)."""
    p = sim_caller_start(stack, name, *args)
    sid = e2e.wait_for(lambda: watched_sid(stack, known), T(10),
                       "the watchdog to watch the call of %s" % name)
    return p, sid


def restart_env(stack, keep, extra):
    """The environment of a daemon started again by hand in the stack's
    place: the stack's settings named in keep and its endpoints, instance
    1, the sanitizers' options, then extra."""
    env = dict(os.environ)
    for k, v in stack.settings.items():
        if k in keep or k.startswith("MERKAZIA_ENDPOINT_"):
            env[k] = v
    env["MERKAZIA_INSTANCE"] = "1"
    env.update(extra)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1:"
                   "detect_odr_violation=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0" %
                   os.path.join(e2e.REPO, "tests", "lsan.supp"))
    return env


def conv_start():
    """The conversation stack of conv_e2e with the watchdog redirecting
    (PUBLIC_URL) after START_TIMEOUT_MS / MEDIA_TIMEOUT_MS."""
    return conv_e2e.start(sets=(
        "watchdog:MERKAZIA_PUBLIC_URL=" + PUBLIC_URL,
        "watchdog:MERKAZIA_WATCHDOG_START_TIMEOUT_MS=%d" % START_TIMEOUT_MS,
        "watchdog:MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS=%d" % MEDIA_TIMEOUT_MS))
