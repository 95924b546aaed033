#!/usr/bin/env bash
# demo.sh — what `make demo` runs: longscan on the example data shipped in examples/data.
# A short look at the inputs, then a small bidirectional Mamba trained on the CPU to tell four
# bacterial species apart from 1,000-bp windows of their genomes (a minute or two), evaluated
# on windows of other strains and used to classify a few of them.
set -euo pipefail
cd "$(dirname "$0")/.."
longscan=${BUILD:-build}/longscan
data=examples/data
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== longscan info: the shipped DNA (bgzipped FASTA with .fai/.gzi) and audio"
"$longscan" info --tsv "$data"/dna/bacteria_train.fa.gz "$data"/dna/bacteria_test.fa.gz \
    "$data"/audio/morning_coffee_5s.wav | cut -f1-6,13-16
echo
echo "== longscan train: bidirectional Mamba, 240 windows of 4 species, 8 epochs on the CPU"
# --valid shows progress on the held-out strains; eval below reports the final weights (the
# run never chooses them by validation), so the test numbers are not tuned on the test set.
"$longscan" train --task classify --model bimamba \
    --data "$data"/dna/bacteria_train.fa.gz --labels "$data"/dna/bacteria_train.labels.tsv \
    --valid "$data"/dna/bacteria_test.fa.gz --valid-labels "$data"/dna/bacteria_test.labels.tsv \
    --d-model 32 --layers 2 --epochs 8 --batch-size 8 --lr 1e-2 \
    --log "$out"/train.csv -o "$out"/species.safetensors
echo
echo "== longscan eval: 100 windows of held-out strains (chance: 0.25)"
"$longscan" eval -m "$out"/species.safetensors \
    --data "$data"/dna/bacteria_test.fa.gz --labels "$data"/dna/bacteria_test.labels.tsv
echo
echo "== longscan predict: a few held-out records"
"$longscan" predict -m "$out"/species.safetensors --digits 3 \
    "$data"/dna/bacteria_test.fa.gz:ecoli_007 "$data"/dna/bacteria_test.fa.gz:hpylori_012 \
    "$data"/dna/bacteria_test.fa.gz:saureus_003 "$data"/dna/bacteria_test.fa.gz:vcholerae_019 |
    column -t
