#!/usr/bin/env python3
"""bench-vad: WebRTC with an energy gate, WebRTC alone and energy alone on
Hebrew turns in line noise (gateway/vad.c; figures in
docs/decisions/0005-vad.md).

Why: the gateway's end of turn decides when the caller has finished; a
false start on line noise sends noise to STT and stops the agent, a split
turn answers half a phone number. tests/bench/vad_eval.c renders Hebrew
with espeak-ng (a sentence, a question, a phone number dictated in three
groups, a backchannel), adds seeded Gaussian line noise at several SNRs,
loud noise bursts and beeps, and prints per detector: turns expected and
found, exact, split, merged and false turns, the delay of SPEECH_START
after the true onset, the utterance onset's error and the delay of
UTTERANCE_END after the true end.

This builds the release vad.o and libcommon.a with make, compiles
vad_eval.c against them (it needs nothing else of the gateway) and runs it.
Arguments go to vad_eval (--smoke: two conditions, one seed; --mode N:
WebRTC aggressiveness; --json: JSON lines on stderr). Asserts nothing about
the figures. Standard library only.
"""
import os
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))
PKGS = ("libevent libevent_pthreads nanomsg jansson libcurl libpq openssl "
        "libsodium libsystemd sndfile soxr espeak-ng libbsd-overlay")


def main(argv):
    os.chdir(REPO)
    subprocess.run(["make", "-s", "build/release/gateway/vad.o",
                    "build/release/libcommon.a"], check=True)
    cflags = subprocess.run(["pkg-config", "--cflags"] + PKGS.split(),
                            check=True, capture_output=True,
                            text=True).stdout
    libs = subprocess.run(["pkg-config", "--libs"] + PKGS.split(),
                          check=True, capture_output=True, text=True).stdout
    out = "build/release/tests/vad_eval"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = (["cc", "-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
            "-Wconversion", "-Wno-sign-conversion", "-Wdouble-promotion",
            "-Wshadow", "-D_GNU_SOURCE", "-Icommon", "-Igateway"] +
           shlex.split(cflags) +
           ["-o", out, "tests/bench/vad_eval.c",
            "build/release/gateway/vad.o", "build/release/libcommon.a"] +
           shlex.split(libs) +
           ["-lwebrtc_audio_processing", "-lm", "-lpthread"])
    subprocess.run(cmd, check=True)
    return subprocess.run([out] + argv).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
