#!/usr/bin/env bash
# test_sp.sh — sequence-parallel training across CPU ranks (issue 17; docs/parallel.md
# "Sequence parallel across ranks"), TAP output. `train --cpu-ranks G --seq-parallel`: rank g
# holds only slice g of every row (the memory split: its residual stream is (B, L/G, D)) and
# the ranks trade halos, scan summaries and state gradients (comm_shift / comm_allgather), a
# classifier's pooled parts and an LM's target count and loss; the parameter gradients are
# summed as in data parallel. Against one process with --seq-slices 1 (the plain path): the
# loss and gradient-norm columns of --log at every step, and every value of the final
# checkpoint. G = 2 and 3 for a causal Mamba LM on sequences of 40..940 bases (padded rows, and
# --pack'ed: sequence starts mid-slice), a classifier (mamba, mean pooling) and a bimamba
# classifier (both walk directions; rows shorter than L, so the reverse walk starts inside a
# slice, and --pack'ed: every sequence's reverse walk starts at its last position). And the
# memory: the activation arena of rank 0 falls about G-fold from 1 to 2 and 4 ranks.
#
# Tolerance: the same as tests/cli/test_dp.sh and tests/cli/seqpar.tst, for the same reason.
# The slices recombine the scan (h_g = P·h + e) and the ranks sum each layer's contributions
# in rank order (X + (c_0 + c_1 + ...) instead of X + c_fwd + c_rev), so the results differ by
# fp32 rounding only: loss and gradient norm |a - b| <= 1e-5 * max(1, |a|); weights after the
# AdamW steps |a - b| <= 1e-5. A lost halo, a lost decay product or a head gradient counted
# on every rank moves them by far more (see the mutations in docs/parallel.md).
# Exact: a rerun gives the same bytes (the CPU ranks sum in rank order). Then the error lines.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/parallel_common.sh" # LONGSCAN, BUILD, ST_TOOL, EX; a scratch TMP, the working folder
# name: the one-process run's tag, then G, extra options, the base command in ARGS
compare() { # ref tag G description extra...
    local ref=$1 tag=$2 G=$3 what=$4; shift 4
    if check_run "$tag" "$LONGSCAN" "${ARGS[@]}" "$@" --cpu-ranks "$G" --seq-parallel \
            --log "$tag.csv" -o "$tag.safetensors"; then
        local out
        if out=$(logs_close "$ref.csv" "$tag.csv" "$(head -1 "$ref.csv" | awk -F, '{ print NF }')") &&
           out=$(weights_close "$ref.safetensors" "$tag.safetensors"); then
            ok "$what, $G ranks: one process's loss, gradient norm and weights ($out)"
        else not_ok "$what, $G ranks: one process's loss, gradient norm and weights" "$out"; fi
    fi
}

echo "1..18"

# --- a causal LM on sequences of 40..940 bases (batches padded to the longest), and packed
zcat "$EX/dna/bacteria_train.fa.gz" | awk 'BEGIN { srand(7) }
    /^>/ { if (seq != "") { print name; print substr(seq, 1, 40 + int(rand() * 900)) }
           name = $0; seq = ""; next } { seq = seq $0 }' | head -48 > varlen.fa
ARGS=(train --task lm --model mamba --data varlen.fa --no-bucket --d-model 16 --layers 2
      --steps 4 --batch-size 12 --verbosity 0)
check_run lm1 "$LONGSCAN" "${ARGS[@]}" --log lm1.csv -o lm1.safetensors
check_run lmp1 "$LONGSCAN" "${ARGS[@]}" --pack --log lmp1.csv -o lmp1.safetensors
for G in 2 3; do
    compare lm1 "lm$G" $G "mamba LM, padded rows"
    compare lmp1 "lmp$G" $G "mamba LM, --pack (sequence starts inside slices)" --pack
done

# --- classifiers: mamba (mean pooling) and bimamba, rows of different lengths
# every 8th record (a few of each label: the file is sorted by label), cut to 50..450 bases
zcat "$EX/dna/bacteria_train.fa.gz" | awk 'BEGIN { srand(11) }
    /^>/ { if (seq != "") { print name; print substr(seq, 1, 50 + int(rand() * 400)) }
           keep = (k++ % 8 == 0); name = $0; seq = ""; next } keep { seq = seq $0 }
    END { if (seq != "") { print name; print substr(seq, 1, 50 + int(rand() * 400)) } }' > bac.fa
for model in mamba bimamba; do
    ARGS=(train --data bac.fa --labels "$EX/dna/bacteria_train.labels.tsv" --model $model
          --d-model 8 --layers 2 --steps 4 --batch-size 8 --lr 1e-3 --verbosity 0)
    check_run "$model"1 "$LONGSCAN" "${ARGS[@]}" --log "${model}1.csv" -o "${model}1.safetensors"
    for G in 2 3; do compare "${model}1" "$model$G" $G "$model classifier"; done
