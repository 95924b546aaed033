#!/usr/bin/env bash
# bench/gpu_recipes.sh a|b|c — one device call of issue 14's result recipes (examples/), run from
# the bundle `make gpu-bundle-recipes-a` (or -b) writes (.gpu-recipes-a/: longscan and
# tools/spectrogram with the libraries they need, the examples scripts, this driver, and the
# data the call's recipes read as one data.tar.gz laid out as ../shared/data).
#
#   call a: GUE prom_core_notata (3 seeds), FSDD digits (3 seeds), the six other GUE tasks,
#           then the FSDD µ-law LM (+ 5 s of generated audio) in the time left. GUE and FSDD
#           digits run with their recipes' regularisation (issue 14): reverse-complement
#           augmentation and early stopping on 10 % of train held out (GUE), speed/shift/
#           gain/noise augmentation (FSDD); DROPOUT=P in the environment adds --dropout P to
#           both (a binary with that option); AUGMENT=none HOLDOUT=0 undo them
#   call b: great apes with the bidirectional Mamba at 1K/16K/256K/1M (3 seeds at 1M), the
#           bacteria species at 1K/16K, then the causal Mamba on the great apes in the time left
#   call c: the FSDD µ-law LM again with 4 minutes and 6 blocks, then Genomic Benchmarks
#   call d: test_gpu dropout, the regularised GUE prom_core_notata and FSDD digits (3 seeds
#           each), then the 6-block µ-law LM in the time left
#   call e: test_gpu seqpar and matmul (the sliced scan's parity, the bf16 epilogue), the
#           Genomic Benchmarks' ten folds, then in the time left the six other GUE tasks with
#           call d's regularisation (dropout 0.1) and GUE prom_core_notata with a wider,
#           deeper model (one seed: does capacity help once it is regularised?); the bundle
#           also carries bench/gpu_gen.sh (the fused generation step) and bench/gpu_dp.sh
#           (data parallel), run from a copy of it
#   call f: the next-base LM on human chr20 at contexts 1K, 16K and 1M (one seed each, the
#           recipe's 5 minutes shortened to what DEADLINE_S leaves); the bundle also carries
#           bench/gpu_induction.sh, which the same call runs after it (issue 15)
#
# On the device (repository root; carry the bundle folder):
#   bash .gpu-recipes-a/gpu_recipes.sh a
# Here, the same script on the CPU with a few steps (the plumbing, not the numbers):
#   cp -r .gpu-recipes-a /tmp/b && OUT=/tmp/o DEVICE=cpu STEPS=2 D_MODEL=8 LAYERS=1 \
#       bash /tmp/b/gpu_recipes.sh a
#
# Steps run in order; each is one recipe with its own environment and training budget
# (MINUTES), under `timeout`; a step that no longer fits before DEADLINE_S is shortened or
# skipped (said in status.tsv), and the last step of a call takes the time that is left.
# After every step what exists is packed into $OUT, so a call cut short still returns it:
#   OUT/recipes-<call>.tar.gz  every step's summary.tsv, runs.tsv, metrics/, logs/, media/
#                              (WAV, spectrogram data), models/*.info, the fsdd-lm model
#   OUT/summary.tsv            all summary rows (recipe, group, split, metric, runs, mean, sd,
#                              min, max, params, train_s, device, commit)
#   OUT/metrics.jsonl          every run's metrics JSON, one a line (examples/fill_results.sh
#                              turns them into docs/results.md's rows)
#   OUT/status.tsv             step, recipe, exit status, seconds, planned training seconds
#   OUT/driver.log             everything printed
# Environment: DEVICE (cuda), PRECISION (bf16 on cuda), DEADLINE_S (520: seconds after the
# start by which the last step ends), WORK (/tmp/gpu-recipes), and anything a recipe reads
# (STEPS, D_MODEL, LAYERS, SEEDS, ... — the smoke test's tiny runs).
set -uo pipefail
B=$(cd "$(dirname "$0")" && pwd)
call=${1:-}
case $call in a|b|c|d|e|f|g) ;; *) echo "usage: gpu_recipes.sh a|b|c|d|e|f|g" >&2; exit 2 ;; esac
[ -n "${OUT:-}" ] || { echo "gpu_recipes.sh: set OUT (the folder that comes back)" >&2; exit 2; }
ret=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
unset OUT # each recipe gets its own
t_start=$SECONDS
deadline=${DEADLINE_S:-520}
work=${WORK:-/tmp/gpu-recipes}
rm -rf "$work" && mkdir -p "$work/lib" "$work/bin" "$work/data" "$work/runs"
exec > >(tee -a "$ret/driver.log") 2>&1
elapsed() { echo $((SECONDS - t_start)); }
say() { echo "### [$(elapsed) s] $*"; }

