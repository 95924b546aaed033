# synthetic tasks as data (--data synth:TASK,...; docs/synth.md) — see test_cli.sh for the format.
# Cases run in order in one $TMP, so later ones use earlier models.
#
# --- spec errors: one line naming the key, exit 2, nothing written
N 2 synth:foo,len=8:[[:space:]]unknown[[:space:]]task[[:space:]]'foo'  $LONGSCAN train --task lm --data synth:foo,len=8 -o $TMP/x.safetensors
N 2 missing[[:space:]]key[[:space:]]'pairs'[[:space:]]\(mqar[[:space:]]needs[[:space:]]len,[[:space:]]pairs,[[:space:]]vocab[[:space:]]and[[:space:]]n\)  $LONGSCAN train --task lm --data synth:mqar,len=256,vocab=8192,n=10 -o $TMP/x.safetensors
N 2 key[[:space:]]'pairs':[[:space:]]16[[:space:]]pairs[[:space:]]do[[:space:]]not[[:space:]]fit[[:space:]]in[[:space:]]len=32  $LONGSCAN train --task lm --data synth:mqar,len=32,pairs=16,vocab=8192,n=10 -o $TMP/x.safetensors
N 2 key[[:space:]]'vocab':[[:space:]]20[[:space:]]is[[:space:]]too[[:space:]]small  $LONGSCAN train --task lm --data synth:mqar,len=256,pairs=16,vocab=20,n=10 -o $TMP/x.safetensors
N 2 key[[:space:]]'vocab':[[:space:]]2[[:space:]]is[[:space:]]too[[:space:]]small[[:space:]]for[[:space:]]induction  $LONGSCAN train --task lm --data synth:induction,len=64,vocab=2,n=10 -o $TMP/x.safetensors
N 2 unknown[[:space:]]key[[:space:]]'colour'[[:space:]]for[[:space:]]recall  $LONGSCAN train --task lm --data synth:recall,len=64,vocab=8,n=10,colour=red -o $TMP/x.safetensors
N 2 key[[:space:]]'n':[[:space:]]0[[:space:]]is[[:space:]]out[[:space:]]of[[:space:]]range  $LONGSCAN train --task lm --data synth:copy,len=64,vocab=8,n=0 -o $TMP/x.safetensors
N 2 key[[:space:]]'len':[[:space:]]'1e9'[[:space:]]is[[:space:]]not[[:space:]]an[[:space:]]integer  $LONGSCAN train --task lm --data synth:copy,len=1e9,vocab=8,n=3 -o $TMP/x.safetensors
N 2 key[[:space:]]'tokens':[[:space:]]9[[:space:]]tokens[[:space:]]do[[:space:]]not[[:space:]]fit  $LONGSCAN train --task lm --data synth:selective-copy,len=18,tokens=9,vocab=8,n=3 -o $TMP/x.safetensors
N 2 --valid:[[:space:]]synth:recall.*key[[:space:]]'distance':[[:space:]]70[[:space:]]does[[:space:]]not[[:space:]]fit  $LONGSCAN train --task lm --data synth:recall,len=64,vocab=8,n=3 --valid synth:recall,len=64,vocab=8,n=3,distance=70 -o $TMP/x.safetensors
N 2 --task[[:space:]]classify:[[:space:]]synthetic[[:space:]]tasks  $LONGSCAN train --data synth:recall,len=64,vocab=8,n=3 -o $TMP/x.safetensors
N 2 synthetic[[:space:]]tokens[[:space:]]data,[[:space:]]but[[:space:]]the[[:space:]]dataset[[:space:]]already[[:space:]]holds[[:space:]]DNA  $LONGSCAN train --task lm --data $EX/dna/bacteria_test.fa.gz --data synth:recall,len=64,vocab=8,n=3 -o $TMP/x.safetensors
N 2 key[[:space:]]'vocab':[[:space:]]larger[[:space:]]than[[:space:]]the[[:space:]]training[[:space:]]data's[[:space:]]vocab=8  $LONGSCAN train --task lm --data synth:recall,len=64,vocab=8,n=3 --valid synth:recall,len=64,vocab=9,n=3 -o $TMP/x.safetensors
P 0 ^absent$  test -e $TMP/x.safetensors || echo absent
# --- train, eval, predict on a task: a small Transformer on MQAR (a few seconds)
P 0 -  $LONGSCAN train --task lm --model transformer --data synth:mqar,len=32,pairs=4,vocab=300,n=64,seed=1 --valid synth:mqar,len=32,pairs=4,vocab=300,n=16,seed=2 --d-model 16 --layers 1 --heads 2 --steps 6 --batch-size 16 --verbosity 0 --log $TMP/mq.csv -o $TMP/mq.safetensors
P 0 data[[:space:]]=[[:space:]]\{"kind":"synth"\}  $LONGSCAN info $TMP/mq.safetensors
P 0 "vocab":300,  $LONGSCAN info $TMP/mq.safetensors
P 0 ^6,[0-9]+,[0-9.]+,.*,[0-9.]+,(0|1)\.[0-9]+,,,[0-9.]+,([0-9.]+)?$  cat $TMP/mq.csv
P 0 "task":"lm","n":50,.*"tokens":200,.*"accuracy":(0|1)[.,}]  $LONGSCAN eval -m $TMP/mq.safetensors --data synth:mqar,len=32,pairs=4,vocab=300,n=50,seed=3 --json
P 0 ^accuracy[[:space:]]+[01]\.[0-9]{4}  $LONGSCAN eval -m $TMP/mq.safetensors synth:mqar,len=32,pairs=4,vocab=300,n=50,seed=3
P 0 ^name.position.target.predicted.p\(predicted\).correct$  $LONGSCAN predict -m $TMP/mq.safetensors synth:mqar,len=32,pairs=4,vocab=300,n=5,seed=3
P 0 ^mqar_s3_4.(9|1[13579]|2[13579]|3[1]).(1[5-9][0-9]|2[0-9][0-9]).[0-9]+.[01]\.[0-9]{6}.[01]$  $LONGSCAN predict -m $TMP/mq.safetensors synth:mqar,len=32,pairs=4,vocab=300,n=5,seed=3
P 0 ^21[[:space:]]20$  $LONGSCAN predict -m $TMP/mq.safetensors synth:mqar,len=32,pairs=4,vocab=300,n=5,seed=3 | awk 'END { print NR, NR - 1 }'
N 2 key[[:space:]]'n':[[:space:]]99999999999[[:space:]]is[[:space:]]out[[:space:]]of[[:space:]]range  $LONGSCAN eval -m $TMP/mq.safetensors --data synth:copy,len=64,vocab=8,n=99999999999
N 2 key[[:space:]]'vocab':[[:space:]]larger[[:space:]]than[[:space:]]the[[:space:]]vocabulary[[:space:]]of[[:space:]]300  $LONGSCAN eval -m $TMP/mq.safetensors --data synth:mqar,len=32,pairs=4,vocab=301,n=5
N 2 trained[[:space:]]on[[:space:]]synthetic[[:space:]]tokens,[[:space:]]but[[:space:]]the[[:space:]]input[[:space:]]holds[[:space:]]DNA  $LONGSCAN eval -m $TMP/mq.safetensors --data $EX/dna/bacteria_test.fa.gz
P 0 ^mqar_s3_0[[:space:]]  $LONGSCAN score -m $TMP/mq.safetensors synth:mqar,len=32,pairs=4,vocab=300,n=1,seed=3
P 0 ^31$  $LONGSCAN score -m $TMP/mq.safetensors synth:mqar,len=32,pairs=4,vocab=300,n=1,seed=3 | wc -l
# the same spec gives the same examples: two evaluations (1 and 2 threads) agree to the last
# digit; another seed gives other examples
P 0 ^same$  a=$($LONGSCAN eval -m $TMP/mq.safetensors synth:recall,len=40,vocab=300,n=20,seed=5 --json --threads 1) && b=$($LONGSCAN eval -m $TMP/mq.safetensors synth:recall,len=40,vocab=300,n=20,seed=5 --json --threads 2) && [ "$a" = "$b" ] && echo same
P 0 ^differ$  a=$($LONGSCAN eval -m $TMP/mq.safetensors synth:recall,len=40,vocab=300,n=20,seed=5 --json) && b=$($LONGSCAN eval -m $TMP/mq.safetensors synth:recall,len=40,vocab=300,n=20,seed=6 --json) && [ "$a" != "$b" ] && echo differ
