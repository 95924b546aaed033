# files other tools read, and inputs through pipes — see test_cli.sh for the format:
#   P|N EXIT EXPECT COMMAND
# Every case that reads a pipe, FIFO or <(...) runs under `timeout`, so a regression that
# hangs fails the case instead of the test run.

# --- Ogg Vorbis: complete files read whole, whoever wrote them (sox's last page carries the
#     end-of-stream flag; libsndfile 1.2.0 logs "ended unexpectedly" for it all the same)
P 0 frames[[:space:]]+22,050$                 $LONGSCAN info $FIX/tone_sox.ogg
P 0 frames[[:space:]]+110,250$                $LONGSCAN info $FIX/tone5_sox.ogg
P 0 frames[[:space:]]+22,050$                 $LONGSCAN info $FIX/tone_sf.ogg
P 0 frames[[:space:]]+110,250$                cat $FIX/tone5_sox.ogg | timeout 20 $LONGSCAN info -
P 0 ^tone5_sox.ogg[[:space:]]audio[[:space:]]OGG[[:space:]]VORBIS[[:space:]].*[[:space:]]110250[[:space:]]  cd $FIX && $LONGSCAN info --tsv tone5_sox.ogg
# ... and cut ones fail with one line, from a file or a pipe
N 1 cut_at_page.ogg:[[:space:]]frame[[:space:]][1-9][0-9]*:.*without[[:space:]]its[[:space:]]end-of-stream[[:space:]]page  $LONGSCAN info $FIX/cut_at_page.ogg
N 1 cut_in_page.ogg:.*end-of-stream[[:space:]]page  $LONGSCAN info $FIX/cut_in_page.ogg
N 1 cut_last_byte.ogg:[[:space:]]frame[[:space:]][1-9][0-9]*:.*end-of-stream[[:space:]]page  $LONGSCAN info $FIX/cut_last_byte.ogg
N 1 <stdin>:[[:space:]]frame[[:space:]][1-9][0-9]*:.*end-of-stream[[:space:]]page  cat $FIX/cut_last_byte.ogg | timeout 20 $LONGSCAN info -
N 1 cut_at_page.ogg:.*end-of-stream[[:space:]]page  $LONGSCAN info --tsv --labels $FIX/small.labels.tsv $FIX/cut_at_page.ogg

# --- MP3, recognised by content (frame header, or an ID3v2 tag in front)
P 0 format[[:space:]]+MPEG[[:space:]]\(MPEG_LAYER_III\)  $LONGSCAN info $FIX/tone.mp3
P 0 frames[[:space:]]+2,000$                  $LONGSCAN info $FIX/tone.mp3
P 0 frames[[:space:]]+2,000$                  $LONGSCAN info $FIX/tone_id3.mp3
P 0 frames[[:space:]]+2,000$                  cat $FIX/tone_id3.mp3 | timeout 20 $LONGSCAN info -
P 0 ^tone[[:space:]]2[[:space:]]4000[[:space:]]2000[[:space:]]2000$  printf 'a.mp3\ttone\nb.mp3\ttone\n' > $TMP/mp3.labels.tsv && cd $FIX/mp3_cls/tone && $LONGSCAN info --tsv --labels $TMP/mp3.labels.tsv a.mp3 b.mp3
# a .mp3 in a --class folder is audio like the .wav beside it
P 0 -                                         $LONGSCAN train --class tone=$FIX/mp3_cls/tone --class noise=$FIX/mp3_cls/noise --d-model 8 --layers 1 --steps 1 --frame 16 --verbosity 0 -o $TMP/in_au.safetensors
P 0 tone.mp3[[:space:]](tone|noise)[[:space:]]0\.[0-9]+  $LONGSCAN predict -m $TMP/in_au.safetensors $FIX/tone.mp3

# --- float WAV holding NaN or Inf: refused, naming file, frame and channel
N 1 nan.wav:[[:space:]]frame[[:space:]]1000,[[:space:]]channel[[:space:]]1:[[:space:]]sample[[:space:]]is[[:space:]]NaN  $LONGSCAN info $FIX/nan.wav
N 1 inf.wav:[[:space:]]frame[[:space:]]1000,.*\+Inf  $LONGSCAN info $FIX/inf.wav
N 1 double_inf.wav:[[:space:]]frame[[:space:]]1000,.*-Inf  $LONGSCAN info $FIX/double_inf.wav
N 1 nan.wav:[[:space:]]frame[[:space:]]1000.*NaN  $LONGSCAN predict -m $TMP/in_au.safetensors $FIX/nan.wav
N 1 nan.wav:[[:space:]]frame[[:space:]]1000.*NaN  $LONGSCAN train --class tone=$FIX/nan.wav --class noise=$FIX/mp3_cls/noise --d-model 8 --layers 1 --steps 1 --frame 16 -o $TMP/nan.safetensors