# ---------------------------------------------------------------------------- unpack
for f in "$B"/libz/*.gz; do [ -e "$f" ] && gunzip -c "$f" > "$work/lib/$(basename "$f" .gz)"; done
for f in "$B"/bin/*.gz; do
    [ -e "$f" ] && gunzip -c "$f" > "$work/bin/$(basename "$f" .gz)" && chmod +x "$work/bin/$(basename "$f" .gz)"
done
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
tar -xzf "$B/data.tar.gz" -C "$work/data" || { say "data.tar.gz: cannot unpack"; exit 1; }
# the bundle's run script sets the library path (its lib/, CUDA's) and runs a binary by path
export LONGSCAN="$B/run $work/bin/longscan"
printf '#!/usr/bin/env bash\nexec "%s/run" "%s/bin/spectrogram" "$@"\n' "$B" "$work" \
    > "$work/spectrogram" && chmod +x "$work/spectrogram"
export SPECTROGRAM=$work/spectrogram
export DATA=$work/data
export COMMIT=${COMMIT:-$(tr -d '\n' < "$B/COMMIT")}
export DEVICE=${DEVICE:-cuda}
[ "$DEVICE" = cpu ] || export PRECISION=${PRECISION:-bf16}
say "call $call: commit $COMMIT, device $DEVICE${PRECISION:+ $PRECISION}, deadline $deadline s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    | sed 's/^/### gpu: /'
$LONGSCAN --version | head -2 || { say "longscan does not run here"; exit 1; }
du -sh "$work/data"/*/* 2>/dev/null | sed 's/^/### data: /'

printf '#step\trecipe\tstatus\tseconds\tplanned_train_s\n' > "$ret/status.tsv"
: > "$ret/metrics.jsonl"
summary_header=0

