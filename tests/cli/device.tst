# --device and --precision (issue 12). This table runs in `make test`, on machines without a
# GPU (CI) or on CPU-only builds: asking for the GPU is one error line, exit 1, and nothing
# is written; bf16 needs a GPU; auto falls back to the CPU and says so in the config table.
N 1 --device[[:space:]]cuda:[[:space:]](no[[:space:]]GPU[[:space:]]is[[:space:]]visible|this[[:space:]]longscan[[:space:]]was[[:space:]]built[[:space:]]without[[:space:]]CUDA)  $LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --d-model 8 --layers 1 --steps 1 --device cuda -o $TMP/gpu.safetensors
P 0 ^nothing$                                        ($LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --d-model 8 --layers 1 --steps 1 --device cuda:1 -o $TMP/gpu1.safetensors 2>/dev/null; test $? = 1) && (ls $TMP | grep -q gpu1 || echo nothing)
N 2 --precision[[:space:]]bf16:[[:space:]]the[[:space:]]CPU  $LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --d-model 8 --layers 1 --steps 1 --device cpu --precision bf16 -o $TMP/bf.safetensors
N 2 --precision[[:space:]]fp16:[[:space:]]expected  $LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --d-model 8 --layers 1 --steps 1 --precision fp16 -o $TMP/bf.safetensors
N 2 --device[[:space:]]gpu:[[:space:]]expected[[:space:]]auto  $LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --steps 1 --device gpu -o $TMP/x.safetensors
P 0 device[[:space:]]+\|[[:space:]]cpu[[:space:]]\(auto:[[:space:]]no[[:space:]]GPU[[:space:]]visible\)  $LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --d-model 8 --layers 1 --steps 1 --progress plain -o $TMP/auto.safetensors 2>&1
P 0 precision[[:space:]]+\|[[:space:]]fp32         $LONGSCAN train --data $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv --d-model 8 --layers 1 --steps 1 --progress plain --precision fp32 --device auto -o $TMP/auto32.safetensors 2>&1
# every command that runs a model parses and checks them before any work (the model above)
N 1 --device[[:space:]]cuda:[[:space:]]no[[:space:]]GPU|built[[:space:]]without[[:space:]]CUDA  $LONGSCAN eval --device cuda -m $TMP/auto.safetensors $EX/dna/bacteria_test.fa.gz --labels $EX/dna/bacteria_test.labels.tsv
N 2 --precision[[:space:]]bf16                      $LONGSCAN predict --precision bf16 -m $TMP/auto.safetensors $EX/dna/bacteria_test.fa.gz
N 1 --device[[:space:]]cuda:[[:space:]]no[[:space:]]GPU|built[[:space:]]without[[:space:]]CUDA  $LONGSCAN embed --device cuda:0 -m $TMP/auto.safetensors $EX/dna/bacteria_test.fa.gz -o $TMP/e.tsv
N 1 --device[[:space:]]cuda:[[:space:]]no[[:space:]]GPU|built[[:space:]]without[[:space:]]CUDA  $LONGSCAN score --device cuda -m $TMP/auto.safetensors $EX/dna/bacteria_test.fa.gz
N 2 --precision[[:space:]]bf16                      $LONGSCAN resume $TMP/auto.safetensors --precision bf16 --device cpu
P 0 -                                                test ! -e $TMP/e.tsv
