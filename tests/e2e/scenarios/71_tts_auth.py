#!/usr/bin/env python3
"""Scenario: the tts-worker's service-account auth against tools/fake-google:
the JWT it signs, a token refreshed when it expires, and one refresh and
retry when Google answers 401.

fake-google issues tokens that live 4 s here (expires_in 3) and verifies
every JWT (RS256 signature by the file's key, kid, iss, scope, aud =
token_uri, exp - iat <= 3600). Checked: the worker fetches a token at
start; a job after the token's life gets a new token and Google's voice;
after every token is revoked, the next job's synthesize gets 401, the
worker fetches one new token and retries, and the result is still
Google's voice (two synthesize requests, one more token request); the
recorded JWTs carry the right header and claims; nothing secret is
logged.
"""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import tts_e2e as t  # noqa: E402
from e2e import T, check  # noqa: E402

SYNTH = "/v1/text:synthesize"


def scenario():
    g = t.FakeGoogle(os.path.join(e2e.RUN_DIR, "g"),
                     "--token-lifetime-s", "4").start()
    try:
        run(g)
    finally:
        g.stop()


def run(g):
    s = t.start_worker(g, os.path.join(e2e.RUN_DIR, "s"),
                       "MERKAZIA_TTS_CACHE_DIR=/proc/no-cache-here")
    tokens = e2e.wait_for(lambda: g.requests("/token"), T(10),
                          "the token request made at start")
    t0 = time.monotonic()
    res = t.jobs(s, [t.job(1, "בוקר טוב")])
    t.check_ok(res, 1)
    check(len(g.requests("/token")) == 1, "a second token before expiry")

    # The token (expires_in 3 s) runs out: the next job gets a new one.
    time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
    res = t.jobs(s, [t.job(2, "צהריים טובים")])
    t.check_ok(res, 2)
    n = len(g.requests("/token"))
    check(n == 2, "%d token requests after expiry, not 2" % n)
    e2e.delay("job that waited for a token refresh",
              res[2]["payload"]["tts_ms"] / 1000.0)

    # Revoked token: 401, one refresh, one retry, still Google's voice.
    g.revoke()
    before = len(g.requests(SYNTH))
    res = t.jobs(s, [t.job(3, "ערב טוב")])
    t.check_ok(res, 3)
    synth = g.requests(SYNTH)[before:]
    codes = [r.get("status") for r in synth]
    check(len(synth) == 2, "%d synthesize requests after a revoke, not 2 "
          "(%s)" % (len(synth), codes))
    check(len(g.requests("/token")) == 3, "no token refresh after a 401")
    e2e.say("synthesize answers around the revoke: %s" % codes)
    e2e.delay("job refused with 401, refreshed and retried",
              res[3]["payload"]["tts_ms"] / 1000.0)

    # The JWTs as fake-google recorded them.
    for r in g.requests("/token"):
        jwt = r.get("jwt") or {}
        h, c = jwt.get("header", {}), jwt.get("claims", {})
        check(h.get("alg") == "RS256" and h.get("typ") == "JWT" and
              h.get("kid"), "JWT header %s" % h)
        check(c.get("scope") ==
              "https://www.googleapis.com/auth/cloud-platform" and
              c.get("aud") == g.info["token_uri"] and
              c.get("exp", 0) - c.get("iat", 0) == 3600 and
              c.get("iss", "").endswith(".iam.gserviceaccount.com"),
              "JWT claims %s" % c)
        check(r["body"].get("grant_type") ==
              "urn:ietf:params:oauth:grant-type:jwt-bearer",
              "grant_type %s" % r["body"].get("grant_type"))
    del tokens
    t.scan_secrets(s)
    code, report = s.stop()
    check(code == 0, "stack stopped with %s: %s" % (code, report))


e2e.main(scenario)
