# --model hybrid (Mamba layers, Transformer blocks in some) — see test_cli.sh for the format.
# Cases run in order in one $TMP, so later ones use earlier models.
#
# --- layer plan errors: one line naming the option, exit 2
N 2 --attn-layers:[[:space:]]only[[:space:]]--model[[:space:]]hybrid  $LONGSCAN train --task lm --model mamba --attn-layers 1 --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --attn-layers[[:space:]]7:[[:space:]]layer[[:space:]]7[[:space:]]does[[:space:]]not[[:space:]]exist[[:space:]]\(layers[[:space:]]0..3\)  $LONGSCAN train --task lm --model hybrid --attn-layers 7 --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --attn-layers[[:space:]]1,x:[[:space:]]'x'[[:space:]]is[[:space:]]not[[:space:]]a[[:space:]]layer[[:space:]]index  $LONGSCAN train --task lm --model hybrid --attn-layers 1,x --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 every[[:space:]]layer[[:space:]]is[[:space:]]attention  $LONGSCAN train --task lm --model hybrid --layers 2 --attn-layers 0,1 --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --attn-every[[:space:]]9:[[:space:]]must[[:space:]]be[[:space:]]1..4  $LONGSCAN train --task lm --model hybrid --attn-every 9 --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --attn-layers[[:space:]]and[[:space:]]--attn-every:[[:space:]]give[[:space:]]one  $LONGSCAN train --task lm --model hybrid --attn-every 2 --attn-layers 1 --data $FIX/bac_small.fa -o $TMP/x.safetensors
N 2 --model[[:space:]]hybird:[[:space:]]expected[[:space:]]mamba,[[:space:]]bimamba,[[:space:]]transformer[[:space:]]or[[:space:]]hybrid  $LONGSCAN train --task lm --model hybird --data $FIX/bac_small.fa -o $TMP/x.safetensors
# --- a hybrid classifier on DNA: train, eval, predict, embed (1 attention block of 2 layers)
P 0 -  $LONGSCAN train --task classify --model hybrid --layers 2 --attn-layers 1 --heads 2 --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --steps 4 --batch-size 4 --verbosity 0 -o $TMP/hc.safetensors
P 0 "arch":"hybrid".*"attn_layers":\[1\]  $LONGSCAN info $TMP/hc.safetensors
P 0 backbone.layers.1.mlp.fc2.weight[[:space:]]+F32[[:space:]]+\[8,[[:space:]]32\]  $LONGSCAN info $TMP/hc.safetensors
P 0 backbone.layers.0.mixer.x_proj.weight[[:space:]]+F32  $LONGSCAN info $TMP/hc.safetensors
P 0 "task":"classify","n":[0-9]+,.*"accuracy":  $LONGSCAN eval -m $TMP/hc.safetensors --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --json
P 0 ^name.predicted_label  $LONGSCAN predict -m $TMP/hc.safetensors $FIX/bac_small.fa
P 0 embeddings[[:space:]]+F32[[:space:]]+\[[0-9]+,[[:space:]]8\]  $LONGSCAN embed -m $TMP/hc.safetensors $FIX/bac_small.fa -o $TMP/hemb.safetensors && $LONGSCAN info $TMP/hemb.safetensors
# --- a hybrid language model on DNA: score every position, resume bit for bit
P 0 -  $LONGSCAN train --task lm --model hybrid --layers 3 --attn-every 3 --heads 2 --data $FIX/bac_small.fa --d-model 8 --steps 6 --seq-len 100 --batch-size 2 --verbosity 0 -o $TMP/hl.safetensors
P 0 -  $LONGSCAN train --task lm --model hybrid --layers 3 --attn-every 3 --heads 2 --data $FIX/bac_small.fa --d-model 8 --steps 6 --seq-len 100 --batch-size 2 --verbosity 0 --stop-after 3 -o $TMP/hr.safetensors && $LONGSCAN train --resume $TMP/hr.safetensors --verbosity 0
P 0 ^same$  cmp $TMP/hl.safetensors $TMP/hr.safetensors && echo same
P 0 "attn_layers":\[1\]  $LONGSCAN info $TMP/hl.safetensors
P 0 "task":"lm".*"accuracy":  $LONGSCAN eval -m $TMP/hl.safetensors --data $FIX/bac_small.fa --json
P 0 ^ecoli_001[[:space:]]1[[:space:]]2[[:space:]]-[0-9.]+$  $LONGSCAN score -m $TMP/hl.safetensors $FIX/bac_small.fa | head -1
