#!/usr/bin/env bash
# bench/io.sh — input-path throughput on one core: FASTA (bgzip and plain) read + validate +
# encode, 16-bit WAV decode + mono mix-down. Reads ../shared/data in place (not shipped);
# writes bench/results/io-<commit>.tsv with the commit and machine beside the numbers.
# Targets (issue 2): bgzip FASTA >= 300 MB/s, plain FASTA >= 1 GB/s, 16-bit WAV >= 100 M samples/s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
longscan=${LONGSCAN:-$root/build/longscan}
data=${SHARED_DATA:-$root/../shared/data}
repeat=${REPEAT:-5}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
[ -d "$data" ] || { echo "bench/io.sh: $data not found (set SHARED_DATA)" >&2; exit 1; }

chr20=$data/dna/human-grch37-chr20/chr20.fa.gz
zcat "$chr20" > "$scratch/chr20.fa"                          # 63 Mb plain FASTA
sox -n -r 44100 -b 16 -c 2 "$scratch/stereo_60s.wav" synth 60 sine 440 sine 660
inputs=("$chr20" "$scratch/chr20.fa" "$data"/audio/opsound-moh/*.wav "$scratch/stereo_60s.wav")

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo "+dirty" || true)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
out=$root/bench/results/io-$commit$dirty.tsv
{
    echo "# longscan bench io — commit $commit$dirty, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# machine: $cpu, $(nproc) cores; one core used (taskset -c 0); best of $repeat"
    taskset -c 0 "$longscan" bench io --repeat "$repeat" "${inputs[@]}" \
        | sed "s|$scratch/||; s|$data/||"
} | tee "$out"
echo "written $out" >&2
