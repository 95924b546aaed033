# score --stream and embed --stream — see test_cli.sh for the format. A record read a piece at a
# time (--segment) with the model's state carried from piece to piece gives what one pass gives:
# the same lines, numbers within 1.5e-5·max(1, |x|) (fp32 rounding of products of another
# number of rows, then %.6g; numeric_diff.sh). Indexed FASTA (piece by piece), plain gzip
# (a record at a time), regions, audio; Mamba, hybrid and Transformer LMs; bidirectional Mamba
# layer by layer, in memory and through its temporary file. Cases run in order in one $TMP.
P 0 -  $LONGSCAN train --task lm --data $FIX/bac_small.fa --d-model 8 --layers 2 --steps 3 --seq-len 100 --batch-size 2 --verbosity 0 -o $TMP/s_dlm.safetensors
P 0 -  $LONGSCAN train --task lm --model hybrid --layers 3 --attn-every 3 --heads 2 --data $FIX/bac_small.fa --d-model 8 --steps 3 --seq-len 100 --batch-size 2 --verbosity 0 -o $TMP/s_hlm.safetensors
P 0 -  $LONGSCAN train --task lm --model transformer --window 32768 --heads 2 --layers 2 --data $FIX/bac_small.fa --d-model 8 --steps 3 --seq-len 100 --batch-size 2 --verbosity 0 -o $TMP/s_tlm.safetensors
P 0 -  $LONGSCAN train --task classify --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 2 --batch-size 4 --verbosity 0 -o $TMP/s_bcl.safetensors
P 0 -  $LONGSCAN train --task classify --rc-equivariant --pool last --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 2 --steps 2 --batch-size 4 --verbosity 0 -o $TMP/s_rcl.safetensors
P 0 -  $LONGSCAN train --task classify --model transformer --heads 2 --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 2 --batch-size 4 --verbosity 0 -o $TMP/s_tcl.safetensors
P 0 -  $LONGSCAN train --task lm --data $EX/audio/morning_coffee_5s.wav --seq-len 256 --d-model 16 --layers 2 --steps 3 --batch-size 2 --verbosity 0 -o $TMP/s_alm.safetensors
# --- score: bedGraph per base, indexed bgzip FASTA (piece by piece) and plain gzip (whole records)
P 0 ^same[[:space:]]79996$  $LONGSCAN score -m $TMP/s_dlm.safetensors $FIX/apes.fa.gz > $TMP/s1 && $LONGSCAN score -m $TMP/s_dlm.safetensors --stream --segment 1000 $FIX/apes.fa.gz > $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
P 0 ^same[[:space:]]160$  $LONGSCAN score -m $TMP/s_dlm.safetensors --bin 500 --bits $FIX/apes_plain.fa.gz > $TMP/s1 && $LONGSCAN score -m $TMP/s_dlm.safetensors --stream --segment 777 --bin 500 --bits $FIX/apes_plain.fa.gz > $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
P 0 ^same[[:space:]]4899$  $LONGSCAN score -m $TMP/s_dlm.safetensors $FIX/apes.fa:ptro.dev.slice:101-5000 > $TMP/s1 && $LONGSCAN score -m $TMP/s_dlm.safetensors --stream --segment 333 $FIX/apes.fa:ptro.dev.slice:101-5000 -o $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
P 0 ^ptro.dev.slice[[:space:]]101[[:space:]]102[[:space:]]  head -1 $TMP/s2
P 0 ^same[[:space:]]25$  $LONGSCAN score -m $TMP/s_dlm.safetensors --tsv --vocab-logprobs $FIX/small.fa > $TMP/s1 && $LONGSCAN score -m $TMP/s_dlm.safetensors --stream --segment 3 --tsv --vocab-logprobs $FIX/small.fa > $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
P 0 ^same[[:space:]]79996$  $LONGSCAN score -m $TMP/s_hlm.safetensors $FIX/apes.fa.gz > $TMP/s1 && $LONGSCAN score -m $TMP/s_hlm.safetensors --stream --segment 777 $FIX/apes.fa.gz > $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
P 0 ^same[[:space:]]79996$  $LONGSCAN score -m $TMP/s_tlm.safetensors $FIX/apes.fa.gz > $TMP/s1 && $LONGSCAN score -m $TMP/s_tlm.safetensors --stream --segment 5000 $FIX/apes.fa.gz > $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
P 0 ^same[[:space:]]39999$  $LONGSCAN score -m $TMP/s_alm.safetensors $EX/audio/morning_coffee_5s.wav > $TMP/s1 && $LONGSCAN score -m $TMP/s_alm.safetensors --stream --segment 4096 $EX/audio/morning_coffee_5s.wav > $TMP/s2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/s1 $TMP/s2 1.5e-5
# the hybrid's key/value cache: one attention layer of d_model 8, 64 bytes per position, held
# for the longest record (20000 positions)
P 0 key/value[[:space:]]cache[[:space:]]1280000[[:space:]]bytes  $LONGSCAN score -m $TMP/s_hlm.safetensors --stream --verbosity 2 $FIX/apes.fa.gz 2>&1 >/dev/null
# --- embed: one pass vs pieces; causal Mamba (pooled state), bidirectional Mamba layer by layer
P 0 ^same[[:space:]]5$  $LONGSCAN embed --tsv -m $TMP/s_dlm.safetensors $FIX/apes.fa.gz > $TMP/e1 && $LONGSCAN embed --tsv --stream --segment 3000 -m $TMP/s_dlm.safetensors $FIX/apes.fa.gz > $TMP/e2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/e1 $TMP/e2 1e-5
P 0 ^same[[:space:]]5$  $LONGSCAN embed --tsv -m $TMP/s_bcl.safetensors $FIX/apes.fa.gz > $TMP/e1 && $LONGSCAN embed --tsv --stream --segment 3000 -m $TMP/s_bcl.safetensors $FIX/apes.fa.gz > $TMP/e2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/e1 $TMP/e2 1e-5
P 0 layer[[:space:]]outputs[[:space:]]in[[:space:]]a[[:space:]]temporary[[:space:]]file  mkdir -p $TMP/lw && $LONGSCAN embed --tsv --stream --segment 3000 --host-memory 0 --tmp-dir $TMP/lw -m $TMP/s_bcl.safetensors $FIX/apes.fa.gz -o $TMP/e3 --verbosity 2 2>&1
P 0 ^same[[:space:]]5$  bash $EX/../../tests/cli/numeric_diff.sh $TMP/e1 $TMP/e3 1e-5
P 0 ^0$  ls -A $TMP/lw | wc -l
P 0 ^same[[:space:]]5$  $LONGSCAN embed --tsv -m $TMP/s_rcl.safetensors $FIX/apes.fa.gz > $TMP/e1 && $LONGSCAN embed --tsv --stream --segment 7000 --host-memory 100k -m $TMP/s_rcl.safetensors $FIX/apes.fa.gz > $TMP/e2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/e1 $TMP/e2 1e-5
P 0 ^same[[:space:]]5$  $LONGSCAN embed --tsv -m $TMP/s_hlm.safetensors $FIX/apes.fa.gz > $TMP/e1 && $LONGSCAN embed --tsv --stream --segment 3000 -m $TMP/s_hlm.safetensors $FIX/apes.fa.gz > $TMP/e2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/e1 $TMP/e2 1e-5
P 0 embeddings[[:space:]]+F32[[:space:]]+\[4,[[:space:]]8\]  $LONGSCAN embed --stream -m $TMP/s_bcl.safetensors $FIX/apes.fa.gz -o $TMP/e.safetensors && $LONGSCAN info $TMP/e.safetensors
# a causal waveform classifier: pieces of whole frames (--segment 1000 → 960 samples = 12 frames
# of 80); tabla_ke1.flac is at 44.1 kHz, resampled whole to the model's 8 kHz first
P 0 -  $LONGSCAN train --task classify --model mamba --input waveform --sample-rate 8000 --class a=$EX/audio/morning_coffee_5s.wav --class b=$EX/audio/tabla_ke1.flac --d-model 8 --layers 2 --steps 2 --batch-size 2 --verbosity 0 -o $TMP/s_wcl.safetensors
P 0 ^same[[:space:]]3$  $LONGSCAN embed --tsv -m $TMP/s_wcl.safetensors $EX/audio/morning_coffee_5s.wav $EX/audio/tabla_ke1.flac > $TMP/e1 && $LONGSCAN embed --tsv --stream --segment 1000 -m $TMP/s_wcl.safetensors $EX/audio/morning_coffee_5s.wav $EX/audio/tabla_ke1.flac > $TMP/e2 && bash $EX/../../tests/cli/numeric_diff.sh $TMP/e1 $TMP/e2 1e-5
# --- refused: one line
N 2 --segment[[:space:]]needs[[:space:]]--stream  $LONGSCAN score -m $TMP/s_dlm.safetensors --segment 100 $FIX/small.fa
N 2 --batch-size[[:space:]]and[[:space:]]--max-tokens[[:space:]]do[[:space:]]not[[:space:]]apply  $LONGSCAN score -m $TMP/s_dlm.safetensors --stream --batch-size 4 $FIX/small.fa
N 2 --tmp-dir[[:space:]]needs[[:space:]]--stream  $LONGSCAN embed --tsv -m $TMP/s_bcl.safetensors --tmp-dir $TMP $FIX/small.fa
N 2 --seq-len.*do[[:space:]]not[[:space:]]apply  $LONGSCAN embed --tsv --stream --seq-len 100 -m $TMP/s_bcl.safetensors $FIX/small.fa
N 2 --host-memory[[:space:]]4X:  $LONGSCAN embed --tsv --stream --host-memory 4X -m $TMP/s_bcl.safetensors $FIX/small.fa
N 1 bidirectional[[:space:]]attention[[:space:]]cannot[[:space:]]stream  $LONGSCAN embed --tsv --stream -m $TMP/s_tcl.safetensors $FIX/small.fa
N 1 no_such_dir.*cannot[[:space:]]create[[:space:]]a[[:space:]]temporary[[:space:]]file  $LONGSCAN embed --tsv --stream --host-memory 0 --tmp-dir $TMP/no_such_dir -m $TMP/s_bcl.safetensors $FIX/small.fa
N 1 bac_small.fa:.*region.*needs[[:space:]]the[[:space:]]index  $LONGSCAN score -m $TMP/s_dlm.safetensors --stream $FIX/bac_small.fa:ecoli_001:1-100
N 1 g.fa:[[:space:]]record[[:space:]]'r2':[[:space:]]base[[:space:]]4:[[:space:]]unexpected[[:space:]]byte[[:space:]]0x21  cp $FIX/garbage.fa $TMP/g.fa && samtools faidx $TMP/g.fa && $LONGSCAN score -m $TMP/s_dlm.safetensors --stream $TMP/g.fa -o $TMP/g.bedGraph
P 0 ^nothing[[:space:]]written$  test ! -e $TMP/g.bedGraph && ls -a $TMP | grep -c longscan- | grep -q '^0$' && echo nothing written
