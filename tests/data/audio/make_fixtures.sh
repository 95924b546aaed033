#!/usr/bin/env bash
# make_fixtures.sh — rebuild the small malformed audio files that tests/unit/test_audio.c
# reads. Well-formed test signals are not committed: the test writes them with libsndfile
# at run time. Needs python3 (byte patching only). Run from anywhere:
#   bash tests/data/audio/make_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")"
python3 - <<'PY'
import math, struct, zlib

def wav(frames, declared=None, rate=8000, channels=1, fmt_tag=1):
    """PCM16 WAV holding `frames` (list of ints, interleaved) whose header declares
    `declared` frames (default: as many as it holds)."""
    data = b"".join(struct.pack("<h", s) for s in frames)
    if declared is None:
        declared = len(frames) // channels
    data_size = declared * channels * 2
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * channels * 2, channels * 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", data_size) + data
    return b"RIFF" + struct.pack("<I", len(body) - len(data) + data_size) + body

sine = [round(16384 * math.sin(2 * math.pi * 440 * t / 8000)) for t in range(300)]

# header declares 1000 frames, 300 are present: a file cut short
open("truncated.wav", "wb").write(wav(sine, declared=1000))
# valid header, no frames
open("zero_frames.wav", "wb").write(wav([]))
# unknown format tag 0x1234 in an otherwise complete file: libsndfile rejects the fmt chunk
open("corrupt_header.wav", "wb").write(wav(sine[:100], fmt_tag=0x1234))
# the first 30 bytes of a WAV: the header stops inside the fmt chunk
open("short_header.wav", "wb").write(wav(sine[:100])[:30])
# not audio at all
open("not_audio.wav", "wb").write(b"this is a text file, not a WAV\n")
# a 1x1 PNG named .wav
def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
open("png_named.wav", "wb").write(png)
PY
ls -l truncated.wav zero_frames.wav corrupt_header.wav short_header.wav not_audio.wav png_named.wav
