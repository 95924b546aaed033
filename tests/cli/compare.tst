# longscan compare — see test_cli.sh for the format. A grid of seconds: tiny models, a few
# training steps each; what is checked is the plumbing (files, rows, verdicts, plots), not
# the accuracy such runs reach.
#
P 0 Usage:[[:space:]]longscan[[:space:]]compare  $LONGSCAN compare --help
P 0 Usage:[[:space:]]longscan[[:space:]]compare  $LONGSCAN help compare
P 0 ^[[:space:]]+compare[[:space:]]+Transformer[[:space:]]vs[[:space:]]Mamba  $LONGSCAN --help
# --- bad options: one line, exit 2
N 2 no[[:space:]]output:[[:space:]]give[[:space:]]-o[[:space:]]DIR  $LONGSCAN compare --minutes 0.1
N 2 --experiments[[:space:]]mqar,foo:[[:space:]]unknown[[:space:]]'foo'  $LONGSCAN compare --experiments mqar,foo -o $TMP/c
N 2 --models[[:space:]]rnn:[[:space:]]unknown[[:space:]]'rnn'[[:space:]]\(expected[[:space:]]transformer,[[:space:]]mamba,[[:space:]]hybrid\)  $LONGSCAN compare --models rnn -o $TMP/c
N 2 --lengths[[:space:]]32:[[:space:]]16[[:space:]]MQAR[[:space:]]pairs[[:space:]]need[[:space:]]len[[:space:]]>=[[:space:]]64  $LONGSCAN compare --lengths 32 -o $TMP/c
N 2 --lengths[[:space:]]x:[[:space:]]not[[:space:]]an[[:space:]]integer  $LONGSCAN compare --lengths 64,x -o $TMP/c
N 2 experiment[[:space:]]data:[[:space:]]give[[:space:]]--data[[:space:]]SEQS[[:space:]]and[[:space:]]--valid  $LONGSCAN compare --data $FIX/bac_small.fa -o $TMP/c
N 2 --distances[[:space:]]300:[[:space:]]longer[[:space:]]than[[:space:]]--train-len[[:space:]]64  $LONGSCAN compare --experiments recall --train-len 64 --distances 300 -o $TMP/c
N 2 --d-model[[:space:]]10:[[:space:]]must[[:space:]]be[[:space:]]a[[:space:]]multiple[[:space:]]of  $LONGSCAN compare --d-model 10 --heads 2 -o $TMP/c
P 0 ^absent$  test -e $TMP/c || echo absent
# --- a tiny grid: MQAR at two lengths and induction, three models (about 15 s)
P 0 -  $LONGSCAN compare --experiments mqar,induction --lengths 16,32 --pairs 2 --vocab 40 --train-len 16 --eval-lengths 16,64 --d-model 16 --layers 1 --minutes 0.2 --n-eval 20 --batch-size 8 --verbosity 0 --threads 1 -o $TMP/cmp
P 0 ^experiment,model,params,d_model,layers,d_state,x,train,test,test_x,accuracy,loss,steps,train_seconds,error,tokens_per_s,tokens_per_cpu_s,activation_bytes,state_bytes,train_cpu_seconds,test_cpu_seconds$  head -1 $TMP/cmp/results.csv
P 0 ^13$  wc -l < $TMP/cmp/results.csv
P 0 ^mqar,hybrid,[0-9]+,[0-9]+,2,16,32,"synth:mqar,len=32,pairs=2,vocab=40,n=100000,seed=1","synth:mqar,len=32,pairs=2,vocab=40,n=20,seed=1001",32,[01]\.[0-9]{6},[0-9.]+,[0-9]+,[0-9.]+,,,,,,[0-9.]+,[0-9.]+$  cat $TMP/cmp/results.csv
P 0 ^induction,mamba,.*"synth:induction,len=64,vocab=16,n=20,seed=1001",64,  cat $TMP/cmp/results.csv
P 0 ^\|[[:space:]]32[[:space:]]\|([[:space:]][0-9.]+[[:space:]]\|){3}[[:space:]]—[[:space:]]\|[[:space:]]—[[:space:]]\|$  cat $TMP/cmp/report.md
P 0 ^1\.[[:space:]].*Transformer[[:space:]]recalls.*\*\*(agree|disagree)\*\*\.$  cat $TMP/cmp/report.md
P 0 ^2\.[[:space:]].*twice[[:space:]]its[[:space:]]training[[:space:]]length.*\*\*(agree|disagree)\*\*\.$  cat $TMP/cmp/report.md
P 0 ^4$  ls $TMP/cmp/models | grep -c '^mqar-.*-[0-9]*\.safetensors$' | awk '{ print $1 - 2 }'
# plots: drawn when gnuplot is installed, else a clear message in the report (the data and
# scripts are there either way)
P 0 ^ok$  ls $TMP/cmp/plots/mqar.gp $TMP/cmp/plots/mqar.dat $TMP/cmp/plots/induction.gp >/dev/null && if command -v gnuplot >/dev/null; then test -s $TMP/cmp/plots/mqar.png && echo ok; else grep -q 'gnuplot is not installed: plots not drawn' $TMP/cmp/report.md && echo ok; fi
# the Transformer of the grid is attention-only by default (Zoology's): no MLP tensors
P 0 ^0$  $LONGSCAN info $TMP/cmp/models/mqar-transformer-32.safetensors | grep -c 'mlp\.fc1' || true
P 0 ^in_proj[[:space:]]out_proj$  $LONGSCAN info $TMP/cmp/models/mqar-transformer-32.safetensors | grep -o 'layers\.0\.mixer\.[a-z_]*\.weight' | sed 's/.*mixer\.//; s/\.weight//' | paste -sd' '
# --- induction as the Mamba paper sets it up: the Mamba's shape given (not matched), its own
# vocabulary, a number of steps instead of minutes, n examples at every test length
N 2 --mix-len[[:space:]]300:[[:space:]]longer[[:space:]]than[[:space:]]--train-len[[:space:]]256  $LONGSCAN compare --experiments induction --mix-len 300 -o $TMP/c
N 2 --induction-vocab[[:space:]]2:[[:space:]]must[[:space:]]be[[:space:]]between[[:space:]]3  $LONGSCAN compare --experiments induction --induction-vocab 2 -o $TMP/c
P 0 -  $LONGSCAN compare --experiments induction --models mamba,transformer --mamba-d-model 8 --mamba-layers 2 --induction-vocab 8 --train-len 16 --mix-len 8 --eval-lengths 16,32,64 --d-model 16 --layers 1 --steps 3 --lr 1e-3 --min-lr 1e-3 --weight-decay 0 --n-eval 12 --batch-size 4 --verbosity 0 --threads 1 -o $TMP/cmpi
P 0 ^7$  wc -l < $TMP/cmpi/results.csv
P 0 ^induction,mamba,[0-9]+,8,2,16,0,"synth:induction,len=16,vocab=8,n=100000,seed=1[[:space:]]\+[[:space:]]synth:induction,len=8,vocab=8,n=100000,seed=1","synth:induction,len=64,vocab=8,n=12,seed=1001",64,[01]\.[0-9]{6},[0-9.]+,3,  cat $TMP/cmpi/results.csv
P 0 ^\|[[:space:]]mamba[[:space:]]\|[[:space:]]8[[:space:]]\|[[:space:]]2[[:space:]]\|  cat $TMP/cmpi/report.md
P 0 ^\|[[:space:]]32[[:space:]]\|[[:space:]]12[[:space:]]\|[[:space:]][0-9.]+[[:space:]]\|[[:space:]][0-9.]+[[:space:]]\|[[:space:]]—[[:space:]]\|$  cat $TMP/cmpi/report.md
P 0 3[[:space:]]optimizer[[:space:]]steps[[:space:]]per[[:space:]]run,[[:space:]]batch[[:space:]]4,[[:space:]]learning[[:space:]]rate[[:space:]]0\.001[[:space:]]constant,[[:space:]]weight[[:space:]]decay[[:space:]]0,  cat $TMP/cmpi/report.md
P 0 chance:[[:space:]]1/7  cat $TMP/cmpi/report.md
P 0 at[[:space:]]L[[:space:]]=[[:space:]]16[[:space:]]\(and[[:space:]]as[[:space:]]many[[:space:]]examples[[:space:]]at[[:space:]]L[[:space:]]=[[:space:]]8,  cat $TMP/cmpi/report.md
# --- inference against length: no training; tokens/s, activation and state bytes per length
N 2 --speed-lengths[[:space:]]1:[[:space:]]must[[:space:]]be[[:space:]]between[[:space:]]2  $LONGSCAN compare --experiments speed --speed-lengths 1 -o $TMP/c
P 0 -  $LONGSCAN compare --experiments speed --speed-lengths 16,64 --d-model 16 --layers 1 --verbosity 0 --threads 1 -o $TMP/cmps
P 0 ^7$  wc -l < $TMP/cmps/results.csv
P 0 ^speed,mamba,[0-9]+,[0-9]+,2,16,0,"","speed,len=64",64,,,0,0\.0,,[0-9.]+,[0-9.]+,[0-9]+,[0-9]+,,$  cat $TMP/cmps/results.csv
# state: the Transformer's KV cache is 2·L·d_model floats per layer (1 layer, d 16, L 64)
P 0 ^speed,transformer,.*,64,,,0,0\.0,,[0-9.]+,[0-9.]+,[0-9]+,8192,,$  cat $TMP/cmps/results.csv
P 0 ^3\.[[:space:]].*crossover.*\*\*(agree|disagree)\*\*[[:space:]]\(crossover:  cat $TMP/cmps/report.md
P 0 ^0$  ls $TMP/cmps/models | wc -l
# --- your own data: the three models on a DNA classification task
P 0 -  $LONGSCAN compare --data $FIX/bac_small.fa --valid $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --experiments data --d-model 8 --layers 1 --minutes 0.1 --batch-size 4 --verbosity 0 --threads 1 -o $TMP/cmpd
P 0 ^\|[[:space:]]hybrid[[:space:]]\|[[:space:]][0-9]+[[:space:]]\|[[:space:]][0-9.]+[[:space:]]\|[[:space:]][0-9.]+[[:space:]]\|$  cat $TMP/cmpd/report.md
P 0 ^4$  wc -l < $TMP/cmpd/results.csv
