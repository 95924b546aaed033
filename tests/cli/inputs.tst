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
N 2 the[[:space:]]same[[:space:]]data[[:space:]]is[[:space:]]given[[:space:]]twice  cat $FIX/bac_small.fa | timeout 60 $LONGSCAN predict -m $TMP/in_dna.safetensors - -
N 2 /dev/stdin:[[:space:]]the[[:space:]]same[[:space:]]data[[:space:]]is[[:space:]]given[[:space:]]twice  cat $FIX/bac_small.fa | timeout 60 $LONGSCAN embed --tsv -m $TMP/in_dna.safetensors - /dev/stdin
N 2 reads[[:space:]]every[[:space:]]input[[:space:]]twice  timeout 20 $LONGSCAN info --labels $FIX/small.labels.tsv <(cat $FIX/small.fa)
N 2 a[[:space:]]stream[[:space:]]can[[:space:]]be[[:space:]]read[[:space:]]once  timeout 20 $LONGSCAN bench io --repeat 1 <(cat $FIX/small.fa)
# what a stream cannot do: regions (no index), checkpoints (mapped from a file)
N 1 /dev/fd/[0-9]+:.*region.*cannot[[:space:]]be[[:space:]]indexed  timeout 20 $LONGSCAN info <(cat $FIX/apes.fa.gz) hsap.dev.slice:1-10
N 1 <stdin>:.*regular[[:space:]]file,[[:space:]]not[[:space:]]a[[:space:]]stream  cat $FIX/good.safetensors | timeout 20 $LONGSCAN info -
N 1 <stdin>:[[:space:]]empty[[:space:]]input   printf '' | timeout 20 $LONGSCAN info -
