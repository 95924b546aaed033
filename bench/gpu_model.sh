#!/usr/bin/env bash
# bench/gpu_model.sh — issue 12's device call: the whole model on the GPU, in one run.
#   1. test_gpu runtime glue model model_train: the glue kernels and the whole model against the
#      CPU (fp32 and bf16), 50-step loss curves, determinism, a GPU checkpoint on the CPU;
#   2. the CLI on the GPU: train twice (cmp the checkpoints), stop + resume (cmp with the run
#      never stopped), eval of the GPU model on the CPU and on the GPU;
#   3. longscan bench model (anchors' whole-model workloads) with the peers' rows;
#   4. (SECTIONS has "profile") one profiled training step per workload: where a step's time goes;
#   5. (SECTIONS has "long") issue 13's lengths: training at 64K … 4M (LONG_LENS); "longest":
#      6M and forward at 1M; "tiles": bench model --tile-rows against the step time and peak.
# SECTIONS="parity cli bench" by default (SKIP_PARITY / SKIP_BENCH still drop theirs).
# Bundle here: `make gpu-bundle-model` (writes .gpu-model/: longscan, test_gpu, this script,
# the shipped bacteria data and the anchors' model peers).
# On the device: bash .gpu-model/gpu_model.sh   (logs to $OUT; summary printed last)
set -u
deadline=${DEADLINE:-390} # seconds: steps that would start later are skipped (and say so)
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"
sections=${SECTIONS:-parity cli bench}
has() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
say "# sections: $sections"

# 1. parity, curves, determinism
P=$out/parity.log
if [ -z "${SKIP_PARITY:-}" ] && has parity; then # SKIP_PARITY=1: the CLI and the benchmarks only
    suites=${PARITY_SUITES:-runtime glue model model_train}
    step "test_gpu $suites" 150 "$P" "$R" test_gpu $suites
    say "   $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
    grep '^not ok' "$P" | head -40 | cut -c1-400 | tee -a "$S"
    grep -E '^ok .*(train|stream|every gradient|loss curve)' "$P" | cut -c1-300 >> "$S"
fi

# 2. the CLI on the GPU
C=$out/cli.log
T=/tmp/ls-cli && rm -rf "$T" && mkdir -p "$T"
D="$G/data"
export R D T out
if has cli; then
train() { "$R" longscan train --data "$D/bacteria_train.fa.gz" --labels "$D/bacteria_train.labels.tsv" \
    --d-model 64 --layers 2 --seq-len 1000 --batch-size 8 --steps 20 --progress plain "$@"; }
export -f train
export R D T
step "cli train bf16 (auto)" 40 "$C" train --log "$T/a.csv" -o "$T/a.safetensors"
step "cli train bf16 again" 40 "$C" train -o "$T/b.safetensors"
cmp "$T/a.safetensors" "$T/b.safetensors" >> "$C" 2>&1 && say "   cmp a b: identical" \
    || say "   cmp a b: DIFFER"
step "cli train fp32, stop at 10" 40 "$C" train --precision fp32 --stop-after 10 -o "$T/r.safetensors"
step "cli resume fp32" 40 "$C" "$R" longscan train --resume "$T/r.safetensors" --progress plain
step "cli train fp32 unstopped" 40 "$C" train --precision fp32 -o "$T/u.safetensors"
cmp "$T/r.safetensors" "$T/u.safetensors" >> "$C" 2>&1 && say "   cmp resumed unstopped: identical" \
    || say "   cmp resumed unstopped: DIFFER"
ev() { "$R" longscan eval -m "$1" "$D/bacteria_test.fa.gz" --labels "$D/bacteria_test.labels.tsv" \
    --seq-len 1000 --max-windows 4 --json "${@:2}"; }
export -f ev
step "cli eval GPU model on the CPU" 60 "$C" ev "$T/u.safetensors" --device cpu
step "cli eval GPU model on the GPU fp32" 30 "$C" ev "$T/u.safetensors" --device cuda --precision fp32
step "cli eval GPU model on the GPU bf16" 30 "$C" ev "$T/u.safetensors" --device cuda
grep -E '^\{|device|precision|peak|trained|stopped' "$C" | cut -c1-200 >> "$S"
tail -2 "$T/a.csv" >> "$S" 2>/dev/null
fi

B=$out/bench.txt
PM="$G/peers-model-h100.json" PT="$G/peers-transformer-h100.json"
bm() { "$R" longscan bench model --d-model 256 --layers 8 --csv "$T/row.csv" "$@" \
    && tail -n +2 "$T/row.csv" >> "$out/bench.csv"; }
export -f bm
echo "model,precision,mode,L,ms,tokens_per_s,peak_GiB,peer,peer_ms,peer_peak_GiB,speedup,mem_ratio,note" > "$out/bench.csv"

