#!/usr/bin/env bash
# make_bad_inputs.sh DIR — build the inputs the CLI tables use, good and malformed, from the
# shipped examples and a few bytes written here. Needs samtools and bgzip (Debian packages the
# Makefile installs) and sox.
set -euo pipefail
out=$1
ex=$(cd "$(dirname "$0")/../../examples/data" && pwd)
cd "$out"

# --- sequences: good
printf '>r1 first\nACGTACGTNN\nacgt\n>r2\nGGGGCCCCAT\n' > small.fa
printf '@q1\nACGTAC\n+\nIIIIII\n@q2\nGGCC\n+q2\n!!!!\n' > small.fq
gzip -c small.fa > small.fa.gz                  # plain gzip: streams, no random access
cp "$ex/dna/apes_chr22_dev_slice.fa.gz" apes.fa.gz
samtools faidx apes.fa.gz                       # .fai + .gzi beside it
zcat apes.fa.gz > apes.fa && samtools faidx apes.fa
gzip -c apes.fa > apes_plain.fa.gz             # plain gzip, 81 KB inflated: several BGZF-size blocks
# alignments against apes.fa: reads cut from it, some on the reverse strand, various MAPQ
{
    printf '@HD\tVN:1.6\tSO:coordinate\n'
    awk '{printf "@SQ\tSN:%s\tLN:%s\n", $1, $2}' apes.fa.fai
    for i in $(seq 0 19); do
        pos=$((1000 + i * 500)); flag=$(( i % 2 ? 16 : 0 )); mapq=$(( i * 3 ))
        seq=$(samtools faidx apes.fa "hsap.dev.slice:$pos-$((pos + 49))" | grep -v '>' | tr -d '\n' | tr a-z A-Z)
        printf 'read%02d\t%d\thsap.dev.slice\t%d\t%d\t50M\t*\t0\t0\t%s\t*\n' "$i" "$flag" "$pos" "$mapq" "$seq"
    done
} > reads.sam
samtools view -b -o reads.bam reads.sam
samtools index reads.bam
cp reads.bam unindexed.bam
samtools view -C -T apes.fa -o reads.cram reads.sam && samtools index reads.cram

# --- sequences: bad
: > empty.fa
mkdir -p a_directory.fa
printf 'ACGTACGT\nACGT\n' > no_header.fa
printf '@q1\nACGTAC\n+\nIIII\n' > short_qual.fq
head -c 20000 "$ex/dna/bacteria_train.fa.gz" > truncated.fa.gz   # cut inside a BGZF block
gzip -c apes.fa | head -c 15000 > truncated_gzip.fa.gz           # cut inside a gzip stream
head -c 600 reads.bam > truncated.bam
printf '>r1\nACGT\0ACGT\n' > nul_byte.fa
printf '>r1\nACGTACGT\n>r2\nACG!@#TT\n' > garbage.fa
printf '>r1\nMKVLAAGIVGLLLAQ\n' > protein.fa
# a 20-Mb single-line record (a good input that must just work)
{ printf '>big one line\n'; head -c 20000000 /dev/zero | tr '\0' 'A'; printf '\n'; } > big_line.fa

# --- audio
cp "$ex/audio/morning_coffee_5s.wav" good.wav
sox -n -r 8000 -b 16 -c 1 zero_frames.wav trim 0 0
cp good.wav corrupt_header.wav
printf 'XXXXXXXXXXXXXXXXXXXX' | dd of=corrupt_header.wav bs=1 seek=12 conv=notrunc status=none
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\10\2\0\0\0' > image.png
cp image.png not_audio.wav

