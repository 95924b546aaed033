#!/usr/bin/env bash
# make_examples.sh — how the files in examples/data were cut from ../shared/data (the
# Debian-sourced folders only). Kept for provenance; the outputs are committed, so neither the
# demo nor the tests need ../shared. Needs samtools, bgzip (tabix), sox, oggenc, flac.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-$here/../../../shared/data}
cd "$here"

# --- DNA: bacterial species from 1,000-bp windows (train windows from the train strains,
# test windows from the unseen dev strains), 60 + 25 windows per species at fixed positions.
window=1000
cut_windows() { # split n_per_species out_prefix
    local split=$1 n=$2 out=$3
    : > "$out.fa"; : > "$out.labels.tsv"
    for species in ecoli hpylori saureus vcholerae; do
        local fa=$data/dna/bacteria-species/$split/$species.fa.gz
        # records and lengths from the .fai; windows spread evenly over the concatenated genome
        awk -v n="$n" -v w=$window -v sp="$species" '
            { name[NR] = $1; len[NR] = $2; total += $2 }
            END {
                step = int(total / n); k = 0
                for (i = 0; i < n; i++) {
                    pos = i * step + int(step / 3); r = 1
                    while (pos + w > len[r]) { pos -= len[r]; r++; if (r > NR) exit }
                    printf "%s:%d-%d\n", name[r], pos + 1, pos + w
                }
            }' "$fa.fai" > /tmp/regions.$$
        samtools faidx "$fa" -r /tmp/regions.$$ \
            | awk -v sp="$species" -v lab="$out.labels.tsv" '
                /^>/ { k++; name = sp "_" sprintf("%03d", k); print ">" name " " substr($0, 2);
                       print name "\t" sp >> lab; next } { print }' >> "$out.fa"
    done
    rm -f /tmp/regions.$$
    bgzip -f -i "$out.fa"
    samtools faidx "$out.fa.gz"
}
cut_windows train 60 dna/bacteria_train
cut_windows dev 25 dna/bacteria_test

# --- DNA: 20-kb slices of the four great-ape dev records (soft-masked, with N), bgzip+index
: > dna/apes_chr22_dev_slice.fa
for species in hsap ptro ggor ppyg; do
    samtools faidx "$data/dna/great-apes-chr22/dev/$species.fa.gz" "$species.dev:1000001-1020000" \
        | sed "1s/.*/>$species.dev.slice/" >> dna/apes_chr22_dev_slice.fa
done
bgzip -f -i dna/apes_chr22_dev_slice.fa
samtools faidx dna/apes_chr22_dev_slice.fa.gz

# --- audio: 5 s of 8 kHz music (opsound), as WAV and OGG/Vorbis; two Sonic Pi
# one-shots as FLAC (one stereo 44.1 kHz, one mono)
sox "$data/audio/opsound-moh/manolo_camp-morning_coffee.wav" audio/morning_coffee_5s.wav trim 10 5
oggenc -Q -q 4 -o audio/morning_coffee_5s.ogg audio/morning_coffee_5s.wav
cp "$data/audio/sonicpi-flac/perc_swash.flac" audio/perc_swash.flac
cp "$data/audio/sonicpi-flac/tabla_ke1.flac" audio/tabla_ke1.flac
