#!/usr/bin/env bash
# test_dp.sh — data-parallel training on the CPU (issue 17; docs/parallel.md "Data parallel"),
# TAP output. N = 2, 3 and 4 ranks (`train --cpu-ranks N`) against one process with the same
# global batch: the loss and gradient-norm columns of --log, and every value of the final
# checkpoint. A classifier (bimamba, whole sequences of one length) and a language model on
# sequences of 40..940 bases in random batches, padded and --pack'ed: there the ranks hold
# different numbers of tokens, so a loss averaged per rank instead of per token would show.
#
# Tolerance. The ranks sum the same terms in another grouping (each rank's sums over its rows,
# then the ranks in rank order), so the results differ by fp32 rounding only. Loss and gradient
# norm (logged with 6 decimals): |a - b| <= 1e-5 * max(1, |a|), about 100 float epsilons of a
# value that is itself a sum over thousands of terms (seen: <= 2e-6). Weights after 6 AdamW steps
# at lr 1e-3: |a - b| <= 1e-5 (seen: <= 7e-7; AdamW divides by sqrt(v), which can magnify the
# rounding of a gradient near zero, bounded by lr per step). An error in the split (a lost row,
# a mean of rank means, a bucket reduced before its gradients were final) moves the loss in the
# 3rd decimal or more.
#
# Exact: the CPU ranks sum in rank order, so a rerun gives the same bytes, as does --resume after
# a stop, and as does the same run launched the mpirun way (OMPI_COMM_WORLD_* set by hand, CPU
# ranks meeting in a --rendezvous folder). Then the error lines. LS_DP_BUCKET_MB=0 (a bucket
# per layer, the most exchanges, each as soon as its layer is done) in most runs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/parallel_common.sh" # LONGSCAN, BUILD, ST_TOOL, EX; a scratch TMP, the working folder

echo "1..15"

# --- a classifier: 1 process, 2 and 4 ranks (batch 8)
# every 8th record: a few of each label (the file is sorted by label)
zcat "$EX/dna/bacteria_train.fa.gz" | awk '/^>/ { keep = (k++ % 8 == 0) } keep' > bac.fa
CLS=(train --data bac.fa --labels "$EX/dna/bacteria_train.labels.tsv" --d-model 8 --layers 2
     --steps 6 --batch-size 8 --lr 1e-3 --verbosity 0)
check_run cls1 "$LONGSCAN" "${CLS[@]}" --log cls1.csv -o cls1.safetensors
for N in 2 4; do
    if check_run "cls$N" env LS_DP_BUCKET_MB=0 "$LONGSCAN" "${CLS[@]}" --cpu-ranks $N \
            --log "cls$N.csv" -o "cls$N.safetensors"; then
        if out=$(logs_close cls1.csv "cls$N.csv" "$(head -1 cls1.csv | awk -F, '{ print NF }')"); then
            ok "classifier, $N ranks: the loss and gradient norm of one process"
        else not_ok "classifier, $N ranks: the loss and gradient norm of one process" "$out"; fi
        if out=$(weights_close cls1.safetensors "cls$N.safetensors"); then
            ok "classifier, $N ranks: the final weights of one process ($out)"
        else not_ok "classifier, $N ranks: the final weights of one process" "$out"; fi
    fi
done

# --- a language model on sequences of different lengths, random batches of 12
zcat "$EX/dna/bacteria_train.fa.gz" | awk 'BEGIN { srand(7) }
    /^>/ { if (seq != "") { print name; print substr(seq, 1, 40 + int(rand() * 900)) }
           name = $0; seq = ""; next } { seq = seq $0 }' | head -48 > varlen.fa
LM=(train --task lm --model mamba --data varlen.fa --no-bucket --d-model 16 --layers 2 --steps 6
    --batch-size 12 --verbosity 0)
check_run lm1 "$LONGSCAN" "${LM[@]}" --log lm1.csv -o lm1.safetensors
for run in "3" "4" "4 --pack"; do
    N=${run%% *}; extra=${run#$N}; tag="lm$N${extra// /}"
    if check_run "$tag" env LS_DP_BUCKET_MB=0 "$LONGSCAN" "${LM[@]}" $extra --cpu-ranks $N \
            --log "$tag.csv" -o "$tag.safetensors"; then
        if out=$(logs_close lm1.csv "$tag.csv" "$(head -1 lm1.csv | awk -F, '{ print NF }')") &&
           out=$(weights_close lm1.safetensors "$tag.safetensors"); then
            ok "language model, uneven tokens per rank, $N ranks$extra: one process's loss, norm, weights ($out)"
        else not_ok "language model, $N ranks$extra: one process's loss, norm, weights" "$out"; fi
    fi
done

# --- exact: a rerun, the default buckets, resume after a stop, the mpirun way
check_run cls2b "$LONGSCAN" "${CLS[@]}" --cpu-ranks 2 -o cls2b.safetensors &&
if cmp -s cls2.safetensors cls2b.safetensors; then
    ok "2 ranks again (default buckets): the same bytes"
else not_ok "2 ranks again (default buckets): the same bytes" "checkpoints differ"; fi
check_run stop "$LONGSCAN" "${CLS[@]}" --cpu-ranks 2 --save-every 2 --stop-after 3 -o res.safetensors &&
check_run resume "$LONGSCAN" train --resume res.safetensors --verbosity 0 &&
if cmp -s cls2.safetensors res.safetensors; then
    ok "2 ranks stopped at step 3 and resumed: the bytes of the run never stopped"
else not_ok "2 ranks stopped and resumed: the bytes of the run never stopped" "checkpoints differ"; fi
mkdir rv
for r in 0 1; do
    OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=$r OMPI_COMM_WORLD_LOCAL_RANK=$r \
        PMIX_NAMESPACE=test_dp "$LONGSCAN" "${CLS[@]}" --device cpu --rendezvous rv \
        -o mpi.safetensors > "mpi$r.out" 2> "mpi$r.err" &
done
wait
if cmp -s cls2.safetensors mpi.safetensors && [ -z "$(ls rv)" ]; then
    ok "2 ranks the mpirun way (--rendezvous, CPU): the same bytes, the folder left empty"
else not_ok "2 ranks the mpirun way: the same bytes" "$(cat mpi0.err mpi1.err | head -3)" "$(ls rv)"; fi

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
err_case 2 "--batch-size 8 is the global batch, split evenly over 3 ranks" "${CLS[@]}" --cpu-ranks 3 -o e.safetensors
err_case 2 "--cpu-ranks 0: must be between 1 and" "${CLS[@]}" --cpu-ranks 0 -o e.safetensors
err_case 2 "--gpus 2 runs one process on each of cuda:0 .. cuda:1; on the CPU use --cpu-ranks" "${CLS[@]}" --gpus 2 --device cpu -o e.safetensors
err_case 2 "--rendezvous rv: only for ranks started by mpirun" "${CLS[@]}" --rendezvous rv -o e.safetensors
# rank 0 cannot write its output: one line (rank 0's), not one from every rank
err_case 1 "$TMP/none/x.safetensors: cannot create" "${CLS[@]}" --cpu-ranks 4 -o "$TMP/none/x.safetensors"
[ "$failed" = 0 ]
