# --pack (docs/models.md "Packed batches") — see test_cli.sh for the format. Each batch's
# sequences laid end to end in rows as long as its longest: the same batches, so training gives
# the padded run's losses and gradient norms, and eval / predict / embed the padded outputs,
# within 1e-5·max(1, |x|) (fp32 rounding of products over other row counts, then %.6g;
# numeric_diff.sh). DNA classifiers (causal, bidirectional with rc), a whole-sequence LM, a
# waveform classifier. Cases run in order in one $TMP.
# bac_small's records are all 1000 bases: record i is cut to 30 + (37·i mod 970) (labels kept)
P 0 ^24$  awk '/^>/ { if (s != "") print substr(s, 1, 30 + (37 * i) % 970); print; i++; s = ""; next } { s = s $0 } END { print substr(s, 1, 30 + (37 * i) % 970) }' $FIX/bac_small.fa > $TMP/var.fa && grep -c '>' $TMP/var.fa
# --- train: the same loss and gradient norm at every step
P 0 -  $LONGSCAN train --task classify --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 4 --batch-size 5 --verbosity 0 --log $TMP/p_a.csv -o $TMP/p_a.safetensors
P 0 -  $LONGSCAN train --task classify --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 4 --batch-size 5 --verbosity 0 --log $TMP/p_b.csv -o $TMP/p_b.safetensors --pack
P 0 ^same[[:space:]]5$  cut -d, -f3,5 $TMP/p_a.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/p_b.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 packed:[[:space:]][0-9]+[[:space:]]positions[[:space:]]run  $LONGSCAN train --task classify --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 2 --batch-size 5 --verbosity 1 --progress plain -o $TMP/p_c.safetensors --pack 2>&1
P 0 -  $LONGSCAN train --task classify --model bimamba --rc-equivariant --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 3 --batch-size 6 --verbosity 0 --log $TMP/p_r.csv -o $TMP/p_r.safetensors
P 0 -  $LONGSCAN train --task classify --model bimamba --rc-equivariant --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 3 --batch-size 6 --verbosity 0 --log $TMP/p_s.csv -o $TMP/p_s.safetensors --pack
P 0 ^same[[:space:]]4$  cut -d, -f3,5 $TMP/p_r.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/p_s.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 -  $LONGSCAN train --task lm --data $TMP/var.fa --d-model 8 --layers 2 --steps 3 --batch-size 4 --verbosity 0 --log $TMP/p_l.csv -o $TMP/p_l.safetensors
P 0 -  $LONGSCAN train --task lm --data $TMP/var.fa --d-model 8 --layers 2 --steps 3 --batch-size 4 --verbosity 0 --log $TMP/p_m.csv -o $TMP/p_m.safetensors --pack
P 0 ^same[[:space:]]4$  cut -d, -f3,5 $TMP/p_l.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/p_m.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 -  $LONGSCAN train --task classify --model bimamba --input waveform --sample-rate 8000 --frame 40 --class a=$EX/audio/morning_coffee_5s.wav --class a=$FIX/audio_cls/tone/t1.wav --class b=$EX/audio/tabla_ke1.flac --d-model 8 --layers 2 --steps 3 --batch-size 3 --verbosity 0 --log $TMP/p_w.csv -o $TMP/p_w.safetensors
P 0 -  $LONGSCAN train --task classify --model bimamba --input waveform --sample-rate 8000 --frame 40 --class a=$EX/audio/morning_coffee_5s.wav --class a=$FIX/audio_cls/tone/t1.wav --class b=$EX/audio/tabla_ke1.flac --d-model 8 --layers 2 --steps 3 --batch-size 3 --verbosity 0 --log $TMP/p_x.csv -o $TMP/p_x.safetensors --pack
P 0 ^same[[:space:]]4$  cut -d, -f3,5 $TMP/p_w.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/p_x.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
# --- eval, predict, embed: the padded outputs
P 0 ^same[[:space:]]25$  $LONGSCAN predict -m $TMP/p_a.safetensors $TMP/var.fa > $TMP/a && $LONGSCAN predict --pack -m $TMP/p_a.safetensors $TMP/var.fa > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same[[:space:]]25$  $LONGSCAN predict --batch-size 7 -m $TMP/p_r.safetensors $TMP/var.fa > $TMP/a && $LONGSCAN predict --batch-size 7 --pack -m $TMP/p_r.safetensors $TMP/var.fa > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same[[:space:]]25$  $LONGSCAN embed --tsv -m $TMP/p_r.safetensors $TMP/var.fa > $TMP/a && $LONGSCAN embed --tsv --pack -m $TMP/p_r.safetensors $TMP/var.fa > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same  $LONGSCAN eval --json -m $TMP/p_a.safetensors --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv | tr ',' '\n' | tr -d '{} "' | tr ':' '\t' > $TMP/a && $LONGSCAN eval --json --pack -m $TMP/p_a.safetensors --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv | tr ',' '\n' | tr -d '{} "' | tr ':' '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same  $LONGSCAN eval --json -m $TMP/p_l.safetensors $TMP/var.fa | tr ',' '\n' | tr -d '{} "' | tr ':' '\t' > $TMP/a && $LONGSCAN eval --json --pack -m $TMP/p_l.safetensors $TMP/var.fa | tr ',' '\n' | tr -d '{} "' | tr ':' '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
P 0 ^same[[:space:]]4$  $LONGSCAN predict -m $TMP/p_w.safetensors $EX/audio/morning_coffee_5s.wav $FIX/audio_cls/tone/t1.wav $EX/audio/tabla_ke1.flac > $TMP/a && $LONGSCAN predict --pack -m $TMP/p_w.safetensors $EX/audio/morning_coffee_5s.wav $FIX/audio_cls/tone/t1.wav $EX/audio/tabla_ke1.flac > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
# --- refused: attention would cross the sequences of a row (one line, nothing written)
P 0 -  $LONGSCAN train --task classify --model transformer --heads 2 --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 1 --batch-size 4 --verbosity 0 -o $TMP/p_t.safetensors
N 1 attention[[:space:]]would[[:space:]]cross[[:space:]]the[[:space:]]sequences  $LONGSCAN predict --pack -m $TMP/p_t.safetensors $TMP/var.fa
N 1 attention[[:space:]]would[[:space:]]cross[[:space:]]the[[:space:]]sequences  $LONGSCAN train --task classify --model transformer --heads 2 --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 1 --batch-size 4 --verbosity 0 -o $TMP/p_u.safetensors --pack
P 0 ^nothing[[:space:]]written$  test ! -e $TMP/p_u.safetensors && echo nothing written
# --- random batches (--no-bucket): several sequences share each packed row; the same losses
P 0 -  $LONGSCAN train --task classify --model bimamba --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 4 --batch-size 8 --no-bucket --verbosity 0 --log $TMP/p_n.csv -o $TMP/p_n.safetensors
P 0 -  $LONGSCAN train --task classify --model bimamba --data $TMP/var.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 4 --batch-size 8 --no-bucket --pack --verbosity 0 --log $TMP/p_o.csv -o $TMP/p_o.safetensors
P 0 ^same[[:space:]]5$  cut -d, -f3,5 $TMP/p_n.csv | tr , '\t' > $TMP/a && cut -d, -f3,5 $TMP/p_o.csv | tr , '\t' > $TMP/b && bash $EX/../../tests/cli/numeric_diff.sh $TMP/a $TMP/b 1e-5
N 2 --pack[[:space:]]does[[:space:]]not[[:space:]]apply  $LONGSCAN embed --tsv --stream --pack -m $TMP/p_r.safetensors $TMP/var.fa
