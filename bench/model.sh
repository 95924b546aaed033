#!/usr/bin/env bash
# bench/model.sh — issue 3's CPU speed numbers: training tokens/s (forward + backward + AdamW,
# d_model 128 × 4 layers, L = 4,096, B = 1), forward tokens/s at L = 65,536, and the forward at
# L = 1,048,576 (the first 1 Mb of GRCh37 chr20) with its time and peak RSS, for the causal and
# the bidirectional Mamba. Builds kernels/dev/model_bench.c against build/liblongscan.a and
# writes bench/results/model-<commit>.txt with the machine beside the numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${SHARED_DATA:-$root/../shared/data}
threads=${THREADS:-2}
make -s build/liblongscan.a >/dev/null
gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -I. kernels/dev/model_bench.c build/liblongscan.a \
    $(pkg-config --libs htslib sndfile samplerate libcjson openblas) -lz -lm -o build/model_bench
chr20=$data/dna/human-grch37-chr20/chr20.fa.gz
commit=$(git rev-parse --short HEAD)
out=bench/results/model-$commit.txt
{
    echo "# longscan model speed — commit $commit, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# machine: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, $threads threads"
    for arch in mamba bimamba; do
        build/model_bench train "$arch" "$threads" 3
        build/model_bench fwd "$arch" "$threads" 2 "$chr20"
        build/model_bench long "$arch" "$threads" 1 "$chr20"
    done
} 2>&1 | tee "$out"
