# longscan train / eval / predict / embed / score — see test_cli.sh for the format:
#   P|N EXIT EXPECT COMMAND   (cases run in order in one $TMP, so later ones use earlier models)
#
# --- end to end on the shipped DNA data: a small bidirectional Mamba, 3 epochs (about 10 s);
#     held-out strains score 0.70 accuracy at seed 1 (chance 0.25); the bar is set at 0.5
P 0 -  $LONGSCAN train --task classify --model bimamba --data $EX/dna/bacteria_train.fa.gz --labels $EX/dna/bacteria_train.labels.tsv --d-model 16 --layers 1 --epochs 3 --batch-size 8 --lr 1e-2 --verbosity 0 -o $TMP/bac.safetensors
P 0 "task":"classify","n":100,.*"accuracy":(0\.[5-9]|1)[,}]  $LONGSCAN eval -m $TMP/bac.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --json
P 0 "mcc":0\.[3-9].*"auroc":null.*"labels":\["ecoli","hpylori","saureus","vcholerae"\],"confusion":\[\[  $LONGSCAN eval -m $TMP/bac.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --json
P 0 ^accuracy[[:space:]]+0\.[5-9]  $LONGSCAN eval -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv
P 0 ^ecoli[[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+[0-9]+$  $LONGSCAN eval -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv
P 0 ^name.predicted_label.p\(ecoli\).p\(hpylori\).p\(saureus\).p\(vcholerae\)$  $LONGSCAN predict -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz
P 0 ^ecoli_001.(ecoli|hpylori|saureus|vcholerae)(.0\.[0-9]{6}){4}$  $LONGSCAN predict -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz
P 0 ^101[[:space:]]correct[[:space:]]0\.[5-9]  $LONGSCAN predict -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz | awk -F'\t' 'NR > 1 { split($1, a, "_"); c += (a[1] == $2) } END { print NR, "correct", c / (NR - 1) }'
P 0 ^1\.0+$  $LONGSCAN predict -m $TMP/bac.safetensors --digits 9 $EX/dna/bacteria_test.fa.gz:vcholerae_025 | awk -F'\t' 'NR == 2 { printf "%.6f\n", $3 + $4 + $5 + $6 }'
P 0 ^vcholerae_025.*  $LONGSCAN predict -m $TMP/bac.safetensors --seq-len 300 --max-windows 2 $EX/dna/bacteria_test.fa.gz
# --- evaluation windows with --stride (100 records of 1,000 bp): 8 windows of 300 at stride 100,
#     at most 5 of them evenly spread; the windows of stride 350 (offsets 0, 350, 700) are
#     scored exactly as those three regions given explicitly, and not as the non-overlapping ones
P 0 "task":"classify","n":800,  $LONGSCAN eval -m $TMP/bac.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --seq-len 300 --stride 100 --json
P 0 "task":"classify","n":500,  $LONGSCAN eval -m $TMP/bac.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --seq-len 300 --stride 100 --max-windows 5 --json
P 0 ^same$  a=$($LONGSCAN eval -m $TMP/bac.safetensors --class vcholerae=$EX/dna/bacteria_test.fa.gz:vcholerae_025 --seq-len 300 --stride 350 --json) && b=$($LONGSCAN eval -m $TMP/bac.safetensors --class vcholerae=$EX/dna/bacteria_test.fa.gz:vcholerae_025:1-300 --class vcholerae=$EX/dna/bacteria_test.fa.gz:vcholerae_025:351-650 --class vcholerae=$EX/dna/bacteria_test.fa.gz:vcholerae_025:701-1000 --json) && [ "$a" = "$b" ] && echo same
P 0 ^differ$  a=$($LONGSCAN eval -m $TMP/bac.safetensors --class vcholerae=$EX/dna/bacteria_test.fa.gz:vcholerae_025 --seq-len 300 --stride 350 --json) && b=$($LONGSCAN eval -m $TMP/bac.safetensors --class vcholerae=$EX/dna/bacteria_test.fa.gz:vcholerae_025 --seq-len 300 --json) && [ "$a" != "$b" ] && echo differ
P 0 ^vcholerae_025.*  $LONGSCAN predict -m $TMP/bac.safetensors --seq-len 300 --stride 50 $EX/dna/bacteria_test.fa.gz:vcholerae_025
P 0 ^101[[:space:]]17$  $LONGSCAN embed -m $TMP/bac.safetensors --tsv $EX/dna/bacteria_test.fa.gz | awk -F'\t' '{ n = NF } END { print NR, n }'
P 0 embeddings[[:space:]]+F32[[:space:]]+\[100,[[:space:]]16\]  $LONGSCAN embed -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz -o $TMP/emb.safetensors && $LONGSCAN info $TMP/emb.safetensors
P 0 names[[:space:]]=[[:space:]]\["ecoli_001","ecoli_002"  $LONGSCAN info $TMP/emb.safetensors
P 0 labels[[:space:]]=[[:space:]]\["ecoli","hpylori","saureus","vcholerae"\]  $LONGSCAN info $TMP/bac.safetensors
P 0 training[[:space:]]=[[:space:]].*"model":"bimamba".*"epochs":"3[[:space:]]\(90[[:space:]]steps\)"  $LONGSCAN info $TMP/bac.safetensors
P 0 data[[:space:]]=[[:space:]]\{"kind":"dna","softmask":"upper"\}  $LONGSCAN info $TMP/bac.safetensors
# --- the configuration table on stderr, and the CSV log
P 0 ^\|[[:space:]]d_model[[:space:]]+\|[[:space:]]8[[:space:]]  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 2 -o $TMP/t.safetensors 2>&1
P 0 ^step,epoch,loss,lr,grad_norm,tokens,tokens_per_s,elapsed_s,valid_loss  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --valid-fraction 0.25 --d-model 8 --layers 1 --steps 4 --eval-every 2 --log $TMP/t.csv --verbosity 0 -o $TMP/t.safetensors && cat $TMP/t.csv
P 0 ^4,[0-9]+,[0-9.]+,.*,[0-9.]+,[0-9.]+,[0-9.]+,[-0-9.]+,,([0-9.]+)?$  cat $TMP/t.csv
P 0 ^valid[[:space:]]step[[:space:]]2:[[:space:]]loss  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --valid-fraction 0.25 --d-model 8 --layers 1 --steps 4 --eval-every 2 -o $TMP/t.safetensors 2>&1
P 0 ^t.best.safetensors$  ls $TMP | grep '^t\.best'
# --- resume: stopped at step 5, resumed, the same bytes as a run never stopped (weights,
#     best checkpoint); whole sequences, then random windows
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --valid-fraction 0.25 --d-model 8 --layers 1 --steps 12 --batch-size 4 --eval-every 4 --verbosity 0 -o $TMP/ra.safetensors
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --valid-fraction 0.25 --d-model 8 --layers 1 --steps 12 --batch-size 4 --eval-every 4 --verbosity 0 --save-every 2 --stop-after 5 -o $TMP/rb.safetensors
P 0 ^step[[:space:]]5$  $LONGSCAN info $TMP/rb.state.safetensors | sed -n 's/^ *step = /step /p'
P 0 -  $LONGSCAN resume $TMP/rb.safetensors
P 0 ^same$  cmp $TMP/ra.safetensors $TMP/rb.safetensors && cmp $TMP/ra.best.safetensors $TMP/rb.best.safetensors && echo same
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --seq-len 200 --balanced --d-model 8 --layers 1 --steps 9 --batch-size 4 --verbosity 0 -o $TMP/wa.safetensors
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --seq-len 200 --balanced --d-model 8 --layers 1 --steps 9 --batch-size 4 --verbosity 0 --stop-after 4 -o $TMP/wb.safetensors && $LONGSCAN train --resume $TMP/wb.state.safetensors --verbosity 0
P 0 ^same$  cmp $TMP/wa.safetensors $TMP/wb.safetensors && echo same
P 0 ^resuming[[:space:]]at[[:space:]]step[[:space:]]3[[:space:]]of[[:space:]]6  $LONGSCAN train --task lm --model mamba --data $FIX/bac_small.fa --d-model 8 --layers 1 --steps 6 --seq-len 100 --stop-after 3 --verbosity 0 -o $TMP/lb.safetensors && $LONGSCAN train --resume $TMP/lb.safetensors --verbosity 1 --progress plain 2>&1
P 0 -  $LONGSCAN train --task lm --model mamba --data $FIX/bac_small.fa --d-model 8 --layers 1 --steps 6 --seq-len 100 --verbosity 0 -o $TMP/la.safetensors
P 0 ^same$  cmp $TMP/la.safetensors $TMP/lb.safetensors && echo same
P 0 already[[:space:]]finished[[:space:]]at[[:space:]]step[[:space:]]6  $LONGSCAN train --resume $TMP/lb.safetensors --verbosity 1 2>&1
# --- the thread count changes nothing (CPU results are bit-identical for a seed)
P 0 ^same$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 3 --threads 1 --verbosity 0 -o $TMP/th1.safetensors && $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 3 --threads 3 --verbosity 0 -o $TMP/th3.safetensors && cmp $TMP/th1.safetensors $TMP/th3.safetensors && echo same
# --- --dropout: recorded in the training record; stopped and resumed, the same bytes as a run
#     never stopped (the masks follow the seed and the step); it changes training, 0 does not;
#     a resumed run must repeat it; absurd values are refused before any work
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 6 --batch-size 4 --dropout 0.3 --verbosity 0 -o $TMP/da.safetensors
P 0 training[[:space:]]=[[:space:]].*"weight_decay":"0.1","dropout":"0.3[[:space:]]\(block[[:space:]]outputs,[[:space:]]pooled[[:space:]]features\)"  $LONGSCAN info $TMP/da.safetensors
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 6 --batch-size 4 --dropout 0.3 --verbosity 0 --stop-after 3 -o $TMP/db.safetensors && $LONGSCAN resume $TMP/db.safetensors --verbosity 0
P 0 ^same$  cmp $TMP/da.safetensors $TMP/db.safetensors && echo same
P 0 ^same$  $LONGSCAN train --task lm --model hybrid --attn-layers 1 --layers 2 --heads 2 --data $FIX/bac_small.fa --d-model 8 --steps 5 --seq-len 60 --dropout 0.2 --verbosity 0 -o $TMP/dla.safetensors && $LONGSCAN train --task lm --model hybrid --attn-layers 1 --layers 2 --heads 2 --data $FIX/bac_small.fa --d-model 8 --steps 5 --seq-len 60 --dropout 0.2 --verbosity 0 --stop-after 2 -o $TMP/dlb.safetensors && $LONGSCAN train --resume $TMP/dlb.safetensors --verbosity 0 && cmp $TMP/dla.safetensors $TMP/dlb.safetensors && echo same
P 0 ^differ$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 6 --batch-size 4 --verbosity 0 -o $TMP/dn.safetensors && ! cmp -s $TMP/da.safetensors $TMP/dn.safetensors && echo differ
P 0 ^same$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 6 --batch-size 4 --dropout 0 --verbosity 0 -o $TMP/d0.safetensors && cmp $TMP/dn.safetensors $TMP/d0.safetensors && echo same
P 0 ^\|[[:space:]]dropout[[:space:]]+\|[[:space:]]0[[:space:]]\(none\)  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 1 -o $TMP/d1.safetensors 2>&1
N 2 --resume.*'dropout'[[:space:]]was[[:space:]]0.3[[:space:]].*now[[:space:]]0.5  $LONGSCAN train --resume $TMP/db.safetensors --dropout 0.5
N 2 --resume.*'dropout'[[:space:]]was[[:space:]]set[[:space:]]in[[:space:]]that[[:space:]]run,[[:space:]]not[[:space:]]now  $LONGSCAN train --resume $TMP/db.safetensors --dropout 0
N 2 --dropout[[:space:]]1:[[:space:]]must[[:space:]]be[[:space:]]at[[:space:]]least[[:space:]]0[[:space:]]and[[:space:]]below[[:space:]]1$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --dropout 1 -o $TMP/x.safetensors
N 2 --dropout[[:space:]]-0.1:[[:space:]]must[[:space:]]be[[:space:]]at[[:space:]]least[[:space:]]0[[:space:]]and[[:space:]]below[[:space:]]1$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --dropout -0.1 -o $TMP/x.safetensors
N 2 --dropout[[:space:]]nan:[[:space:]]not[[:space:]]a[[:space:]]number$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --dropout nan -o $TMP/x.safetensors
N 2 --dropout[[:space:]]0.1x:[[:space:]]not[[:space:]]a[[:space:]]number$  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --dropout 0.1x -o $TMP/x.safetensors
P 0 ^kept$  cp $TMP/da.safetensors $TMP/dkeep.safetensors && ! $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --dropout 2 -o $TMP/dkeep.safetensors 2>/dev/null && cmp $TMP/da.safetensors $TMP/dkeep.safetensors && echo kept
P 0 --dropout[[:space:]]P  $LONGSCAN train --help
# --- a manifest's splits: train on its train split, validate on valid, evaluate its test split
P 0 ^valid[[:space:]]step[[:space:]]2:  $LONGSCAN train --data $EX/../../tests/data/dataset/manifest.tsv --d-model 8 --layers 1 --steps 2 --progress plain -o $TMP/man.safetensors 2>&1
P 0 "n":1,.*"labels":\["neg","pos"\]  $LONGSCAN eval -m $TMP/man.safetensors --split test --json $EX/../../tests/data/dataset/manifest.tsv
N 2 --split[[:space:]]dev2:[[:space:]]expected[[:space:]]train,[[:space:]]valid[[:space:]]or[[:space:]]test  $LONGSCAN eval -m $TMP/man.safetensors --split dev2 $EX/../../tests/data/dataset/manifest.tsv
# --- language model: eval in bits per token, score as bedGraph
P 0 "task":"lm","n":1,.*"tokens":99,"nll_bits_per_token":[0-9.]+,"perplexity":[0-9.]+  $LONGSCAN eval -m $TMP/la.safetensors --json $FIX/apes.fa.gz:hsap.dev.slice:1001-1100
P 0 ^NLL[[:space:]]+[0-9.]+[[:space:]]bits/token$  $LONGSCAN eval -m $TMP/la.safetensors $FIX/apes.fa.gz:hsap.dev.slice:1001-1100
P 0 ^hsap.dev.slice.1001.1002.-[0-9.]+$  $LONGSCAN score -m $TMP/la.safetensors $FIX/apes.fa.gz:hsap.dev.slice:1001-1100 | head -1
P 0 ^99$  $LONGSCAN score -m $TMP/la.safetensors $FIX/apes.fa.gz:hsap.dev.slice:1001-1100 | wc -l
P 0 ^hsap.dev.slice.1000.1010.-[0-9.]+$  $LONGSCAN score -m $TMP/la.safetensors --bin 10 --bits $FIX/apes.fa.gz:hsap.dev.slice:1001-1100 | head -1
P 0 ^10$  $LONGSCAN score -m $TMP/la.safetensors --bin 10 $FIX/apes.fa.gz:hsap.dev.slice:1001-1100 | wc -l
P 0 ^r2.9.10.-[0-9.]+$  $LONGSCAN score -m $TMP/la.safetensors $FIX/small.fa | tail -1
# --- transformer on a window; audio: waveform classifier and µ-law language model
P 0 -  $LONGSCAN train --model transformer --window 256 --heads 2 --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/tf.safetensors
P 0 "n":24,.*"accuracy":  $LONGSCAN eval -m $TMP/tf.safetensors --json $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv
P 0 -  $LONGSCAN train --class tone=$FIX/audio_cls/tone --class noise=$FIX/audio_cls/noise --d-model 8 --layers 1 --steps 2 --frame 16 --verbosity 0 -o $TMP/au.safetensors
P 0 ^name.predicted_label.p\(noise\).p\(tone\)$  $LONGSCAN predict -m $TMP/au.safetensors $FIX/audio_cls/tone/t1.wav
P 0 ^.*/audio_cls/tone/t1.wav.(tone|noise).0\.[0-9]+.0\.[0-9]+$  $LONGSCAN predict -m $TMP/au.safetensors $FIX/audio_cls/tone/t1.wav
P 0 data[[:space:]]=[[:space:]]\{"kind":"audio","sample_rate":8000,"audio_codes":"none"\}  $LONGSCAN info $TMP/au.safetensors
P 0 -  $LONGSCAN train --task lm --data $FIX/audio_cls/tone --d-model 8 --layers 1 --steps 2 --seq-len 400 --verbosity 0 -o $TMP/aulm.safetensors
P 0 "task":"lm","n":3,.*"tokens":2397,  $LONGSCAN eval -m $TMP/aulm.safetensors --json $FIX/audio_cls/noise
P 0 ^.*/n1.wav.700.800.-[0-9.]+$  $LONGSCAN score -m $TMP/aulm.safetensors --bin 100 $FIX/audio_cls/noise/n1.wav
# --- bad input: one line naming the file and place, exit 1 (2 for usage)
N 1 labels_one_column.tsv:1:.*one[[:space:]]column  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/labels_one_column.tsv -o $TMP/x.safetensors
N 1 bac_small.fa:[[:space:]]'hpylori_001'[[:space:]]has[[:space:]]no[[:space:]]label  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/labels_one_class.tsv -o $TMP/x.safetensors
N 2 holds[[:space:]]1[[:space:]]label[[:space:]]\(ecoli\)  $LONGSCAN train --class ecoli=$FIX/small.fa -o $TMP/x.safetensors
N 1 labels_unknown.tsv:[0-9]+:[[:space:]]unknown[[:space:]]label[[:space:]].bsubtilis  $LONGSCAN eval -m $TMP/bac.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $FIX/labels_unknown.tsv
N 1 labels_unknown.tsv:[0-9]+:[[:space:]]unknown[[:space:]]label  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --valid $EX/dna/bacteria_test.fa.gz --valid-labels $FIX/labels_unknown.tsv -o $TMP/x.safetensors
N 2 --d-model[[:space:]]0:[[:space:]]must[[:space:]]be  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 0 -o $TMP/x.safetensors
N 2 --layers[[:space:]]-1:[[:space:]]must[[:space:]]be  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --layers -1 -o $TMP/x.safetensors
N 2 --lr[[:space:]]nan:[[:space:]]not[[:space:]]a[[:space:]]number  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --lr nan -o $TMP/x.safetensors
N 2 --batch-size[[:space:]]0  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --batch-size 0 -o $TMP/x.safetensors
N 1 --seq-len[[:space:]]5000:[[:space:]]window[[:space:]]of[[:space:]]5000[[:space:]]is[[:space:]]longer[[:space:]]than[[:space:]]every[[:space:]]example  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --seq-len 5000 -o $TMP/x.safetensors
N 2 --window[[:space:]]100:[[:space:]]only[[:space:]]the[[:space:]]transformer  $LONGSCAN train --model mamba --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --window 100 -o $TMP/x.safetensors
N 2 --seq-len[[:space:]]500[[:space:]]is[[:space:]]longer[[:space:]]than[[:space:]]--window[[:space:]]256  $LONGSCAN train --model transformer --window 256 --seq-len 500 --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv -o $TMP/x.safetensors
N 2 --epochs[[:space:]]and[[:space:]]--steps  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --epochs 2 --steps 3 -o $TMP/x.safetensors
N 2 --model[[:space:]]rnn  $LONGSCAN train --model rnn --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv -o $TMP/x.safetensors
N 2 --task[[:space:]]regress:[[:space:]]expected[[:space:]]classify[[:space:]]or[[:space:]]lm  $LONGSCAN train --task regress --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --labels:[[:space:]]a[[:space:]]language[[:space:]]model[[:space:]]takes[[:space:]]no[[:space:]]labels  $LONGSCAN train --task lm --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv -o $TMP/x.safetensors
N 2 bimamba  $LONGSCAN train --task lm --model bimamba --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --sample-rate:[[:space:]]the[[:space:]]data[[:space:]]is[[:space:]]DNA  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --sample-rate 8000 -o $TMP/x.safetensors
N 2 no[[:space:]]output:[[:space:]]give[[:space:]]-o  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv
N 2 no[[:space:]]training[[:space:]]data  $LONGSCAN train -o $TMP/x.safetensors
N 1 /no/such/dir/x.safetensors:[[:space:]]cannot[[:space:]]create[[:space:]]a[[:space:]]file[[:space:]]in[[:space:]]directory[[:space:]]/no/such/dir:[[:space:]]No[[:space:]]such  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv -o /no/such/dir/x.safetensors
N 1 no_such.fa  $LONGSCAN train --data $FIX/no_such.fa --labels $FIX/bac_small.labels.tsv -o $TMP/x.safetensors
N 2 --resume.*'lr'[[:space:]]was[[:space:]]0.001[[:space:]]in[[:space:]]that[[:space:]]run,[[:space:]]now[[:space:]]0.5  $LONGSCAN train --resume $TMP/rb.safetensors --lr 0.5
N 1 notstate.state.safetensors:[[:space:]]not[[:space:]]a[[:space:]]longscan[[:space:]]training[[:space:]]state  cp $TMP/bac.safetensors $TMP/notstate.state.safetensors && $LONGSCAN train --resume $TMP/notstate.state.safetensors
N 1 no_run.state.safetensors  $LONGSCAN train --resume $TMP/no_run.safetensors
N 1 cut.state.safetensors:  head -c 4000 $TMP/rb.state.safetensors > $TMP/cut.state.safetensors && $LONGSCAN train --resume $TMP/cut.state.safetensors
N 1 rb.state.safetensors:[[:space:]]not[[:space:]]a[[:space:]]longscan[[:space:]]model.*longscan-train-state  $LONGSCAN eval -m $TMP/rb.state.safetensors $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv
# a run that fails leaves an existing model alone and no temporary behind
P 0 ^kept$  cp $TMP/bac.safetensors $TMP/keep.safetensors && ! $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/labels_one_column.tsv -o $TMP/keep.safetensors 2>/dev/null && cmp $TMP/bac.safetensors $TMP/keep.safetensors && ! ls $TMP/keep.safetensors.tmp $TMP/keep.state.safetensors 2>/dev/null && echo kept
# checkpoints for eval, predict, embed, score: truncated, not a checkpoint, tensors missing,
# the wrong task
N 1 trunc.safetensors:  head -c 3000 $TMP/bac.safetensors > $TMP/trunc.safetensors && $LONGSCAN eval -m $TMP/trunc.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv
N 1 trunc.safetensors:  $LONGSCAN predict -m $TMP/trunc.safetensors $EX/dna/bacteria_test.fa.gz
N 1 bacteria_test.fa.gz:  $LONGSCAN predict -m $EX/dna/bacteria_test.fa.gz $EX/dna/bacteria_test.fa.gz
N 1 good.safetensors:[[:space:]]metadata[[:space:]]'config'[[:space:]]missing  $LONGSCAN predict -m $FIX/good.safetensors $EX/dna/bacteria_test.fa.gz
N 1 missing.safetensors:[[:space:]]tensor[[:space:]]'classifier.bias'[[:space:]]missing  python3 -c "import sys; from safetensors import safe_open; from safetensors.numpy import save_file; f = safe_open(sys.argv[1], 'np'); d = {k: f.get_tensor(k) for k in f.keys() if k != 'classifier.bias'}; save_file(d, sys.argv[2], metadata=f.metadata())" $TMP/bac.safetensors $TMP/missing.safetensors && $LONGSCAN eval -m $TMP/missing.safetensors --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv
N 2 la.safetensors[[:space:]]is[[:space:]]a[[:space:]]language[[:space:]]model  $LONGSCAN predict -m $TMP/la.safetensors $EX/dna/bacteria_test.fa.gz
N 2 bac.safetensors[[:space:]]is[[:space:]]a[[:space:]]classifier  $LONGSCAN score -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz
N 2 trained[[:space:]]on[[:space:]]DNA,[[:space:]]but[[:space:]]the[[:space:]]input[[:space:]]holds[[:space:]]audio  $LONGSCAN predict -m $TMP/bac.safetensors $FIX/good.wav
N 2 give[[:space:]]-o[[:space:]]OUT.safetensors,[[:space:]]or[[:space:]]--tsv  $LONGSCAN embed -m $TMP/bac.safetensors $EX/dna/bacteria_test.fa.gz
N 2 no[[:space:]]model:[[:space:]]give[[:space:]]-m  $LONGSCAN eval --data $EX/dna/bacteria_test.fa.gz
N 2 no[[:space:]]input  $LONGSCAN predict -m $TMP/bac.safetensors
N 1 /no/such/dir/p.tsv:[[:space:]]cannot[[:space:]]create[[:space:]]a[[:space:]]file  $LONGSCAN predict -m $TMP/bac.safetensors $FIX/small.fa -o /no/such/dir/p.tsv
# the options eval, predict, embed and score share (pipeline/infer.h InferArgs): messages,
# ranges, which command takes which, and the order of the checks
N 2 no[[:space:]]model:[[:space:]]give[[:space:]]-m[[:space:]]LM.safetensors$  $LONGSCAN score $FIX/small.fa
N 2 no[[:space:]]data:[[:space:]]give[[:space:]]--data[[:space:]]SEQS$  $LONGSCAN eval -m $TMP/bac.safetensors --labels $FIX/bac_small.labels.tsv
N 2 no[[:space:]]input:[[:space:]]give[[:space:]]SEQS[[:space:]]to[[:space:]]score$  $LONGSCAN score -m $TMP/la.safetensors
N 2 predict:[[:space:]]--max-windows[[:space:]]needs[[:space:]]--seq-len$  $LONGSCAN predict -m $TMP/bac.safetensors --max-windows 2 $FIX/small.fa
N 2 embed:[[:space:]]--max-windows[[:space:]]needs[[:space:]]--seq-len$  $LONGSCAN embed -m $TMP/bac.safetensors --tsv --max-windows 2 $FIX/small.fa
N 2 eval:[[:space:]]--stride[[:space:]]needs[[:space:]]--seq-len$  $LONGSCAN eval -m $TMP/bac.safetensors --stride 100 $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv
N 2 predict:[[:space:]]--stride[[:space:]]needs[[:space:]]--seq-len$  $LONGSCAN predict -m $TMP/bac.safetensors --stride 2 $FIX/small.fa
N 2 eval:[[:space:]]--stride[[:space:]]0:[[:space:]]must[[:space:]]be[[:space:]]between[[:space:]]1[[:space:]]and  $LONGSCAN eval -m $TMP/bac.safetensors --seq-len 100 --stride 0 $FIX/small.fa
N 2 score:[[:space:]]unknown[[:space:]]or[[:space:]]incomplete[[:space:]]option[[:space:]].--stride.  $LONGSCAN score -m $TMP/la.safetensors --stride 2 $FIX/small.fa
N 2 embed:[[:space:]]safetensors[[:space:]]output[[:space:]]needs[[:space:]]a[[:space:]]file  $LONGSCAN embed -m $TMP/bac.safetensors --max-windows 2 $FIX/small.fa
N 2 eval:[[:space:]]--seq-len[[:space:]]0:[[:space:]]must[[:space:]]be[[:space:]]between[[:space:]]1[[:space:]]and  $LONGSCAN eval -m $TMP/bac.safetensors --seq-len 0 $FIX/small.fa
N 2 embed:[[:space:]]--batch-size[[:space:]]0:[[:space:]]must[[:space:]]be[[:space:]]between[[:space:]]1[[:space:]]and[[:space:]]1000000$  $LONGSCAN embed -m $TMP/bac.safetensors --tsv --batch-size 0 $FIX/small.fa
N 2 score:[[:space:]]--max-tokens[[:space:]]x:[[:space:]]not[[:space:]]an[[:space:]]integer$  $LONGSCAN score -m $TMP/la.safetensors --max-tokens x $FIX/small.fa
N 2 score:[[:space:]]unknown[[:space:]]or[[:space:]]incomplete[[:space:]]option[[:space:]].--seq-len.  $LONGSCAN score -m $TMP/la.safetensors --seq-len 10 $FIX/small.fa
P 0 ^r2.9.10.-[0-9.]+$  $LONGSCAN score --model $TMP/la.safetensors --batch-size 2 --max-tokens 50 --data $FIX/small.fa | tail -1
# --- help
P 0 ^Usage:[[:space:]]longscan[[:space:]]train[[:space:]]--task  $LONGSCAN train --help
P 0 --resume[[:space:]]FILE  $LONGSCAN train --help
P 0 ^Usage:[[:space:]]longscan[[:space:]]eval[[:space:]]-m  $LONGSCAN eval --help
P 0 ^Usage:[[:space:]]longscan[[:space:]]predict[[:space:]]-m  $LONGSCAN predict --help
P 0 ^Usage:[[:space:]]longscan[[:space:]]embed[[:space:]]-m  $LONGSCAN embed --help
P 0 ^Usage:[[:space:]]longscan[[:space:]]score[[:space:]]-m  $LONGSCAN score --help
P 0 ^[[:space:]]+--batch-size[[:space:]]N[[:space:]]+records[[:space:]]per[[:space:]]forward[[:space:]]pass[[:space:]]\(default[[:space:]]1\)$  $LONGSCAN score --help
P 0 ^[[:space:]]+--max-tokens[[:space:]]N[[:space:]]+at[[:space:]]most[[:space:]]N[[:space:]]padded[[:space:]]tokens  $LONGSCAN predict --help
P 0 ^Usage:[[:space:]]longscan[[:space:]]resume[[:space:]]MODEL  $LONGSCAN resume --help
N 2 resume:[[:space:]]give[[:space:]]the[[:space:]]MODEL.safetensors  $LONGSCAN resume
