#!/usr/bin/env bash
# bench/quality.sh TASK... — issue 3's quality bars on ../shared/data, CPU, each run under its
# time budget; results (the eval JSON, the training log's tail, the exact command) go to
# bench/results/quality-TASK-<commit>.txt with the machine beside them.
#
# Tasks:
#   gue-bimamba gue-transformer gue-mamba   GUE prom_core_notata, train → dev MCC (bar: bimamba >= 0.55)
#   apes-1024 apes-16384                    great-apes-chr22 species from windows, train → dev accuracy
#   fsdd-lm                                 causal Mamba LM on 8-bit µ-law FSDD, test NLL (bar: <= 5.447 - 0.5)
#   fsdd-classify                           bidirectional Mamba digit classifier on waveforms (bar: >= 70 %)
# MINUTES (default 18: the bar is 20 CPU minutes, and validation and the step estimate need
# some room) is each training run's budget, given as --minutes alone so the learning-rate
# schedule completes inside it; THREADS (default 2); EVAL_WINDOWS (default 256) caps the dev
# windows per record for the apes tasks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
longscan=${LONGSCAN:-$root/build/longscan}
data=${SHARED_DATA:-$root/../shared/data}
minutes=${MINUTES:-18}
threads=${THREADS:-2}
work=${WORK:-$root/build/quality}
mkdir -p "$work" "$root/bench/results"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)

run_task() {
    local task=$1 out=$root/bench/results/quality-$1-$commit.txt model=$work/$1.safetensors
    local gue=$data/dna/gue/prom_core_notata apes=$data/dna/great-apes-chr22 fsdd=$data/audio/fsdd
    local train eval
    case $task in
    gue-bimamba|gue-transformer|gue-mamba)
        train=(--task classify --model "${task#gue-}" --data "$gue/train.fa.gz"
               --labels "$gue/train.labels.tsv" --valid "$gue/dev.fa.gz"
               --valid-labels "$gue/dev.labels.tsv" --d-model 64 --layers 4 --batch-size 64
               --lr 2e-3 --eval-every 500)
        eval=(--data "$gue/dev.fa.gz" --labels "$gue/dev.labels.tsv") ;;
    apes-1024|apes-16384)
        local L=${task#apes-}
        train=(--task classify --model bimamba --data "$apes/train" --labels "$apes/train/labels.tsv"
               --valid "$apes/dev" --valid-labels "$apes/dev/labels.tsv" --seq-len "$L"
               --balanced --valid-windows 64 --d-model 64 --layers 4
               --batch-size $(( L > 4096 ? 2 : 16 )) --lr 2e-3 --eval-every 500)
        eval=(--data "$apes/dev" --labels "$apes/dev/labels.tsv" --seq-len "$L"
              --max-windows "${EVAL_WINDOWS:-256}") ;;
    fsdd-lm)
        train=(--task lm --model mamba --data "$fsdd/split.tsv" --sample-rate 8000
               --audio-codes mulaw8 --d-model 64 --layers 4 --batch-size 8 --lr 2e-3)
        eval=(--data "$fsdd/split.tsv" --split test) ;;
    fsdd-classify)
        train=(--task classify --model bimamba --data "$fsdd/split.tsv" --sample-rate 8000
               --input waveform --frame 40 --d-model 64 --layers 4 --batch-size 16
               --lr 2e-3)
        eval=(--data "$fsdd/split.tsv" --split test) ;;
    *) echo "bench/quality.sh: unknown task $task" >&2; return 2 ;;
    esac
    {
        echo "# longscan quality: $task — commit $commit, $(date -u +%Y-%m-%dT%H:%MZ)"
        echo "# machine: $cpu, $(nproc) cores, --threads $threads; training budget $minutes min"
        echo "# train: longscan train ${train[*]} --minutes $minutes -o $model"
        echo "# eval:  longscan eval -m $model ${eval[*]} --json"
    } > "$out"
    /usr/bin/time -f "# train wall %e s, peak RSS %M KB" \
        "$longscan" train "${train[@]}" --minutes "$minutes" --threads "$threads" \
        --progress plain --log "$work/$task.csv" -o "$model" 2> "$work/$task.train.log" \
        || { tail -5 "$work/$task.train.log" >&2; return 1; }
    tail -3 "$work/$task.train.log" >> "$out"
    "$longscan" eval -m "$model" "${eval[@]}" --threads "$threads" --json >> "$out"
    cat "$out"
}

[ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 2; }
for task in "$@"; do run_task "$task"; done
