# --seq-slices G (docs/parallel.md "The model") — see test_cli.sh for the format. Every
# sequence cut into G slices, run as G devices would (the in-process exchange): training gives
# the unsliced run's losses and gradient norms, and eval / predict / embed its outputs, within
# 1e-5·max(1, |x|) (the combine reassociates the scan's recurrence: fp32 rounding, then %.6g;
# numeric_diff.sh). Causal DNA classifier, bidirectional with rc, a DNA LM, a waveform
# classifier; L not divisible by G. Cases run in order in one $TMP.
# bac_small's records are all 1000 bases: record i is cut to 30 + (37·i mod 970) (labels kept)
P 0 ^24$  awk '/^>/ { if (s != "") print substr(s, 1, 30 + (37 * i) % 970); print; i++; s = ""; next } { s = s $0 } END { print substr(s, 1, 30 + (37 * i) % 970) }' $FIX/bac_small.fa > $TMP/var.fa && grep -c '>' $TMP/var.fa
# --- train: the same loss and gradient norm at every step
P 0 -  $LONGSCAN train --task classify --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 4 --batch-size 5 --verbosity 0 --log $TMP/s_a.csv -o $TMP/s_a.safetensors
P 0 -  $LONGSCAN train --task classify --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 4 --batch-size 5 --verbosity 0 --log $TMP/s_b.csv -o $TMP/s_b.safetensors --seq-slices 3
P 0 ^same[[:space:]]5$  cut -d, -f3,5 $TMP/s_a.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/s_b.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 -  $LONGSCAN train --task classify --model bimamba --rc-equivariant --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 3 --batch-size 6 --verbosity 0 --log $TMP/s_r.csv -o $TMP/s_r.safetensors
P 0 -  $LONGSCAN train --task classify --model bimamba --rc-equivariant --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 3 --batch-size 6 --verbosity 0 --log $TMP/s_s.csv -o $TMP/s_s.safetensors --seq-slices 7
P 0 ^same[[:space:]]4$  cut -d, -f3,5 $TMP/s_r.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/s_s.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 -  $LONGSCAN train --task lm --data $TMP/var.fa --d-model 8 --layers 2 --steps 3 --batch-size 4 --verbosity 0 --log $TMP/s_l.csv -o $TMP/s_l.safetensors
P 0 -  $LONGSCAN train --task lm --data $TMP/var.fa --d-model 8 --layers 2 --steps 3 --batch-size 4 --verbosity 0 --log $TMP/s_m.csv -o $TMP/s_m.safetensors --seq-slices 3 --pack
P 0 ^same[[:space:]]4$  cut -d, -f3,5 $TMP/s_l.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/s_m.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 -  $LONGSCAN train --task classify --model bimamba --input waveform --sample-rate 8000 --frame 40 --class a=$EX/audio/morning_coffee_5s.wav --class a=$FIX/audio_cls/tone/t1.wav --class b=$EX/audio/tabla_ke1.flac --d-model 8 --layers 2 --steps 3 --batch-size 3 --verbosity 0 --log $TMP/s_w.csv -o $TMP/s_w.safetensors
P 0 -  $LONGSCAN train --task classify --model bimamba --input waveform --sample-rate 8000 --frame 40 --class a=$EX/audio/morning_coffee_5s.wav --class a=$FIX/audio_cls/tone/t1.wav --class b=$EX/audio/tabla_ke1.flac --d-model 8 --layers 2 --steps 3 --batch-size 3 --verbosity 0 --log $TMP/s_x.csv -o $TMP/s_x.safetensors --seq-slices 3
P 0 ^same[[:space:]]4$  cut -d, -f3,5 $TMP/s_w.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/s_x.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
# --- eval, predict, embed: the unsliced outputs
P 0 ^same[[:space:]]25$  $LONGSCAN predict -m $TMP/s_a.safetensors $TMP/var.fa > $TMP/a && $LONGSCAN predict --seq-slices 3 -m $TMP/s_a.safetensors $TMP/var.fa > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same[[:space:]]25$  $LONGSCAN embed --tsv -m $TMP/s_r.safetensors $TMP/var.fa > $TMP/a && $LONGSCAN embed --tsv --seq-slices 2 -m $TMP/s_r.safetensors $TMP/var.fa > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same  $LONGSCAN eval --json -m $TMP/s_l.safetensors $TMP/var.fa | tr ',' '\n' | tr -d '{} "' | tr ':' '\t' > $TMP/a && $LONGSCAN eval --json --seq-slices 7 -m $TMP/s_l.safetensors $TMP/var.fa | tr ',' '\n' | tr -d '{} "' | tr ':' '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
# --- refused, one line each
N 2 --seq-slices[[:space:]]0:[[:space:]]  $LONGSCAN predict --seq-slices 0 -m $TMP/s_a.safetensors $TMP/var.fa
N 2 --seq-slices[[:space:]]400:[[:space:]]a[[:space:]]batch[[:space:]]of[[:space:]][0-9]+[[:space:]]positions  $LONGSCAN predict --batch-size 1 --seq-slices 400 -m $TMP/s_a.safetensors $TMP/var.fa
P 0 -  $LONGSCAN train --task classify --model transformer --heads 2 --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 1 --batch-size 4 --verbosity 0 -o $TMP/s_t.safetensors
N 1 --seq-slices[[:space:]]2:[[:space:]]a[[:space:]]transformer[[:space:]]model[[:space:]]has[[:space:]]attention  $LONGSCAN predict --seq-slices 2 -m $TMP/s_t.safetensors $TMP/var.fa
N 1 --seq-slices[[:space:]]3:[[:space:]]a[[:space:]]hybrid[[:space:]]model  $LONGSCAN train --task classify --model hybrid --heads 2 --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 1 --batch-size 4 --verbosity 0 -o $TMP/s_u.safetensors --seq-slices 3
P 0 ^nothing[[:space:]]written$  test ! -e $TMP/s_u.safetensors && echo nothing written
