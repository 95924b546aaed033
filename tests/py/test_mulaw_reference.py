#!/usr/bin/env python3
"""test_mulaw_reference.py — longscan's 8-bit mu-law codes equal the "mulaw8-fixed" encoding
that computed the project's bigram floors (shared/data/audio/fsdd/README.md):

    x = PCM16 / 32768,  code = floor((sign(x) * ln(1 + 255|x|) / ln 256 + 1) / 2 * 255 + 0.5)

in float64, for every PCM16 value, both through Python's math module and through numpy.
Codes come from build/tests/helpers/mulaw_codes (scalar and array paths). TAP output.
"""
import math
import os
import subprocess
import sys

build = os.environ.get("LS_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
helper = os.path.join(build, "tests", "helpers", "mulaw_codes")

tests = []


def check(ok, name, detail=""):
    tests.append((ok, name, detail))


def reference_math(s):
    x = s / 32768.0
    sign = (x > 0) - (x < 0)
    y = sign * math.log(1 + 255 * abs(x)) / math.log(256)
    return math.floor((y + 1) / 2 * 255 + 0.5)


def first_mismatch(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "PCM16 %d: longscan %d, reference %d" % (i - 32768, g, w)
    return ""


try:
    out = subprocess.run([helper], check=True, stdout=subprocess.PIPE).stdout
except (OSError, subprocess.CalledProcessError) as e:
    print("1..1")
    print("not ok 1 - run %s: %s" % (helper, e))
    sys.exit(1)

check(len(out) == 2 * 65536, "helper wrote 2 x 65536 codes", "got %d bytes" % len(out))
scalar, array = list(out[:65536]), list(out[65536:131072])
ref = [reference_math(s) for s in range(-32768, 32768)]
check(scalar == ref, "mulaw_encode == reference (math.log) for every PCM16 value",
      first_mismatch(scalar, ref))
check(array == ref, "mulaw_encode_array == reference (math.log) for every PCM16 value",
      first_mismatch(array, ref))
try:
    import numpy as np
    x = np.arange(-32768, 32768, dtype=np.float64) / 32768.0
    y = np.sign(x) * np.log(1 + 255 * np.abs(x)) / np.log(256)
    ref_np = np.floor((y + 1) / 2 * 255 + 0.5).astype(np.int64).tolist()
    check(scalar == ref_np, "mulaw_encode == reference (numpy) for every PCM16 value",
          first_mismatch(scalar, ref_np))
except ImportError:
    tests.append((True, "numpy reference # SKIP numpy not installed", ""))
check(ref[32768] == 128 and ref[0] == 0 and ref[-1] == 255, "reference: 0 -> 128, -1 -> 0, max -> 255")
check(len(set(ref)) == 256, "all 256 codes are used by PCM16 input")

print("1..%d" % len(tests))
failed = 0
for i, (ok, name, detail) in enumerate(tests, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    if not ok:
        failed += 1
        if detail:
            print("# " + detail)
sys.exit(1 if failed else 0)
