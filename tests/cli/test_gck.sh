#!/usr/bin/env bash
# test_gck.sh — layer-input checkpointing (train --grad-checkpoint K; docs/models.md "Memory"),
# TAP output. The training forward keeps layer inputs 0, K, 2K, … and the head's input; the
# backward recomputes a group's other inputs from its kept one with the same forward calls
# (same ops in the same order, same dropout masks, the same exchanges on every rank). So every
# K must give the bytes of K = 1: the final checkpoints are compared with cmp, exactly, for
# K = 2, 3 and K = n_layers (4) against K = 1, for a mamba LM, a bimamba classifier, the
# reverse-complement bimamba, a transformer, a hybrid and a waveform classifier, and with
# --dropout, --pack, --seq-slices 2, --cpu-ranks 2 --seq-parallel and several tiles.
# Then the memory: the activation arena falls by exactly the residual-stream copies the plan
# drops (8 layers: 9 copies of (B, L, D) fp32 at K = 1; ceil(8/K) + 1 + min(K, 8) − 1 at K:
# 6 at K = 2 and 4, 9 at K = 8), and the error line for a bad K.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/parallel_common.sh" # LONGSCAN, BUILD, ST_TOOL, EX; a scratch TMP, the working folder
# tiny runs: one thread each (several spin-waiting OpenMP threads on a shared machine cost 10x);
# the compared bytes are the same for any thread count
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

same_bytes() { # what tag args... : K = 1 once, then K = 2, 3, 4 against it with cmp
    local what=$1 tag=$2; shift 2
    check_run "${tag}_k1" "$LONGSCAN" "$@" -o "${tag}_k1.safetensors" || return
    local K bad=""
    for K in 2 3 4; do
        check_run "${tag}_k$K" "$LONGSCAN" "$@" --grad-checkpoint $K \
            -o "${tag}_k$K.safetensors" || return
        cmp -s "${tag}_k1.safetensors" "${tag}_k$K.safetensors" || bad="$bad K=$K"
    done
    if [ -z "$bad" ]; then ok "$what: K = 2, 3, 4 give K = 1's checkpoint byte for byte"
    else not_ok "$what: K = 2, 3, 4 give K = 1's checkpoint byte for byte" "differs at$bad"; fi
}

echo "1..17"

# --- data: LM sequences of 40..940 bases; every 8th labelled record cut to 50..450 bases
zcat "$EX/dna/bacteria_train.fa.gz" | awk 'BEGIN { srand(7) }
    /^>/ { if (seq != "") { print name; print substr(seq, 1, 40 + int(rand() * 900)) }
           name = $0; seq = ""; next } { seq = seq $0 }' | head -24 > varlen.fa
zcat "$EX/dna/bacteria_train.fa.gz" | awk 'BEGIN { srand(11) }
    /^>/ { if (seq != "") { print name; print substr(seq, 1, 50 + int(rand() * 400)) }
           keep = (k++ % 8 == 0); name = $0; seq = ""; next } keep { seq = seq $0 }
    END { if (seq != "") { print name; print substr(seq, 1, 50 + int(rand() * 400)) } }' > bac.fa
LM=(train --task lm --data varlen.fa --no-bucket --d-model 8 --layers 4 --steps 3
    --batch-size 6 --verbosity 0)
CLS=(train --data bac.fa --labels "$EX/dna/bacteria_train.labels.tsv" --d-model 8 --layers 4
     --steps 3 --batch-size 6 --verbosity 0)

same_bytes "mamba LM" lm "${LM[@]}" --model mamba
same_bytes "mamba LM, --dropout 0.2" lmd "${LM[@]}" --model mamba --dropout 0.2
same_bytes "mamba LM, --pack" lmp "${LM[@]}" --model mamba --pack
same_bytes "mamba LM, --seq-slices 2" lms "${LM[@]}" --model mamba --seq-slices 2
same_bytes "bimamba classifier" bi "${CLS[@]}" --model bimamba
same_bytes "bimamba classifier, --dropout 0.2" bid "${CLS[@]}" --model bimamba --dropout 0.2
same_bytes "bimamba classifier, --pack" bip "${CLS[@]}" --model bimamba --pack
same_bytes "bimamba classifier, --rc-equivariant" birc "${CLS[@]}" --model bimamba --rc-equivariant
same_bytes "transformer LM, --dropout 0.2" tr "${LM[@]}" --model transformer --dropout 0.2
same_bytes "hybrid LM (attention every 2 layers)" hy "${LM[@]}" --model hybrid --attn-every 2
same_bytes "bimamba classifier, --cpu-ranks 2 --seq-parallel" bisp "${CLS[@]}" --model bimamba \
    --cpu-ranks 2 --seq-parallel