# --- pipes, /dev/stdin, process substitution and FIFOs: every byte read once (small.fa: 2
#     records; reads.bam: 20; good.wav: 40,000 frames)
P 0 records[[:space:]]+2$                     timeout 20 $LONGSCAN info <(cat $FIX/small.fa)
P 0 records[[:space:]]+2$                     cat $FIX/small.fa | timeout 20 $LONGSCAN info /dev/stdin
P 0 records[[:space:]]+2$                     timeout 20 $LONGSCAN info /dev/stdin < $FIX/small.fa
P 0 records[[:space:]]+2$                     mkfifo $TMP/fifo1 && (timeout 20 sh -c 'cat "$FIX/small.fa" > "$TMP/fifo1"' &) && timeout 20 $LONGSCAN info $TMP/fifo1
P 0 records[[:space:]]+20$                    timeout 20 $LONGSCAN info <(cat $FIX/reads.bam)
P 0 records[[:space:]]+20$                    mkfifo $TMP/fifo2 && (timeout 20 sh -c 'cat "$FIX/reads.bam" > "$TMP/fifo2"' &) && timeout 20 $LONGSCAN info $TMP/fifo2
P 0 bases[[:space:]]+80,000[[:space:]]total   timeout 20 $LONGSCAN info <(cat $FIX/apes_plain.fa.gz)
P 0 format[[:space:]]+FASTA[[:space:]]\(bgzip\)  timeout 20 $LONGSCAN info <(cat $FIX/apes.fa.gz)
P 0 frames[[:space:]]+40,000$                 timeout 20 $LONGSCAN info <(cat $FIX/good.wav)
P 0 frames[[:space:]]+40,000$                 cat $FIX/good.wav | timeout 20 $LONGSCAN info /dev/stdin
P 0 frames[[:space:]]+40,000$                 mkfifo $TMP/fifo3 && (timeout 20 sh -c 'cat "$FIX/good.wav" > "$TMP/fifo3"' &) && timeout 20 $LONGSCAN info $TMP/fifo3
P 0 ^2[[:space:]]2[[:space:]]20[[:space:]]$   timeout 20 $LONGSCAN info --tsv <(cat $FIX/small.fa) <(cat $FIX/small.fq) <(cat $FIX/reads.bam) | tail -n +2 | cut -f5 | tr '\n' ' '
P 0 ^B[[:space:]]1[[:space:]]10[[:space:]]    timeout 20 $LONGSCAN info --tsv --labels $FIX/small.labels.tsv <(cat $FIX/small.fa)
# the dataset loader (train, eval, predict, embed, score): pipes read once, whole
P 0 -                                         $LONGSCAN train --data $FIX/bac_small.fa --labels $FIX/bac_small.labels.tsv --d-model 8 --layers 1 --steps 1 --verbosity 0 -o $TMP/in_dna.safetensors
P 0 ^25$                                      timeout 60 $LONGSCAN predict -m $TMP/in_dna.safetensors <(cat $FIX/bac_small.fa) | wc -l
P 0 ^25$                                      cat $FIX/bac_small.fa | timeout 60 $LONGSCAN predict -m $TMP/in_dna.safetensors - | wc -l
P 0 ^25$                                      cat $FIX/bac_small.fa | timeout 60 $LONGSCAN embed --tsv -m $TMP/in_dna.safetensors /dev/stdin | wc -l
P 0 ^25$                                      mkfifo $TMP/fifo4 && (timeout 60 sh -c 'cat "$FIX/bac_small.fa" > "$TMP/fifo4"' &) && timeout 60 $LONGSCAN predict -m $TMP/in_dna.safetensors $TMP/fifo4 | wc -l
P 0 "n":24,                                   timeout 60 $LONGSCAN eval -m $TMP/in_dna.safetensors --json --data <(cat $FIX/bac_small.fa) --labels $FIX/bac_small.labels.tsv
P 0 tone.mp3[[:space:]](tone|noise)           cat $FIX/tone.mp3 | timeout 20 $LONGSCAN predict -m $TMP/in_au.safetensors - | sed 's/^-/tone.mp3/'
P 0 -                                         timeout 60 $LONGSCAN train --class tone=<(cat $FIX/mp3_cls/tone/a.mp3) --class noise=$FIX/mp3_cls/noise --d-model 8 --layers 1 --steps 1 --frame 16 --verbosity 0 -o $TMP/in_au2.safetensors
# a stream named twice is a usage error before any output
N 2 '-'[[:space:]]\(standard[[:space:]]input\)[[:space:]]is[[:space:]]given[[:space:]]twice  cat $FIX/small.fa | timeout 20 $LONGSCAN info $FIX/small.fa - -
N 2 -[[:space:]]and[[:space:]]/dev/stdin[[:space:]]are[[:space:]]the[[:space:]]same[[:space:]]stream  cat $FIX/small.fa | timeout 20 $LONGSCAN info - /dev/stdin
N 2 fifo5[[:space:]]is[[:space:]]given[[:space:]]twice  mkfifo $TMP/fifo5 && timeout 20 $LONGSCAN info $TMP/fifo5 $TMP/fifo5
N 2 '-'[[:space:]]\(standard[[:space:]]input\)[[:space:]]is[[:space:]]given[[:space:]]twice  cat $FIX/bac_small.fa | timeout 60 $LONGSCAN predict -m $TMP/in_dna.safetensors - -
N 2 -[[:space:]]and[[:space:]]/dev/stdin[[:space:]]are[[:space:]]the[[:space:]]same[[:space:]]stream  cat $FIX/bac_small.fa | timeout 60 $LONGSCAN embed --tsv -m $TMP/in_dna.safetensors - /dev/stdin
N 2 '-'[[:space:]]\(standard[[:space:]]input\)[[:space:]]is[[:space:]]given[[:space:]]twice  cat $FIX/bac_small.fa | timeout 60 $LONGSCAN train --data - --valid - --labels $FIX/bac_small.labels.tsv --valid-labels $FIX/bac_small.labels.tsv --steps 1 -o $TMP/twice.safetensors
N 2 fifo6[[:space:]]is[[:space:]]given[[:space:]]twice  mkfifo $TMP/fifo6 && timeout 60 $LONGSCAN train --class a=$TMP/fifo6 --class b=$TMP/fifo6 --steps 1 -o $TMP/twice.safetensors
N 2 fifo7[[:space:]]is[[:space:]]given[[:space:]]twice  mkfifo $TMP/fifo7 && timeout 60 $LONGSCAN eval -m $TMP/in_dna.safetensors --data $TMP/fifo7 --data $TMP/fifo7 --labels $FIX/bac_small.labels.tsv
N 2 reads[[:space:]]every[[:space:]]input[[:space:]]twice  timeout 20 $LONGSCAN info --labels $FIX/small.labels.tsv <(cat $FIX/small.fa)
N 2 a[[:space:]]stream[[:space:]]can[[:space:]]be[[:space:]]read[[:space:]]once  timeout 20 $LONGSCAN bench io --repeat 1 <(cat $FIX/small.fa)
# what a stream cannot do: regions (no index), checkpoints (mapped from a file)
N 1 /dev/fd/[0-9]+:.*region.*cannot[[:space:]]be[[:space:]]indexed  timeout 20 $LONGSCAN info <(cat $FIX/apes.fa.gz) hsap.dev.slice:1-10
N 1 <stdin>:.*regular[[:space:]]file,[[:space:]]not[[:space:]]a[[:space:]]stream  cat $FIX/good.safetensors | timeout 20 $LONGSCAN info -
N 1 <stdin>:[[:space:]]empty[[:space:]]input   printf '' | timeout 20 $LONGSCAN info -

