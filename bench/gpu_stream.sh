#!/usr/bin/env bash
# bench/gpu_stream.sh — issue 13's device call: streaming and generation on the GPU, in one run
# of at most ~300 s (every step under `timeout`, later steps skipped past DEADLINE).
#   1. test_gpu runtime attention_kv glue sample model_stream: the streaming ops and the device
#      sampler against the CPU, segments / layer by layer / teacher-forced generation against
#      one pass, graphs = steps (fp32 and bf16);
#   2. score --stream of GRCh37 chr20 by a causal Mamba LM d256x8 (2 training steps; speed and
#      memory do not depend on the weights): a 10 Mb region; Mb/s, peak GPU memory (longscan's
#      own, and nvidia-smi's whole process), peak host RSS;
#   3. embed --stream of a 10 Mb region by a bidirectional Mamba d128x4, layer by layer;
#   4. longscan bench generate at batch 1 and 64 (6-layer d256 µ-law Mamba LM, random
#      weights), bf16 and fp32 (GEN_PRECISIONS);
#   5. score --stream of the whole chromosome (63 Mb), with the time left before DEADLINE.
# Bundle here: `make gpu-bundle-stream` (writes .gpu-stream/: longscan, test_gpu, this script,
# chr20 with its indexes). On the device: bash .gpu-stream/gpu_stream.sh (logs in $OUT,
# summary.txt printed last).
set -u
deadline=${DEADLINE:-290}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"

# 1. parity and whole paths
P=$out/parity.log
if [ -z "${SKIP_PARITY:-}" ]; then # SKIP_PARITY=1: run the suites elsewhere (gpu_model.sh)
step "test_gpu runtime attention_kv glue sample model_stream" 100 "$P" "$R" test_gpu runtime \
    attention_kv glue sample model_stream
say "   $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
grep '^not ok' "$P" | head -40 | cut -c1-400 | tee -a "$S"
grep -E '^ok .*(model_stream|graph)' "$P" | cut -c1-260 >> "$S"
fi

# 2-3. streaming chr20
W=/tmp/ls-stream && rm -rf "$W" && mkdir -p "$W"
C=$out/stream.log
chr20=$G/data/chr20.fa.gz
tv=""
[ -x /usr/bin/time ] && tv="/usr/bin/time -v"
gpu_mem() { # sample the GPU's used memory while a command runs; print the most seen
    local f=$W/smi.txt
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$f" 2>/dev/null &
    local pid=$!
    "$@"
    local rc=$?
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    echo "nvidia-smi peak memory.used: $(sort -n "$f" | tail -1) MiB"
    return $rc
}
measure() { # label timeout command...
    local label=$1 t=$2; shift 2
    step "$label" "$t" "$C" gpu_mem $tv "$@"
    local rc=$?
    awk -v l="$label" '/^### /{cur=$0} cur=="### " l' "$C" |
        grep -E 'streamed|embedded|peak GPU|nvidia-smi peak|Maximum resident|Elapsed' |
        sed 's/^[[:space:]]*/   /' | tee -a "$S"
    return $rc
}
train() { "$R" longscan train --device cuda --verbosity 0 --steps 2 --batch-size 2 "$@"; }
# step runs its command in a child bash: the functions and the variables they read go with it
export -f gpu_mem train
export R W
# Order = priority (the lead runs this with DEADLINE=200 after gpu_model.sh): the two models,
# the 10 Mb score and embed, generation, then the whole chromosome with whatever time is left.
step "train lm d256x8 (2 steps)" 30 "$C" train --task lm --data "$chr20:20:30000001-30100000" \
    --seq-len 1024 --d-model 256 --layers 8 -o "$W/lm.safetensors"
step "train bimamba d128x4 (2 steps)" 30 "$C" train --task classify --model bimamba \
    --class a="$chr20:20:30000001-30100000" --class b="$chr20:20:31000001-31100000" \
    --seq-len 1024 --d-model 128 --layers 4 -o "$W/bi.safetensors"
measure "score --stream mamba d256x8 chr20 10 Mb" 45 "$R" longscan score --device cuda \
    -m "$W/lm.safetensors" --stream --bin 1000 --verbosity 2 "$chr20:20:30000001-40000000" \
    -o "$W/score10.bedGraph"
measure "embed --stream bimamba d128x4 chr20 10 Mb (layer by layer)" 45 "$R" longscan embed \
    --device cuda -m "$W/bi.safetensors" --stream --tsv --verbosity 2 \
    "$chr20:20:30000001-40000000" -o "$W/embed.tsv"

# 4. generation speed
B=$out/generate.txt
for prec in ${GEN_PRECISIONS:-bf16 fp32}; do
    step "bench generate $prec batch 1,64" 40 "$B" "$R" longscan bench generate --device cuda \
        --precision "$prec" --batch 1,64
done
[ -e "$B" ] && grep -vE '^###' "$B" | tee -a "$S"

# the whole chromosome last: its timeout is what is left before the deadline (a timeout says
# rc=124 and how long it ran; the 10 Mb rate above is the measured one)
measure "score --stream mamba d256x8 chr20 whole (63 Mb)" $((deadline - SECONDS)) "$R" \
    longscan score --device cuda -m "$W/lm.safetensors" --stream --bin 1000 --verbosity 2 \
    "$chr20" -o "$W/score.bedGraph"
say "# done in ${SECONDS} s"
