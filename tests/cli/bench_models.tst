# longscan bench models — see test_cli.sh for the format. Tiny models on the CPU (about 10 s in
# all): what is checked is the plumbing (files, one row per model and length, the matched
# counts, the out-of-memory and skipped-by-time rows, the report's verdicts, plots), never a
# timing.
#
P 0 Usage:[[:space:]]longscan[[:space:]]bench[[:space:]]models  $LONGSCAN bench models --help
P 0 bench[[:space:]]models[[:space:]]--max-len  $LONGSCAN bench --help
# --- bad options: one line, exit 2, nothing written
N 2 bench[[:space:]]models:[[:space:]]no[[:space:]]output:[[:space:]]give[[:space:]]-o[[:space:]]DIR  $LONGSCAN bench models --max-len 128
N 2 bench[[:space:]]models:[[:space:]]give[[:space:]]--max-len[[:space:]]N  $LONGSCAN bench models -o $TMP/bm
N 2 --max-len[[:space:]]96:[[:space:]]not[[:space:]]--min-len[[:space:]]32[[:space:]]times[[:space:]]a[[:space:]]power[[:space:]]of[[:space:]]two  $LONGSCAN bench models --min-len 32 --max-len 96 -o $TMP/bm
N 2 --max-len[[:space:]]16:[[:space:]]shorter[[:space:]]than[[:space:]]--min-len[[:space:]]32  $LONGSCAN bench models --min-len 32 --max-len 16 -o $TMP/bm
N 2 --max-seconds[[:space:]]-1  $LONGSCAN bench models --max-len 64 --max-seconds -1 -o $TMP/bm
N 2 --min-len[[:space:]]x:[[:space:]]not[[:space:]]an[[:space:]]integer  $LONGSCAN bench models --min-len x --max-len 64 -o $TMP/bm
N 2 unknown[[:space:]]or[[:space:]]incomplete[[:space:]]option[[:space:]]'--len'  $LONGSCAN bench models --len 64 --max-len 64 -o $TMP/bm
N 2 bench[[:space:]]models[[:space:]]takes[[:space:]]no[[:space:]]file[[:space:]]arguments  $LONGSCAN bench models --max-len 64 -o $TMP/bm extra.fa
N 2 --d-model[[:space:]]20:.*d_model[[:space:]]/[[:space:]]8[[:space:]]must[[:space:]]be[[:space:]]even  $LONGSCAN bench models --d-model 20 --layers 1 --min-len 32 --max-len 32 --device cpu -o $TMP/bm
P 0 ^absent$  test -e $TMP/bm || echo absent
N 1 bm_file:[[:space:]]not[[:space:]]a[[:space:]]directory  touch $TMP/bm_file && $LONGSCAN bench models --d-model 16 --layers 1 --min-len 32 --max-len 32 --device cpu --verbosity 0 -o $TMP/bm_file
# --- a tiny curve: 3 models x 3 lengths, every file written
P 0 -  $LONGSCAN bench models --d-model 16 --layers 1 --min-len 32 --max-len 128 --repeat 1 --device cpu --threads 1 --verbosity 0 -o $TMP/curve
P 0 ^model,params,d_model,layers,mlp_hidden,precision,L,train_status,train_ms,train_tokens_per_s,forward_status,forward_ms,forward_tokens_per_s,train_peak_GiB,forward_peak_GiB,peak_kind,generation_bytes,note$  head -1 $TMP/curve/models.csv
P 0 ^9$  tail -n +2 $TMP/curve/models.csv | cut -d, -f1,7 | sort -u | wc -l
P 0 ^mamba,32;mamba,64;mamba,128;bimamba,32;bimamba,64;bimamba,128;transformer,32;transformer,64;transformer,128;$  tail -n +2 $TMP/curve/models.csv | cut -d, -f1,7 | tr '\n' ';'
P 0 ^mamba,[0-9]+,16,1,0,f32,64,ok,[0-9.]+,[0-9.]+,ok,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,model_planned,[0-9]+,$  cat $TMP/curve/models.csv
P 0 ^bimamba,[0-9]+,16,1,0,f32,128,ok,[0-9.]+,[0-9.]+,ok,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,model_planned,,$  cat $TMP/curve/models.csv
P 0 ^transformer,[0-9]+,16,1,[1-9][0-9]*,f32,128,ok,  cat $TMP/curve/models.csv
# matched: the Transformer's count within 10 % of the causal Mamba's (both printed in the report)
P 0 ^matched$  awk -F, '$7 == 32 { p[$1] = $2 } END { d = p["transformer"] / p["mamba"] - 1; if (d < 0) d = -d; if (d < 0.10 && p["mamba"] > 0) print "matched"; else print d }' $TMP/curve/models.csv
P 0 ^\|[[:space:]]transformer[[:space:]]\|[[:space:]]16[[:space:]]\|[[:space:]]1[[:space:]]\|  cat $TMP/curve/report.md
# generation memory: the Transformer's grows 2x per doubling of L, the Mamba's stays the same
P 0 ^grows,constant$  awk -F, '$1 != "model" && $17 != "" { g[$1, $7] = $17 } END { print (g["transformer", 128] > 1.9 * g["transformer", 64] ? "grows" : "flat") "," (g["mamba", 128] == g["mamba", 32] ? "constant" : "varies") }' $TMP/curve/models.csv
P 0 ^\|[[:space:]]128[[:space:]]\|([[:space:]][0-9.]+[[:space:]]\|){11}$  cat $TMP/curve/report.md
P 0 ^1\.[[:space:]].*512–1K  cat $TMP/curve/report.md
P 0 inference[[:space:]]\(forward[[:space:]]tokens/s\):[[:space:]]crossover[[:space:]].*\*\*(agree|disagree)\*\*\.$  cat $TMP/curve/report.md
P 0 at[[:space:]]L[[:space:]]=[[:space:]]16384:[[:space:]]not[[:space:]]measured:[[:space:]]\*\*not[[:space:]]tested\*\*\.$  cat $TMP/curve/report.md
P 0 ^ok$  ls $TMP/curve/plots/train_step.gp $TMP/curve/plots/train_step.dat $TMP/curve/plots/forward_tokens.gp $TMP/curve/plots/train_peak.gp $TMP/curve/plots/generation_memory.dat >/dev/null && if command -v gnuplot >/dev/null; then test -s $TMP/curve/plots/train_step.png && test -s $TMP/curve/plots/generation_memory.png && echo ok; else grep -q 'gnuplot is not installed: plots not drawn' $TMP/curve/report.md && echo ok; fi
# without gnuplot on PATH: the data and scripts, no PNG, and the report says how to draw them
P 0 ^ok$  PATH=/nonexistent $LONGSCAN bench models --d-model 16 --layers 1 --min-len 32 --max-len 32 --repeat 1 --device cpu --threads 1 --verbosity 0 -o $TMP/ng && test -s $TMP/ng/plots/train_step.gp && test ! -e $TMP/ng/plots/train_step.png && grep -q 'gnuplot is not installed: plots not drawn' $TMP/ng/report.md && echo ok
# --- skipped (time): after the first length every predicted step is over 1 µs; the model
#     stops there and its longer rows say why
P 0 ^transformer,.*,64,skipped[[:space:]]\(time\),,,skipped[[:space:]]\(time\),.*predicted  $LONGSCAN bench models --d-model 16 --layers 1 --min-len 32 --max-len 128 --repeat 1 --max-seconds 1e-6 --device cpu --threads 1 --verbosity 0 -o $TMP/skip && cat $TMP/skip/models.csv
P 0 ^transformer,.*,128,not[[:space:]]run[[:space:]]\(time[[:space:]]at[[:space:]]a[[:space:]]shorter[[:space:]]L\),  cat $TMP/skip/models.csv
P 0 ^mamba,.*,32,ok,  cat $TMP/skip/models.csv
P 0 skipped[[:space:]]\(time\)  cat $TMP/skip/report.md
# --- out of memory: 2^28 tokens do not fit in an 8 GB address space (ulimit -v; under ASan,
#     whose shadow needs more, allocations over 4 GB fail instead); every model says so, its
#     next length is not run, the run exits 0 with its files
P 0 ^mamba,4032,16,1,0,f32,268435456,out[[:space:]]of[[:space:]]memory,,,out[[:space:]]of[[:space:]]memory,  (if [ "$LS_SAN" = 1 ]; then export ASAN_OPTIONS=$ASAN_OPTIONS:allocator_may_return_null=1:max_allocation_size_mb=4096; else ulimit -v 8000000; fi; $LONGSCAN bench models --d-model 16 --layers 1 --min-len 268435456 --max-len 536870912 --repeat 1 --device cpu --threads 1 --verbosity 0 -o $TMP/oom) && cat $TMP/oom/models.csv
P 0 ^transformer,.*,536870912,not[[:space:]]run[[:space:]]\(out[[:space:]]of[[:space:]]memory[[:space:]]at[[:space:]]a[[:space:]]shorter[[:space:]]L\),  cat $TMP/oom/models.csv
P 0 ^\|[[:space:]]268435456[[:space:]]\|[[:space:]]out[[:space:]]of[[:space:]]memory[[:space:]]\|  cat $TMP/oom/report.md
