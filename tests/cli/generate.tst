# longscan generate — see test_cli.sh for the format. Cases run in order in one $TMP, so later
# ones use the models the first ones train (tiny, a few steps: what is tested is the command,
# not the quality of the audio). Same seed → same bytes (cmp); K files for --batch K.
#
# --- an audio LM (8 kHz µ-law codes) and a DNA LM
P 0 -  $LONGSCAN train --task lm --data $EX/audio/morning_coffee_5s.wav --seq-len 256 --d-model 16 --layers 2 --steps 3 --batch-size 2 --verbosity 0 -o $TMP/alm.safetensors
P 0 -  $LONGSCAN train --task lm --audio-codes linear8 --data $EX/audio/morning_coffee_5s.wav --seq-len 256 --d-model 16 --layers 2 --steps 3 --batch-size 2 --verbosity 0 -o $TMP/alm_lin.safetensors
P 0 -  $LONGSCAN train --task lm --data $FIX/bac_small.fa --d-model 8 --layers 2 --steps 3 --seq-len 100 --batch-size 2 --verbosity 0 -o $TMP/dlm.safetensors
P 0 -  $LONGSCAN train --task classify --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 2 --verbosity 0 -o $TMP/cls.safetensors
# --- audio: frames = seconds x rate, the same seed gives the same file, another seed another
P 0 frames[[:space:]]+4,000$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.5 -o $TMP/a.wav && $LONGSCAN info $TMP/a.wav
P 0 sample[[:space:]]rate[[:space:]]+8000[[:space:]]Hz  $LONGSCAN info $TMP/a.wav
P 0 ^same$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.5 -o $TMP/b.wav && cmp $TMP/a.wav $TMP/b.wav && echo same
P 0 ^same$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.5 --threads 1 -o $TMP/b1.wav && cmp $TMP/a.wav $TMP/b1.wav && echo same
P 0 ^differ$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.5 --seed 2 -o $TMP/c.wav && { cmp -s $TMP/a.wav $TMP/c.wav || echo differ; }
P 0 ^same$  $LONGSCAN generate -m $TMP/alm.safetensors --length 4000 -o $TMP/d.wav && cmp $TMP/a.wav $TMP/d.wav && echo same
P 0 ^same$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.5 --temperature 0 -o $TMP/g1.wav && $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.5 --temperature 0 --seed 9 -o $TMP/g2.wav && cmp $TMP/g1.wav $TMP/g2.wav && echo same
P 0 ^same$  $LONGSCAN generate -m $TMP/alm_lin.safetensors --seconds 0.25 --top-p 0.9 -o $TMP/l1.flac && $LONGSCAN generate -m $TMP/alm_lin.safetensors --seconds 0.25 --top-p 0.9 -o $TMP/l2.flac && cmp $TMP/l1.flac $TMP/l2.flac && echo same
P 0 FLAC.*PCM_16  $LONGSCAN info $TMP/l1.flac
# --batch K: K files OUT.1.wav .. OUT.K.wav, each with the frames asked for; generation 1 of 3 is
# not the single generation of another seed stream, and files differ from each other
P 0 ^3[[:space:]]files$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --batch 3 -o $TMP/k.wav && ls $TMP/k.1.wav $TMP/k.2.wav $TMP/k.3.wav | wc -l | sed 's/$/ files/' && test ! -e $TMP/k.wav
P 0 frames[[:space:]]+2,000$  $LONGSCAN info $TMP/k.3.wav
P 0 ^differ$  cmp -s $TMP/k.1.wav $TMP/k.2.wav || echo differ
P 0 ^same$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --batch 3 -o $TMP/k2.wav && cmp $TMP/k.2.wav $TMP/k2.2.wav && echo same
# a prompt: kept, the output is prompt + generated; at another rate only with --resample-prompt
P 0 frames[[:space:]]+42,000$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --prompt $EX/audio/morning_coffee_5s.wav --keep-prompt -o $TMP/p.wav && $LONGSCAN info $TMP/p.wav
P 0 frames[[:space:]]+2,000$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --prompt $EX/audio/morning_coffee_5s.wav -o $TMP/p2.wav && $LONGSCAN info $TMP/p2.wav
N 1 tabla_ke1.flac:[[:space:]]sample[[:space:]]rate[[:space:]]44100[[:space:]]Hz.*--resample-prompt  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --prompt $EX/audio/tabla_ke1.flac -o $TMP/r.wav
P 0 ^nothing[[:space:]]written$  test ! -e $TMP/r.wav && ls -a $TMP | grep -c longscan- | grep -q '^0$' && echo nothing written
P 0 frames[[:space:]]+2,000$  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --prompt $EX/audio/tabla_ke1.flac --resample-prompt -o $TMP/r.wav && $LONGSCAN info $TMP/r.wav
# --rate: written at another rate, resampled from the model's
P 0 sample[[:space:]]rate[[:space:]]+16000[[:space:]]Hz  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 0.25 --rate 16000 -o $TMP/r16.wav && $LONGSCAN info $TMP/r16.wav
P 0 frames[[:space:]]+4,000$  $LONGSCAN info $TMP/r16.wav
# --- DNA: FASTA, one record per generation, --length bases each
P 0 ^2[[:space:]]130$  $LONGSCAN generate -m $TMP/dlm.safetensors --length 130 --batch 2 -o - | awk '/^>/ { n++; next } { b += length($0) } END { print n, b / n }'
P 0 ^>generated.2$  $LONGSCAN generate -m $TMP/dlm.safetensors --length 130 --batch 2 -o $TMP/g.fa && cat $TMP/g.fa
P 0 ^[ACGTN]{60}$  cat $TMP/g.fa
P 0 ^same$  $LONGSCAN generate -m $TMP/dlm.safetensors --length 130 --batch 2 -o $TMP/g2.fa && cmp $TMP/g.fa $TMP/g2.fa && echo same
P 0 bases[[:space:]]+20,002[[:space:]]total  $LONGSCAN generate -m $TMP/dlm.safetensors --length 2 --prompt $EX/dna/apes_chr22_dev_slice.fa.gz --keep-prompt -o $TMP/gp.fa && $LONGSCAN info $TMP/gp.fa
# --- Transformer (window 64: a sliding window past it) and hybrid LMs: key/value caches, whose
# size per token the verbose output states (2 x d_model floats per attention layer)
P 0 -  $LONGSCAN train --task lm --model transformer --window 64 --heads 2 --data $EX/audio/morning_coffee_5s.wav --seq-len 64 --d-model 16 --layers 2 --steps 3 --batch-size 2 --verbosity 0 -o $TMP/tlm.safetensors
P 0 -  $LONGSCAN train --task lm --model hybrid --layers 3 --attn-every 3 --heads 2 --data $EX/audio/morning_coffee_5s.wav --seq-len 256 --d-model 16 --steps 3 --batch-size 2 --verbosity 0 -o $TMP/hlm.safetensors
P 0 frames[[:space:]]+800$  $LONGSCAN generate -m $TMP/tlm.safetensors --seconds 0.1 --prompt $EX/audio/morning_coffee_5s.wav -o $TMP/t.wav && $LONGSCAN info $TMP/t.wav
P 0 ^same$  $LONGSCAN generate -m $TMP/tlm.safetensors --seconds 0.1 --prompt $EX/audio/morning_coffee_5s.wav -o $TMP/t2.wav && cmp $TMP/t.wav $TMP/t2.wav && echo same
P 0 key/value[[:space:]]cache:[[:space:]]256[[:space:]]bytes[[:space:]]per[[:space:]]token.*2[[:space:]]of[[:space:]]2[[:space:]]layers  $LONGSCAN generate -m $TMP/tlm.safetensors --length 100 -o $TMP/t3.wav --verbosity 2 2>&1
P 0 ^same$  $LONGSCAN generate -m $TMP/hlm.safetensors --seconds 0.1 --batch 2 -o $TMP/h.wav && $LONGSCAN generate -m $TMP/hlm.safetensors --seconds 0.1 --batch 2 -o $TMP/h2.wav && cmp $TMP/h.2.wav $TMP/h2.2.wav && echo same
P 0 key/value[[:space:]]cache:[[:space:]]128[[:space:]]bytes[[:space:]]per[[:space:]]token.*1[[:space:]]of[[:space:]]3[[:space:]]layers  $LONGSCAN generate -m $TMP/hlm.safetensors --length 100 -o $TMP/h3.wav --verbosity 2 2>&1
# reserved for the whole context: 1 seed token + 99 generated = 100 positions x 128 bytes
P 0 key/value[[:space:]]cache[[:space:]]allocated:[[:space:]]12800[[:space:]]bytes.*holding[[:space:]]99[[:space:]]tokens[[:space:]]of[[:space:]]context[[:space:]]x[[:space:]]1;  $LONGSCAN generate -m $TMP/hlm.safetensors --length 100 -o $TMP/h3.wav --verbosity 2 2>&1
P 0 key/value[[:space:]]cache:[[:space:]]0[[:space:]]bytes  $LONGSCAN generate -m $TMP/alm.safetensors --length 100 -o $TMP/m3.wav --verbosity 2 2>&1
# --- refused: one line, nothing written
# an output whose key/value cache (or DNA record) the memory cannot hold fails before the first token
N 1 key/value[[:space:]]cache:[[:space:]]out[[:space:]]of[[:space:]]memory[[:space:]]for[[:space:]]1099511627776[[:space:]]positions  $LONGSCAN generate -m $TMP/hlm.safetensors --length 1099511627776 -o $TMP/x.wav
N 1 out[[:space:]]of[[:space:]]memory[[:space:]]for[[:space:]]1099511627776[[:space:]]bases  $LONGSCAN generate -m $TMP/dlm.safetensors --length 1099511627776 -o $TMP/x.fa
N 1 cls.safetensors[[:space:]]is[[:space:]]a[[:space:]]classifier;[[:space:]]generate[[:space:]]needs[[:space:]]a[[:space:]]language[[:space:]]model  $LONGSCAN generate -m $TMP/cls.safetensors --length 10 -o $TMP/x.fa
N 1 morning_coffee_5s.wav:  $LONGSCAN generate -m $EX/audio/morning_coffee_5s.wav --length 10 -o $TMP/x.fa
N 1 not[[:space:]]a[[:space:]]longscan[[:space:]]model  $LONGSCAN embed -m $TMP/dlm.safetensors $FIX/bac_small.fa -o $TMP/emb.safetensors && $LONGSCAN generate -m $TMP/emb.safetensors --length 10 -o $TMP/x.fa
N 2 give[[:space:]]the[[:space:]]length[[:space:]]to[[:space:]]generate  $LONGSCAN generate -m $TMP/dlm.safetensors -o $TMP/x.fa
N 2 give[[:space:]]the[[:space:]]length[[:space:]]to[[:space:]]generate  $LONGSCAN generate -m $TMP/alm.safetensors --length 5 --seconds 1 -o $TMP/x.wav
N 2 --seconds[[:space:]]is[[:space:]]for[[:space:]]audio[[:space:]]models  $LONGSCAN generate -m $TMP/dlm.safetensors --seconds 1 -o $TMP/x.fa
N 2 -o[[:space:]].*x.fa:[[:space:]]an[[:space:]]audio[[:space:]]model[[:space:]]writes[[:space:]].wav[[:space:]]or[[:space:]].flac  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 -o $TMP/x.fa
N 2 no[[:space:]]output  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1
N 2 --top-p[[:space:]]0:  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --top-p 0 -o $TMP/x.wav
N 2 --temperature[[:space:]]-1:  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --temperature -1 -o $TMP/x.wav
N 2 --batch[[:space:]]0:  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --batch 0 -o $TMP/x.wav
N 2 --length[[:space:]]0:  $LONGSCAN generate -m $TMP/alm.safetensors --length 0 -o $TMP/x.wav
N 2 --keep-prompt[[:space:]]needs[[:space:]]--prompt  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --keep-prompt -o $TMP/x.wav
N 2 -o[[:space:]].*alm.safetensors:[[:space:]]is[[:space:]]the[[:space:]]input  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 -o $TMP/alm.safetensors
N 2 is[[:space:]]the[[:space:]]input[[:space:]]--prompt[[:space:]].*mc.wav  cp $EX/audio/morning_coffee_5s.wav $TMP/mc.wav && $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --prompt $TMP/mc.wav -o $TMP/mc.wav
N 2 unknown[[:space:]]or[[:space:]]incomplete[[:space:]]option  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --frobnicate -o $TMP/x.wav
N 1 no_such.wav  $LONGSCAN generate -m $TMP/alm.safetensors --seconds 1 --prompt $TMP/no_such.wav -o $TMP/x.wav
P 0 ^nothing[[:space:]]written$  test ! -e $TMP/x.wav && test ! -e $TMP/x.fa && ls -a $TMP | grep -c longscan- | grep -q '^0$' && echo nothing written
