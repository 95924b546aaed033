# longscan export and -m DIR (Hugging Face transformers directories) — see test_cli.sh for the
# format. Cases run in order in one $TMP: a tiny causal LM is trained, exported, and the bad
# directories below are copies of that export with one thing changed. The numbers themselves
# are checked against transformers in tests/py/test_hf_parity.py and test_hf_export.py.
P 0 -  $LONGSCAN train --task lm --model mamba --data $FIX/bac_small.fa --d-model 8 --layers 1 --steps 2 --seq-len 100 --verbosity 0 -o $TMP/hlm.safetensors
P 0 ^config.json,model.safetensors,$  $LONGSCAN export -m $TMP/hlm.safetensors -o $TMP/hf && ls $TMP/hf | tr '\n' ','
P 0 "model_type":[[:space:]]*"mamba"  cat $TMP/hf/config.json
P 0 ^no[[:space:]]leftovers$  ls -a $TMP | grep -q 'tmp-' || echo no leftovers
# -m DIR wherever -m takes a model: the same output as the longscan file
P 0 ^same$  cmp <($LONGSCAN score -m $TMP/hf $FIX/small.fa) <($LONGSCAN score -m $TMP/hlm.safetensors $FIX/small.fa) && echo same
P 0 ^same$  cmp <($LONGSCAN eval -m $TMP/hf --json $FIX/small.fa | sed 's/"model":"[^"]*",//') <($LONGSCAN eval -m $TMP/hlm.safetensors --json $FIX/small.fa | sed 's/"model":"[^"]*",//') && echo same
P 0 ^same$  cmp <($LONGSCAN embed -m $TMP/hf --tsv $FIX/small.fa) <($LONGSCAN embed -m $TMP/hlm.safetensors --tsv $FIX/small.fa) && echo same
# score --tsv: a header, every position, NA where there is no context, %.9g
P 0 ^name.pos.token.logprob$  $LONGSCAN score -m $TMP/hf --tsv $FIX/small.fa | head -1
P 0 ^r1.0.0.NA$  $LONGSCAN score -m $TMP/hf --tsv $FIX/small.fa | sed -n 2p
P 0 ^r2.9.3.-[0-9]\.[0-9]{6,}$  $LONGSCAN score -m $TMP/hf --tsv $FIX/small.fa | tail -1
P 0 ^25$  $LONGSCAN score -m $TMP/hf --tsv $FIX/small.fa | wc -l
P 0 ^name.pos.token.logprob.next_0.next_1.next_2.next_3.next_4$  $LONGSCAN score -m $TMP/hf --tsv --vocab-logprobs $FIX/small.fa | head -1
P 0 ^1\.0000$  $LONGSCAN score -m $TMP/hf --tsv --vocab-logprobs $FIX/small.fa | awk -F'\t' 'NR == 5 { for (i = 5; i <= NF; i++) s += exp($i); printf "%.4f\n", s }'
N 2 --bin[[:space:]]and[[:space:]]--tsv  $LONGSCAN score -m $TMP/hf --tsv --bin 10 $FIX/small.fa
N 2 --vocab-logprobs[[:space:]]needs[[:space:]]--tsv  $LONGSCAN score -m $TMP/hf --vocab-logprobs $FIX/small.fa
# export: the other way, and what it refuses
P 0 ^same$  $LONGSCAN export -m $TMP/hf -o $TMP/back.safetensors && cmp <($LONGSCAN score -m $TMP/back.safetensors $FIX/small.fa) <($LONGSCAN score -m $TMP/hlm.safetensors $FIX/small.fa) && echo same
N 2 export:.*back.safetensors:[[:space:]]exists[[:space:]]\(give[[:space:]]--force  $LONGSCAN export -m $TMP/hf -o $TMP/back.safetensors
N 2 export:.*/hf:[[:space:]]directory[[:space:]]not[[:space:]]empty[[:space:]]\(give[[:space:]]--force  $LONGSCAN export -m $TMP/hlm.safetensors -o $TMP/hf
P 0 ^replaced$  $LONGSCAN export -m $TMP/hlm.safetensors -o $TMP/hf/ --force && ls -a $TMP | grep -qv -e 'tmp-' -e 'old-' && echo replaced
N 2 holds[[:space:]]'notes.txt',[[:space:]]which[[:space:]]export[[:space:]]does[[:space:]]not[[:space:]]write  touch $TMP/hf/notes.txt && $LONGSCAN export -m $TMP/hlm.safetensors -o $TMP/hf --force
P 0 ^kept$  test -f $TMP/hf/notes.txt && test -f $TMP/hf/config.json && rm $TMP/hf/notes.txt && echo kept
N 2 small.fa:[[:space:]]exists[[:space:]]and[[:space:]]is[[:space:]]not[[:space:]]a[[:space:]]directory  $LONGSCAN export -m $TMP/hlm.safetensors -o $FIX/small.fa
N 2 give[[:space:]]the[[:space:]]model[[:space:]]and[[:space:]]where  $LONGSCAN export -m $TMP/hlm.safetensors
N 2 unexpected[[:space:]]argument  $LONGSCAN export -m $TMP/hlm.safetensors -o $TMP/x extra
P 0 -  $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --model bimamba --d-model 8 --layers 1 --steps 1 --verbosity 0 -o $TMP/hbi.safetensors
N 1 hbi.safetensors:[[:space:]]a[[:space:]]bidirectional[[:space:]]Mamba[[:space:]]has[[:space:]]no[[:space:]]transformers[[:space:]]class  $LONGSCAN export -m $TMP/hbi.safetensors -o $TMP/hbi_hf
P 0 ^nothing[[:space:]]written$  test ! -e $TMP/hbi_hf && ! ls $TMP | grep -q 'hbi_hf.tmp' && echo nothing written
P 0 -  $LONGSCAN train --model transformer --window 256 --heads 2 --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 1 --verbosity 0 -o $TMP/htf.safetensors
N 1 htf.safetensors:[[:space:]]the[[:space:]]transformer[[:space:]]baseline[[:space:]]has[[:space:]]no  $LONGSCAN export -m $TMP/htf.safetensors -o $TMP/htf_hf
# bad directories: one line naming the file and the key or tensor
N 1 nocfg:[[:space:]]no[[:space:]]config.json  mkdir -p $TMP/nocfg && cp $TMP/hf/model.safetensors $TMP/nocfg/ && $LONGSCAN score -m $TMP/nocfg $FIX/small.fa
N 1 noweights:[[:space:]]no[[:space:]]model.safetensors[[:space:]]or[[:space:]]model.safetensors.index.json  mkdir -p $TMP/noweights && cp $TMP/hf/config.json $TMP/noweights/ && $LONGSCAN predict -m $TMP/noweights $FIX/small.fa
N 1 badjson/config.json:[[:space:]]not[[:space:]]a[[:space:]]JSON[[:space:]]object  cp -r $TMP/hf $TMP/badjson && head -c 40 $TMP/hf/config.json > $TMP/badjson/config.json && $LONGSCAN score -m $TMP/badjson $FIX/small.fa
N 1 m2/config.json:[[:space:]]key[[:space:]]'model_type'[[:space:]]is[[:space:]]'mamba2':[[:space:]]longscan[[:space:]]reads  cp -r $TMP/hf $TMP/m2 && sed -i 's/"mamba"/"mamba2"/' $TMP/m2/config.json && $LONGSCAN score -m $TMP/m2 $FIX/small.fa
N 1 llama/config.json:[[:space:]]key[[:space:]]'model_type'[[:space:]]is[[:space:]]'llama'  cp -r $TMP/hf $TMP/llama && sed -i 's/"mamba"/"llama"/' $TMP/llama/config.json && $LONGSCAN embed -m $TMP/llama --tsv $FIX/small.fa
N 1 notype/config.json:[[:space:]]key[[:space:]]'model_type'[[:space:]]missing  cp -r $TMP/hf $TMP/notype && sed -i '/"model_type"/d' $TMP/notype/config.json && $LONGSCAN score -m $TMP/notype $FIX/small.fa
N 1 model.safetensors:[[:space:]]tensor[[:space:]]'backbone.layers.0.mixer.A_log'[[:space:]]has[[:space:]]shape[[:space:]]\[16,[[:space:]]16\],[[:space:]]config.json[[:space:]]implies[[:space:]]\[16,[[:space:]]8\][[:space:]]\(intermediate_size,[[:space:]]state_size\)  cp -r $TMP/hf $TMP/shape && sed -i 's/"state_size":[[:space:]]*16/"state_size": 8/' $TMP/shape/config.json && $LONGSCAN score -m $TMP/shape $FIX/small.fa
N 1 model.safetensors:[[:space:]]tensor[[:space:]]'backbone.layers.1.mixer.A_log'[[:space:]]missing  cp -r $TMP/hf $TMP/layers && sed -i 's/"num_hidden_layers":[[:space:]]*1/"num_hidden_layers": 2/' $TMP/layers/config.json && $LONGSCAN score -m $TMP/layers $FIX/small.fa
N 1 unexpected[[:space:]]tensor[[:space:]]'backbone.layers.0.mixer.conv1d.bias'.*use_conv_bias[[:space:]]is[[:space:]]false  cp -r $TMP/hf $TMP/nobias && sed -i 's/"use_conv_bias":[[:space:]]*true/"use_conv_bias": false/' $TMP/nobias/config.json && $LONGSCAN score -m $TMP/nobias $FIX/small.fa
N 1 config.json:[[:space:]]key[[:space:]]'use_bias'[[:space:]]is[[:space:]]true:[[:space:]]longscan's[[:space:]]in_proj  cp -r $TMP/hf $TMP/ubias && sed -i 's/"use_bias":[[:space:]]*false/"use_bias": true/' $TMP/ubias/config.json && $LONGSCAN score -m $TMP/ubias $FIX/small.fa
N 1 config.json:[[:space:]]key[[:space:]]'hidden_act'[[:space:]]is[[:space:]]'gelu'  cp -r $TMP/hf $TMP/gelu && sed -i 's/"silu"/"gelu"/' $TMP/gelu/config.json && $LONGSCAN score -m $TMP/gelu $FIX/small.fa
N 1 config.json:[[:space:]]key[[:space:]]'vocab_size'[[:space:]]is[[:space:]]1:.*2..16777216  cp -r $TMP/hf $TMP/bigv && sed -i 's/"vocab_size":[[:space:]]*5/"vocab_size": 1/' $TMP/bigv/config.json && $LONGSCAN score -m $TMP/bigv $FIX/small.fa
N 1 config.json:[[:space:]]key[[:space:]]'hidden_size'[[:space:]]is[[:space:]]'8':[[:space:]]expected[[:space:]]an[[:space:]]integer  cp -r $TMP/hf $TMP/strsize && sed -i 's/"hidden_size":[[:space:]]*8/"hidden_size": "8"/' $TMP/strsize/config.json && $LONGSCAN score -m $TMP/strsize $FIX/small.fa
N 1 config.json:[[:space:]]key[[:space:]]'intermediate_size'[[:space:]]is[[:space:]]12:.*integer[[:space:]]expand  cp -r $TMP/hf $TMP/inter && sed -i 's/"intermediate_size":[[:space:]]*16/"intermediate_size": 12/' $TMP/inter/config.json && $LONGSCAN score -m $TMP/inter $FIX/small.fa
N 1 config.json:[[:space:]]key[[:space:]]'vocab_size'[[:space:]]is[[:space:]]5,[[:space:]]fewer[[:space:]]ids[[:space:]]than[[:space:]]longscan's[[:space:]]8-bit[[:space:]]audio[[:space:]]codes  cp -r $TMP/hf $TMP/audio && sed -i -e 's/"kind":[[:space:]]*"dna"/"kind": "audio"/' -e 's/"softmask":[[:space:]]*"upper"/"sample_rate": 8000, "audio_codes": "mulaw8"/' $TMP/audio/config.json && $LONGSCAN score -m $TMP/audio $FIX/good.wav
N 1 config.json:[[:space:]]key[[:space:]]'longscan.frobnicate'[[:space:]]unknown  cp -r $TMP/hf $TMP/lsnew && sed -i 's/"longscan":[[:space:]]*{/"longscan": {"frobnicate": 1,/' $TMP/lsnew/config.json && $LONGSCAN score -m $TMP/lsnew $FIX/small.fa
N 1 shard/model.safetensors.index.json:[[:space:]]key[[:space:]]'weight_map'[[:space:]]names[[:space:]]shard[[:space:]]'../hlm.safetensors'  mkdir -p $TMP/shard && cp $TMP/hf/config.json $TMP/shard/ && printf '{"metadata":{},"weight_map":{"backbone.norm_f.weight":"../hlm.safetensors"}}' > $TMP/shard/model.safetensors.index.json && $LONGSCAN score -m $TMP/shard $FIX/small.fa
N 1 pt/model.safetensors.index.json:[[:space:]]key[[:space:]]'weight_map'[[:space:]]missing  mkdir -p $TMP/pt && cp $TMP/hf/config.json $TMP/pt/ && printf '{}' > $TMP/pt/model.safetensors.index.json && $LONGSCAN score -m $TMP/pt $FIX/small.fa
N 1 bin:[[:space:]]no[[:space:]]model.safetensors.*pytorch_model.bin[[:space:]]is[[:space:]]not[[:space:]]read  mkdir -p $TMP/bin && cp $TMP/hf/config.json $TMP/bin/ && touch $TMP/bin/pytorch_model.bin && $LONGSCAN score -m $TMP/bin $FIX/small.fa
# a NaN weight in a transformers directory is refused at load like one in a longscan file
P 0 -  cp -r $TMP/hf $TMP/hfnan && $(dirname $LONGSCAN)/tests/helpers/st_tool set $TMP/hfnan/model.safetensors backbone.norm_f.weight 3 nan
N 1 score:[[:space:]].*hfnan:[[:space:]]tensor[[:space:]]'backbone.norm_f.weight':[[:space:]]element[[:space:]]\[3\].*is[[:space:]]nan  $LONGSCAN score -m $TMP/hfnan $FIX/small.fa
