#!/usr/bin/env bash
# demo.sh — what `make demo` runs: longscan on the example data shipped in examples/data.
# Until the model issue lands, the demo describes the shipped DNA and audio; training and
# prediction join it with issue 3.
set -euo pipefail
cd "$(dirname "$0")/.."
longscan=${BUILD:-build}/longscan
data=examples/data

echo "== longscan info: DNA (bgzipped FASTA with .fai/.gzi)"
"$longscan" info "$data"/dna/bacteria_train.fa.gz "$data"/dna/bacteria_test.fa.gz
echo
echo "== longscan info: one region, as in samtools faidx"
"$longscan" info "$data"/dna/apes_chr22_dev_slice.fa.gz hsap.dev.slice:5001-15000
echo
echo "== longscan info: audio (WAV, OGG/Vorbis, FLAC)"
"$longscan" info "$data"/audio/*
echo
echo "== longscan info --tsv over everything"
"$longscan" info --tsv "$data"/dna/*.fa.gz "$data"/audio/*