# 4. where a training step's time goes (one profiled step after the timed ones)
if has profile; then
    step "profile bimamba bf16 train 131K" 40 "$B" bm --model bimamba --precision bf16 \
        --seq-len 131072 --repeat 3 --peers "$PM" --profile "$out/profile-bimamba-131k.txt"
    step "profile mamba bf16 train 131K" 30 "$B" bm --model mamba --precision bf16 \
        --seq-len 131072 --repeat 3 --peers "$PM" --profile "$out/profile-mamba-131k.txt"
    step "profile mamba bf16 train 16K" 20 "$B" bm --model mamba --precision bf16 \
        --seq-len 16384 --repeat 3 --peers "$PM" --profile "$out/profile-mamba-16k.txt"
    step "profile transformer bf16 train 16K" 20 "$B" bm --model transformer --precision bf16 \
        --seq-len 16384 --repeat 3 --peers "$PT" --profile "$out/profile-transformer-16k.txt"
    for f in "$out"/profile-*.txt; do [ -e "$f" ] && head -22 "$f" >> "$S"; done
fi

# 4a. issue 12's table in bf16 only (the anchors' workloads at 16K and 131K, train and forward)
if has table; then
    for model in mamba bimamba; do
        for mode in train forward; do
            step "table $model bf16 $mode" 30 "$B" bm --model $model --precision bf16 --mode $mode \
                --seq-len 16384,131072 --peers "$PM"
        done
    done
    for mode in train forward; do
        step "table transformer bf16 $mode 16K" 20 "$B" bm --model transformer --precision bf16 \
            --mode $mode --seq-len 16384 --peers "$PT"
    done
fi

# 4b. tile size: one Mamba tile's rows against the step time and the peak (bench model
#     --tile-rows; the default is 65,536 on a GPU)
if has tiles; then
    for tr in 65536 131072 262144; do
        step "tiles bimamba bf16 train 1M, tile rows $tr" 40 "$B" bm --model bimamba \
            --precision bf16 --seq-len 1048576 --repeat 2 --tile-rows $tr --peers "$PM"
        sed -i "\$s/\$/tile_rows=$tr/" "$out/bench.csv"
    done
    step "tiles mamba bf16 train 131K, tile rows 131072" 30 "$B" bm --model mamba \
        --precision bf16 --seq-len 131072 --repeat 3 --tile-rows 131072 --peers "$PM"
    sed -i "\$s/\$/tile_rows=131072/" "$out/bench.csv"
fi

# 5. issue 13: whole sequences of millions of tokens, one row each (a row that does not fit
#    says "out of memory" and the run goes on)
if has long; then
    lens=${LONG_LENS:-65536,262144,1048576,4194304}
    step "long bimamba bf16 train $lens" 110 "$B" bm --model bimamba --precision bf16 \
        --seq-len $lens --repeat 2 --peers "$PM"
    step "long mamba bf16 train $lens" 60 "$B" bm --model mamba --precision bf16 \
        --seq-len $lens --repeat 2 --peers "$PM"
fi
if has longest; then # the longest length that trains on the card, and forward at 1M
    step "long bimamba bf16 train 6M" 60 "$B" bm --model bimamba --precision bf16 \
        --seq-len 6291456 --repeat 1
    step "long forward 1M" 40 "$B" bash -c 'bm --model mamba --precision bf16 --mode forward \
        --seq-len 1048576 --repeat 3 && bm --model bimamba --precision bf16 --mode forward \
        --seq-len 1048576 --repeat 3'
fi

if [ -z "${SKIP_BENCH:-}" ] && has bench; then # SKIP_BENCH=1: parity and the CLI only
# 3. bench model: the anchors' workloads
for prec in bf16 fp32; do
    for model in mamba bimamba; do
        for mode in train forward; do
            step "bench $model $prec $mode" 30 "$B" bm --model $model --precision $prec --mode $mode \
                --seq-len 16384,131072 --peers "$PM"
        done
    done
done
for prec in bf16 fp32; do
    for mode in train forward; do
        step "bench transformer $prec $mode 16K" 20 "$B" bm --model transformer --precision $prec \
            --mode $mode --seq-len 16384 --peers "$PT"
    done
done
step "bench transformer bf16 train 131K" 45 "$B" bm --model transformer --precision bf16 --mode train \
    --seq-len 131072 --repeat 3 --peers "$PT"
step "bench transformer bf16 forward 131K" 30 "$B" bm --model transformer --precision bf16 \
    --mode forward --seq-len 131072 --repeat 3 --peers "$PT"
step "bench bimamba bf16 train 1M" 45 "$B" bm --model bimamba --precision bf16 --mode train \
    --seq-len 1048576 --repeat 3 --peers "$PM"
step "bench mamba bf16 train 1M" 40 "$B" bm --model mamba --precision bf16 --mode train \
    --seq-len 1048576 --repeat 3 --peers "$PM"
step "bench transformer fp32 forward 131K" 30 "$B" bm --model transformer --precision fp32 \
    --mode forward --seq-len 131072 --repeat 1 --peers "$PT"
fi
column -t -s, "$out/bench.csv" >> "$S" 2>/dev/null || cat "$out/bench.csv" >> "$S"
say "# total $SECONDS s"
cat "$S"