# --- checkpoints (safetensors), byte by byte: 8-byte LE header length, JSON, data
st() { # name json data_bytes
    local json=$2 n
    n=${#json}
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\0\\0\\0\\0' $((n & 255)) $(((n >> 8) & 255)) \
        $(((n >> 16) & 255)) $(((n >> 24) & 255)))" > "$1"
    printf '%s' "$json" >> "$1"
    head -c "$3" /dev/zero >> "$1"
}
st good.safetensors '{"__metadata__":{"format":"longscan"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[3],"data_offsets":[16,40]}}' 40
st past_end.safetensors '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}' 8
st overlap.safetensors '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
st shape_lie.safetensors '{"a":{"dtype":"F32","shape":[3,3],"data_offsets":[0,16]}}' 16
st dtype_lie.safetensors '{"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}}' 16
printf '\xff\xff\xff\x00\0\0\0\0{}' > header_too_long.safetensors

# --- label tables for `info --labels`
printf 'r1\tA\nr2\tB\n' > small.labels.tsv
printf 'r1\tA\nr1\tB\n' > labels_duplicate.tsv
printf 'r1\tA\n' > labels_partial.tsv
printf 'r1\t\n' > labels_empty_label.tsv

# --- training inputs (tests/cli/train.tst): a small subset of the bacteria windows, 6 per
#     species, with its own label table; label tables that are wrong in one way each
zcat "$ex/dna/bacteria_train.fa.gz" | awk '/^>/ { n = substr($1, 2); split(n, p, "_"); keep = (p[2] + 0 <= 6) } keep' > bac_small.fa
awk -F'\t' '{ split($1, p, "_"); if (p[2] + 0 <= 6) print }' "$ex/dna/bacteria_train.labels.tsv" > bac_small.labels.tsv
printf 'ecoli_001\n' > labels_one_column.tsv
sed 's/\tsaureus$/\tbsubtilis/' "$ex/dna/bacteria_test.labels.tsv" > labels_unknown.tsv
awk -F'\t' '{ split($1, p, "_"); if (p[1] == "ecoli" && p[2] + 0 <= 6) print }' "$ex/dna/bacteria_train.labels.tsv" > labels_one_class.tsv
# audio: two classes of short 8 kHz clips (tones and noise) for the waveform classifier and
# the audio language model
mkdir -p audio_cls/tone audio_cls/noise
for i in 1 2 3; do
    sox -R -n -r 8000 -b 16 -c 1 "audio_cls/tone/t$i.wav" synth 0.1 sine $((300 * i)) vol 0.5
    sox -R -n -r 8000 -b 16 -c 1 "audio_cls/noise/n$i.wav" synth 0.1 whitenoise vol 0.5
done

# --- inputs other tools read (tests/cli/inputs.tst). Ogg Vorbis as sox writes it (1 s and 5 s
#     of 330 Hz; 22,050 and 110,250 frames by soxi), cut short three ways: at the boundary
#     before the last page, inside a page, and one byte before the end
sox -n -r 22050 -c 1 -C 3 tone_sox.ogg synth 1.0 sine 330
sox -n -r 22050 -c 1 -C 3 tone5_sox.ogg synth 5 sine 330
last_page=$(grep -obUa OggS tone5_sox.ogg | tail -1 | cut -d: -f1)
head -c "$last_page" tone5_sox.ogg > cut_at_page.ogg
head -c $(( $(stat -c %s tone5_sox.ogg) / 2 )) tone5_sox.ogg > cut_in_page.ogg
head -c $(( $(stat -c %s tone5_sox.ogg) - 1 )) tone5_sox.ogg > cut_last_byte.ogg
# what sox cannot write (MP3) or should not hold (NaN/Inf), written with libsndfile by a test
# helper built with the tests; MP3 and Ogg at 8 kHz also fill class folders
helpers=${LS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}/tests/helpers
"$helpers/audio_fixture" ogg tone_sf.ogg 22050 22050
"$helpers/audio_fixture" mp3 tone.mp3
"$helpers/audio_fixture" mp3-id3 tone_id3.mp3
"$helpers/audio_fixture" wav-nan nan.wav
"$helpers/audio_fixture" wav-inf inf.wav
"$helpers/audio_fixture" double-inf double_inf.wav
mkdir -p mp3_cls/tone mp3_cls/noise
cp tone.mp3 mp3_cls/tone/a.mp3
cp tone_id3.mp3 mp3_cls/tone/b.mp3
sox -R -n -r 8000 -b 16 -c 1 mp3_cls/noise/n1.wav synth 0.25 whitenoise vol 0.5
sox -R -n -r 8000 -b 16 -c 1 mp3_cls/noise/n2.wav synth 0.25 whitenoise vol 0.3
# alignments the filters drop, and SEQ forms samtools accepts: the first 5 reads, a
# supplementary copy of read00, a primary without bases (SEQ '*'), a minimal unmapped record
# (as in htslib's c1#noseq.sam and xx#minimal.sam); samtools view -c says 8, 5 are kept
{
    samtools view -H reads.sam
    samtools view reads.sam | head -5
    samtools view reads.sam | awk -F'\t' -v OFS='\t' 'NR == 1 { $1 = "suppl"; $2 = 2048; print }'
    printf 'noseq\t0\thsap.dev.slice\t4000\t60\t50M\t*\t0\t0\t*\t*\n'
    printf '*\t4\t*\t0\t0\t*\t*\t0\t0\t*\t*\n'
} > filtered.sam
samtools sort -o filtered.bam filtered.sam 2>/dev/null && samtools index filtered.bam
{ samtools view -H reads.sam; printf 'noseq\t0\thsap.dev.slice\t4000\t60\t50M\t*\t0\t0\t*\t*\n'; } \
    > only_noseq.sam
# read01 (reverse strand) with bases written '=' (same as the reference), and as it was
samtools view -H reads.sam > equals.sam
cp equals.sam read01.sam
samtools view reads.sam | awk -F'\t' 'NR == 2' >> read01.sam
samtools view reads.sam | awk -F'\t' -v OFS='\t' \
    'NR == 2 { $10 = "==" substr($10, 3, 20) "=" substr($10, 24, 20) "===" substr($10, 47); print }' \
    >> equals.sam