# pack — the tarball and the tables in $ret, from what the steps wrote so far
pack() {
    local files=() d
    for d in "$work"/runs/*/; do
        d=$(basename "$d")
        local f
        for f in summary.tsv runs.tsv metrics logs media; do
            [ -e "$work/runs/$d/$f" ] && files+=("$d/$f")
        done
        files+=($(cd "$work/runs" && find "$d" -maxdepth 1 \( -name '*.dat' -o -name '*.gp' \) \
                  -print; find "$d/models" \( -name '*.info' -o -path '*fsdd-lm*' \
                  -name 'lm.s*.safetensors' ! -name '*.state.*' ! -name '*.best.*' \) -print \
                  2>/dev/null))
    done
    [ ${#files[@]} -gt 0 ] || return 0
    tar -czf "$ret/recipes-$call.tar.gz.tmp" -C "$work/runs" "${files[@]}" \
        && mv "$ret/recipes-$call.tar.gz.tmp" "$ret/recipes-$call.tar.gz"
}

# step NAME RECIPE TRAIN_S ALLOW_S [VAR=VALUE...] — run examples/RECIPE/run.sh with
# MINUTES = TRAIN_S / 60 (its whole training budget, split over its runs) and the variables
# given, stopped after TRAIN_S + ALLOW_S (+ 30) seconds. TRAIN_S "rest": what is left before
# the deadline, less ALLOW_S. A step shortened below a third of its plan, or below 30 s of
# training, is skipped.
step() {
    local name=$1 recipe=$2 train_s=$3 allow_s=$4; shift 4
    local left=$((deadline - $(elapsed)))
    local want=$train_s
    [ "$train_s" = rest ] && want=$((left - allow_s)) && train_s=$want
    if [ $((want + allow_s)) -gt "$left" ]; then want=$((left - allow_s)); fi
    if [ "$want" -lt $((train_s / 3)) ] || [ "$want" -lt 30 ]; then
        say "$name: skipped ($left s left, it plans $train_s + $allow_s s)"
        printf '%s\t%s\tskipped\t0\t%s\n' "$name" "$recipe" "$train_s" >> "$ret/status.tsv"
        return
    fi
    local minutes limit t0=$SECONDS
    minutes=$(awk -v s="$want" 'BEGIN { printf "%.3f", s / 60 }')
    limit=$((want + allow_s + 30)); [ "$limit" -gt "$left" ] && limit=$left
    # the step's variables are defaults: one set in the environment wins (smoke tests' sizes)
    local kv vars=()
    for kv in "$@"; do printenv "${kv%%=*}" > /dev/null || vars+=("$kv"); done
    say "$name: examples/$recipe/run.sh, MINUTES=$minutes, stopped after $limit s; ${vars[*]}"
    env "${vars[@]}" OUT="$work/runs/$name" MINUTES="$minutes" \
        timeout -k 10 "$limit" bash "$B/examples/$recipe/run.sh"
    local rc=$?
    [ "$rc" = 124 ] && say "$name: stopped at its limit ($limit s)"
    say "$name: exit $rc after $((SECONDS - t0)) s"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$recipe" "$rc" "$((SECONDS - t0))" "$want" \
        >> "$ret/status.tsv"
    local dir=$work/runs/$name
    # a step stopped part-way has no summary yet: make it from the runs it finished
    if [ ! -s "$dir/summary.tsv" ] && [ "$(grep -vc '^#' "$dir/runs.tsv" 2>/dev/null)" -gt 0 ]
    then
        (RECIPE=$recipe OUT=$dir; source "$B/examples/common.sh"; recipe_summary > /dev/null)
    fi
    if [ -s "$dir/summary.tsv" ]; then
        [ $summary_header = 1 ] || head -1 "$dir/summary.tsv" > "$ret/summary.tsv"
        summary_header=1
        tail -n +2 "$dir/summary.tsv" >> "$ret/summary.tsv"
    fi
    local j
    for j in "$dir"/metrics/*.json; do
        [ -e "$j" ] && { tr -d '\n' < "$j"; echo; } >> "$ret/metrics.jsonl"
    done
    pack
}

# ---------------------------------------------------------------------------- the calls
# Training seconds per step are estimates for the H100 (bench/results/gpu-model-a45e873-h100:
# bimamba d256 × 8 trains 672K tokens/s at 131K; these models are d128 × 4, about four times
# cheaper per token; GUE's and FSDD's short sequences are launch-bound, so the batches are
# larger than on the CPU). Each run's --minutes includes its loading; ALLOW_S covers
# evaluation, CUDA start-up per process and generation.
case $call in
a)
    # Regularised runs (issue 14). At 80ed569 (no regularisation) GUE prom_core_notata ran 9
    # epochs in 24 s and FSDD digits 114 epochs in 34 s. Reverse complement doubles what GUE
    # sees, so notata gets 30 s a seed (~10 epochs of 90 % of train, validated after each on
    # the other 10 %, which costs a forward over a tenth of an epoch); the other GUE tasks
    # keep 20 s each. FSDD digits keeps 105 s: augmented, its 2,700 files are new each epoch.
    # The µ-law LM (unchanged: codes are not augmented; call c runs it longer) comes last in
    # the time left: about 115 s of training when the earlier steps end as at 80ed569 (a
    # step took its training budget + 2-4 s there).
    step gue-notata gue 90 40 TASKS=prom_core_notata BATCH=128
    step fsdd-digits fsdd-digits 105 45 BATCH=64
    step gue-other gue 120 60 TASKS="prom_core_tata tf0 tf1 tf2 tf3 tf4" SEEDS=1 BATCH=128
    # a wider LM than the recipe's default (1.8 M parameters): the GPU feeds it enough tokens;
    # its 5 s of audio are generated on the CPU (one sample at a time)
    step fsdd-lm fsdd-lm rest 75 BATCH=32 D_MODEL=256 LAYERS=4 GEN_DEVICE=cpu
    ;;
b)
    step apes-bimamba great-apes 300 80 MODELS=bimamba
    step bacteria bacteria-species 60 35
    step apes-mamba great-apes rest 50 MODELS=mamba LENGTHS="16384 1048576"
    ;;
c)
    # the µ-law LM with 4 of the recipe's 5 minutes and 6 blocks (its own row: GROUP_TAG),
    # then the Genomic Benchmarks' 10 folds in the time left
    step fsdd-lm-long fsdd-lm 240 110 BATCH=32 D_MODEL=256 LAYERS=6 GEN_DEVICE=cpu \
        GROUP_TAG=d256x6-4min
    step gb genomic-benchmarks rest 70
    ;;
d)
    # one call for what the last device minutes of a session allow: the dropout kernels'
    # parity on this GPU (test_gpu dropout, when the bundle holds test_gpu), the regularised
    # headline rows (GUE prom_core_notata and FSDD digits, 3 seeds each, the recipes' own
    # regularisation defaults) and the 6-block µ-law LM in the time left (5 s generated on the
    # GPU: the CPU took 75 s of call a for it)
    if [ -x "$work/bin/test_gpu" ]; then
        say "test_gpu dropout"
        timeout 120 "$B/run" "$work/bin/test_gpu" dropout > "$ret/parity-dropout.log" 2>&1
        say "test_gpu dropout: exit $?, $(grep -c '^ok' "$ret/parity-dropout.log") ok," \
            "$(grep -c '^not ok' "$ret/parity-dropout.log") not ok"
        grep '^not ok' "$ret/parity-dropout.log" | head -20 | cut -c1-300
    fi
    # GUE memorised its train split within 9 epochs at 80ed569 (train loss 0.21, dev MCC flat):
    # dropout 0.1 on top of the recipe's rc and early stopping; FSDD's augmentation already
    # makes every epoch new data, so it keeps the recipe's defaults
    step gue-notata gue 75 40 TASKS=prom_core_notata BATCH=128 DROPOUT=0.1
    step fsdd-digits fsdd-digits 90 45 BATCH=64
    step fsdd-lm-long fsdd-lm rest 60 BATCH=32 D_MODEL=256 LAYERS=6 GEN_DEVICE=cuda \
        GROUP_TAG=d256x6
    ;;
e)
    # the sliced scan and the sliced models (issue 17), the matmul suite (the bf16 epilogue,
    # issue 11)
    for suite in seqpar model_seqpar matmul; do
        [ -x "$work/bin/test_gpu" ] || break
        say "test_gpu $suite"
        timeout 60 "$B/run" "$work/bin/test_gpu" $suite > "$ret/parity-$suite.log" 2>&1
        say "test_gpu $suite: exit $?, $(grep -c '^ok' "$ret/parity-$suite.log") ok," \
            "$(grep -c '^not ok' "$ret/parity-$suite.log") not ok"
        grep '^not ok' "$ret/parity-$suite.log" | head -20 | cut -c1-300
    done
    # at 3f71f8d (call d) notata's validation loss flattened at ~0.38 after 9 epochs of the
    # d128 x 4 model with dropout 0.1 (23 s a seed): one seed of d256 x 6 for 60 s asks
    # whether capacity is what is missing
    # the Genomic Benchmarks first (no row of theirs yet), then the GUE runs in what is left
    step gb genomic-benchmarks 200 70
    step gue-other gue 120 60 TASKS="prom_core_tata tf0 tf1 tf2 tf3 tf4" SEEDS=1 BATCH=128 \
        DROPOUT=0.1
    step gue-notata-wide gue 60 40 TASKS=prom_core_notata SEEDS=1 BATCH=128 DROPOUT=0.1 \
        D_MODEL=256 LAYERS=6 GROUP_TAG=d256x6
    ;;
f)
    step chr20-lm chr20-lm rest 60
    ;;
g)
    # the six other GUE tasks with dropout 0.1 (call e ran out of time before them); the bundle
    # also carries bench/gpu_sp.sh and gpu_induction.sh, run after this from copies of it
    step gue-other gue 150 60 TASKS="prom_core_tata tf0 tf1 tf2 tf3 tf4" SEEDS=1 BATCH=128 \
        DROPOUT=0.1
    ;;
esac

say "done in $(elapsed) s"
column -t -s $'\t' "$ret/status.tsv" 2>/dev/null || cat "$ret/status.tsv"
[ -s "$ret/summary.tsv" ] && { column -t -s $'\t' "$ret/summary.tsv" 2>/dev/null \
                                   || cat "$ret/summary.tsv"; }
exit 0
