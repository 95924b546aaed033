#!/usr/bin/env bash
# bench/stream.sh — speed and peak memory of streaming and generation (issue 13), on the CPU or
# a GPU, with the real chr20 of ../shared/data and a shipped audio file:
#   1. score --stream of a region of chr20 (Mb/s, peak RSS), by a causal Mamba LM;
#   2. embed --stream of the same region by a bidirectional Mamba (layer by layer);
#   3. generate --seconds 2 from a 6-layer d_model-256 µ-law LM at batch 1 and 64.
# Models are trained for 2 steps here (speed and memory do not depend on the weights).
#
#   LONGSCAN=build/longscan DEVICE=cpu REGION=20:30000001-31000000 bash bench/stream.sh
#   REGION=20 (the whole chromosome, 63 Mb) for the full run; THREADS sets --threads.
# Each line printed is "what: value" taken from the commands' --verbosity 2 output and from
# /usr/bin/time -v (wall time, CPU time, peak resident memory). Not part of `make test`.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
L=${LONGSCAN:-$root/build/longscan}
dev=${DEVICE:-cpu}
region=${REGION:-20:30000001-31000000}
threads=${THREADS:+--threads $THREADS}
chr20=$root/../shared/data/dna/human-grch37-chr20/chr20.fa.gz
audio=$root/examples/data/audio/morning_coffee_5s.wav
work=${WORK:-$(mktemp -d)}
cd "$work" || exit 1
echo "# $(date -u +%FT%TZ) device=$dev region=$region $(uname -n) load: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # label, command...
    local label=$1; shift
    /usr/bin/time -v "$@" > "$work/out.txt" 2> "$work/err.txt"
    local rc=$?
    grep -E '^\[info\] (streamed|embedded|generated)|key/value' "$work/err.txt" | sed "s/^/$label: /"
    awk -v l="$label" -F': ' '/Elapsed/ { print l ": wall " $2 } /User time/ { u = $2 }
        /System time/ { s = $2 } /Maximum resident/ { print l ": peak RSS " int($2 / 1024) " MiB" }
        END { print l ": CPU time " u + s " s" }' "$work/err.txt"
    [ $rc -eq 0 ] || { echo "$label: FAILED (exit $rc)"; tail -3 "$work/err.txt"; }
}
train() {
    "$L" train --verbosity 0 --steps 2 --batch-size 2 "$@" || { echo "training $* failed"; exit 1; }
}
train --task lm --data "$chr20:20:30000001-30100000" --seq-len 1024 -o lm.safetensors
train --task classify --class a="$chr20:20:30000001-30100000" --class b="$chr20:20:31000001-31100000" \
      --seq-len 1024 -o bi.safetensors
train --task lm --data "$audio" --seq-len 256 --d-model 256 --layers 6 -o audio6.safetensors
run "score --stream mamba d128x4 $region" "$L" score --device "$dev" $threads -m lm.safetensors \
    --stream --bin 1000 --verbosity 2 "$chr20:$region" -o score.bedGraph
run "embed --stream bimamba d128x4 $region" "$L" embed --device "$dev" $threads -m bi.safetensors \
    --stream --tsv --verbosity 2 "$chr20:$region" -o embed.tsv
for b in 1 64; do
    run "generate mamba d256x6 mulaw batch $b" "$L" generate --device "$dev" $threads \
        -m audio6.safetensors --seconds 2 --batch "$b" --verbosity 2 -o gen.wav
done
[ -n "${WORK:-}" ] || rm -rf "$work"