same_bytes "mamba LM, --cpu-ranks 2 --seq-parallel, --pack" lmsp "${LM[@]}" --model mamba \
    --cpu-ranks 2 --seq-parallel --pack

# --- waveform: a classifier of 8 kHz clips (frames of 16 samples)
mkdir -p au/a au/b
cp "$EX/audio/morning_coffee_5s.wav" au/a/x.wav
cp "$EX/audio/morning_coffee_5s.wav" au/b/y.wav
same_bytes "waveform classifier" au train --class a=au/a --class b=au/b --d-model 8 --layers 4 \
    --steps 2 --frame 16 --verbosity 0

# --- memory, and several tiles: 4 rows of 5000 bases are 20000 rows, two of the CPU's
# 16384-row tiles. 8 layers keep 9 copies of (4, 5000, 8) fp32 at K = 1 (640000 bytes each);
# ceil(8/K) + 1 kept + min(K, 8) − 1 recomputed: 6 at K = 2 and K = 4, 9 at K = 8. Nothing
# else in the plan depends on K, so the arena falls by exactly 3 copies (and not at all at 8).
zcat "$EX/dna/bacteria_train.fa.gz" | grep -v '^>' | tr -d '\n' | fold -w 5000 | head -4 |
    awk '{ print ">r" NR; print }' > long.fa
LONG=(train --task lm --model mamba --data long.fa --no-bucket --d-model 8 --layers 8
      --steps 1 --batch-size 4)
copy=$((4 * 5000 * 8 * 4))
arena() { # K -> bytes of the activation arena, from the closing line on stderr
    "$LONGSCAN" "${LONG[@]}" --grad-checkpoint "$1" -o "long$1.safetensors" 2>&1 |
        sed -n 's/.*activation arena \([0-9]*\) bytes.*/\1/p'
}
"$LONGSCAN" "${LONG[@]}" -o long1.safetensors 2> long1.err
a2=$(arena 2); a4=$(arena 4); a8=$(arena 8)
if cmp -s long1.safetensors long2.safetensors && cmp -s long1.safetensors long4.safetensors &&
   cmp -s long1.safetensors long8.safetensors; then
    ok "two tiles a layer: K = 2, 4, 8 give K = 1's checkpoint byte for byte"
else not_ok "two tiles a layer: K = 2, 4, 8 give K = 1's checkpoint byte for byte"; fi
# K = 1's arena: K = 8 keeps as many copies (1 + 1 + 7), so its arena is K = 1's
if [ -n "$a2" ] && [ -n "$a4" ] && [ -n "$a8" ] &&
   [ $((a8 - a2)) = $((3 * copy)) ] && [ $((a8 - a4)) = $((3 * copy)) ]; then
    ok "memory: 8 layers, arena $a8 bytes at K = 8 (= K = 1), $a4 at K = 4, $a2 at K = 2: 3 copies of $copy bytes fewer"
else not_ok "memory: the arena falls by 3 residual copies of $copy bytes at K = 2 and 4" \
    "K = 2: '$a2', K = 4: '$a4', K = 8: '$a8'"; fi

# --- errors: exit status 2 and exactly one line on stderr
err_case() { # regex args...
    local re=$1; shift
    "$LONGSCAN" "$@" > err.out 2> err.err
    local got=$? lines
    lines=$(wc -l < err.err)
    if [ "$got" = 2 ] && [ "$lines" = 1 ] && grep -Eq "^longscan train: $re" err.err; then
        ok "error: $(cat err.err)"
    else not_ok "error case: $*" "exit $got (want 2), $lines lines:" "$(head -3 err.err)"; fi
}
err_case "--grad-checkpoint 0: must be at least 1" "${LM[@]}" --model mamba --grad-checkpoint 0 -o e.safetensors
err_case "--grad-checkpoint -3: must be at least 1" "${LM[@]}" --model mamba --grad-checkpoint -3 -o e.safetensors

[ "$failed" = 0 ]