# --- alignments: what the filters drop is said (filtered.bam: 8 records by samtools view -c;
#     a supplementary, a primary with SEQ '*' and a minimal unmapped record among them)
P 0 records[[:space:]]+5$                     $LONGSCAN info $FIX/filtered.bam
P 0 read[[:space:]]+8[[:space:]]alignment[[:space:]]records$  $LONGSCAN info $FIX/filtered.bam
P 0 dropped[[:space:]]+1[[:space:]]by[[:space:]]flag[[:space:]]\(-f[[:space:]]0x0[[:space:]]-F[[:space:]]0x900\),[[:space:]]0[[:space:]]by[[:space:]]MAPQ[[:space:]]\(-q[[:space:]]0\),[[:space:]]2[[:space:]]without[[:space:]]bases  $LONGSCAN info $FIX/filtered.bam
P 0 dropped[[:space:]]+0[[:space:]]by[[:space:]]flag.*,[[:space:]]3[[:space:]]by[[:space:]]MAPQ.*,[[:space:]]1[[:space:]]without[[:space:]]bases  $LONGSCAN info -F 0 -q 1 $FIX/filtered.bam
P 0 ^#file.*[[:space:]]rms[[:space:]]records_seen[[:space:]]dropped_flag[[:space:]]dropped_mapq[[:space:]]dropped_no_bases$  $LONGSCAN info --tsv $FIX/filtered.bam
P 0 ^5[[:space:]]8[[:space:]]1[[:space:]]0[[:space:]]2$  $LONGSCAN info --tsv $FIX/filtered.bam | tail -1 | cut -f5,19-22
P 0 ^6[[:space:]]8[[:space:]]0[[:space:]]0[[:space:]]2$  $LONGSCAN info --tsv -F 0 $FIX/filtered.bam | tail -1 | cut -f5,19-22
P 0 ^2[[:space:]]2[[:space:]]0[[:space:]]0[[:space:]]0$  $LONGSCAN info --tsv $FIX/small.fa | tail -1 | cut -f5,19-22
P 0 ^\.[[:space:]]\.[[:space:]]\.[[:space:]]\.$  $LONGSCAN info --tsv $FIX/good.wav | tail -1 | cut -f19-22
P 0 ^0[[:space:]]1[[:space:]]0[[:space:]]0[[:space:]]1$  $LONGSCAN info --tsv $FIX/only_noseq.sam | tail -1 | cut -f5,19-22
# the commands skip records without bases and say how many on stderr
P 0 skipped[[:space:]]2[[:space:]]alignment[[:space:]]records[[:space:]]without[[:space:]]bases  $LONGSCAN predict -m $TMP/in_dna.safetensors $FIX/filtered.bam 2>&1 >/dev/null
P 0 ^6$                                       $LONGSCAN predict -m $TMP/in_dna.safetensors $FIX/filtered.bam 2>/dev/null | wc -l
N 1 only_noseq.sam:[[:space:]]no[[:space:]]records[[:space:]]with[[:space:]]bases[[:space:]]\(1[[:space:]]without  $LONGSCAN embed --tsv -m $TMP/in_dna.safetensors $FIX/only_noseq.sam
# '=' bases are decoded from --reference (the same bases as the read written out); without
# it, one clear error
P 0 ^same$                                    diff <($LONGSCAN info --tsv --reference $FIX/apes.fa $FIX/equals.sam | cut -f5-12) <($LONGSCAN info --tsv $FIX/read01.sam | cut -f5-12) && echo same
N 1 equals.sam:[[:space:]]record[[:space:]]#1[[:space:]]'read01':[[:space:]]SEQ[[:space:]]position[[:space:]]1[[:space:]]is[[:space:]]'='.*--reference  $LONGSCAN info $FIX/equals.sam
# a region starting at 0 is a region error (positions are 1-based), exit 2
N 2 apes.fa.gz:[[:space:]]region[[:space:]]'hsap.dev.slice:0-10'[[:space:]]starts[[:space:]]at[[:space:]]0  $LONGSCAN info $FIX/apes.fa.gz hsap.dev.slice:0-10
N 2 apes.fa:[[:space:]]region.*starts[[:space:]]at[[:space:]]0  $LONGSCAN info $FIX/apes.fa hsap.dev.slice:0-100
N 2 reads.bam:[[:space:]]region.*starts[[:space:]]at[[:space:]]0  $LONGSCAN info $FIX/reads.bam hsap.dev.slice:0-1000
# ... and through the dataset commands: the same embedding as the read written out
P 0 ^same$                                    diff <($LONGSCAN embed --tsv -m $TMP/in_dna.safetensors --reference $FIX/apes.fa $FIX/equals.sam) <($LONGSCAN embed --tsv -m $TMP/in_dna.safetensors $FIX/read01.sam) && echo same
P 0 -                                         $LONGSCAN train --task lm --reference $FIX/apes.fa --data $FIX/equals.sam --d-model 8 --layers 1 --steps 1 --verbosity 0 -o $TMP/eq_lm.safetensors
N 1 equals.sam:.*SEQ[[:space:]]position[[:space:]]1[[:space:]]is[[:space:]]'='.*--reference  $LONGSCAN predict -m $TMP/in_dna.safetensors $FIX/equals.sam
N 1 equals.sam:.*SEQ[[:space:]]position[[:space:]]1[[:space:]]is[[:space:]]'='.*--reference  $LONGSCAN train --task lm --data $FIX/equals.sam --d-model 8 --layers 1 --steps 1 -o $TMP/eq_lm2.safetensors