done
# bimamba, packed rows: sequences end inside slices, the reverse walk crosses ranks
check_run bimambap1 "$LONGSCAN" "${ARGS[@]}" --pack --log bimambap1.csv -o bimambap1.safetensors
for G in 2 3; do compare bimambap1 "bimambap$G" $G "bimamba classifier, --pack" --pack; done

# --- exact: a rerun of the same ranks gives the same bytes
check_run bimamba2b "$LONGSCAN" "${ARGS[@]}" --cpu-ranks 2 --seq-parallel -o bimamba2b.safetensors &&
if cmp -s bimamba2.safetensors bimamba2b.safetensors; then
    ok "bimamba, 2 ranks again: the same bytes"
else not_ok "bimamba, 2 ranks again: the same bytes" "checkpoints differ"; fi

# --- memory: each rank plans only its slice. 4 rows of 4000 bases, one tile per slice (the
# CPU's 16384 tile rows cover a batch): every activation is per position, so rank 0's arena
# falls about G-fold (seen: 39.5 MB, 20.0 MB, 10.2 MB; the per-rank scan summaries, G slots of
# (B, E, N) per layer, grow with G). At least 1.9x at 2 ranks and 3.6x at 4; a rank holding
# the whole residual stream (the replicated design this replaced) would give 1x.
zcat "$EX/dna/bacteria_train.fa.gz" | grep -v '^>' | tr -d '\n' | fold -w 4000 | head -4 |
    awk '{ print ">r" NR; print }' > long.fa
arena() { # G -> bytes of rank 0's activation arena, from the closing line on stderr
    "$LONGSCAN" train --task lm --model mamba --data long.fa --no-bucket --d-model 16 --layers 4 \
        --steps 1 --batch-size 4 --cpu-ranks "$1" --seq-parallel -o "arena$1.st" 2>&1 |
        sed -n 's/.*activation arena \([0-9]*\) bytes on rank 0.*/\1/p'
}
a1=$(arena 1); a2=$(arena 2); a4=$(arena 4)
for G in 2 4; do
    aG=$(eval echo "\$a$G")
    if [ -n "$a1" ] && [ -n "$aG" ] &&
       awk -v a="$a1" -v b="$aG" -v g="$G" 'BEGIN { exit !(a / b >= (g == 2 ? 1.9 : 3.6)) }'; then
        ok "memory: rank 0's activation arena $a1 bytes on 1 rank, $aG on $G"
    else not_ok "memory: rank 0's activation arena falls about ${G}-fold" "1 rank: '$a1', $G: '$aG'"; fi
done

# --- errors: exit status and exactly one line on stderr
err_case() { # want_exit regex args...
    local want=$1 re=$2; shift 2
    "$LONGSCAN" "$@" > err.out 2> err.err
    local got=$? lines
    lines=$(wc -l < err.err)
    if [ "$got" = "$want" ] && [ "$lines" = 1 ] && grep -Eq "^longscan train: $re" err.err; then
        ok "error: $(cat err.err)"
    else not_ok "error case: $*" "exit $got (want $want), $lines lines:" "$(head -3 err.err)"; fi
}
err_case 2 "--seq-parallel cuts each row across ranks: give --gpus N or --cpu-ranks N" "${ARGS[@]}" --seq-parallel -o e.safetensors
err_case 2 "--seq-slices 2 with --seq-parallel: the ranks are the slices" "${ARGS[@]}" --seq-slices 2 --cpu-ranks 2 --seq-parallel -o e.safetensors
err_case 1 "--seq-parallel: a transformer model has attention layers" "${ARGS[@]}" --model transformer --cpu-ranks 2 --seq-parallel -o e.safetensors
# a slice shorter than the conv's halo (d_conv 4: 3 positions) on 16 ranks of 40-position rows
head -8 varlen.fa | awk '/^>/ { print; next } { print substr($0, 1, 40) }' > short.fa
err_case 2 "--seq-parallel over 16 ranks: a batch of 40 positions per row cannot give every slice the conv's halo" train --task lm --model mamba --data short.fa --d-model 8 --layers 1 --steps 1 --batch-size 2 --verbosity 0 --cpu-ranks 16 --seq-parallel -o e.safetensors
err_case 1 "--seq-parallel: --dropout \\(its masks are numbered by the whole row's positions\\) is not supported" "${ARGS[@]}" --dropout 0.1 --cpu-ranks 2 --seq-parallel -o e.safetensors
[ "$failed" = 0 ]
