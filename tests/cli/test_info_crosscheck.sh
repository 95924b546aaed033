#!/usr/bin/env bash
# test_info_crosscheck.sh — `longscan info --tsv` against numbers computed by other tools:
# awk over the decompressed FASTA (records, lengths, GC, N, lower case), samtools for
# alignments (records, and what the flag, MAPQ and no-bases filters dropped), sox/soxi for
# audio (frames, rate, channels, peak, RMS; Ogg as sox writes it). TAP output.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
LONGSCAN=${LONGSCAN:-$root/build/longscan}
ex=$root/examples/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; failed=0
check() { # description expected got tolerance
    n=$((n + 1))
    if awk -v e="$2" -v g="$3" -v t="$4" 'BEGIN { d = e - g; if (d < 0) d = -d; exit !(d <= t) }'; then
        echo "ok $n - $1 ($3)"
    else
        failed=$((failed + 1)); echo "not ok $n - $1: longscan says $3, expected $2 (± $4)"
    fi
}
field() { # tsv-line column-name
    awk -F'\t' -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want || $i == "#" want) c = i; next }
                             { print $c }' "$1"
}
echo "1..33"

for fa in "$ex/dna/bacteria_test.fa.gz" "$ex/dna/apes_chr22_dev_slice.fa.gz"; do
    name=$(basename "$fa")
    "$LONGSCAN" info --tsv "$fa" > "$tmp/info.tsv"
    zcat "$fa" | awk '
        /^>/ { if (len) lens[++k] = len; len = 0; next }
        { len += length($0); s = $0
          lower += gsub(/[acgtn]/, "", s); s = toupper($0)
          gc += gsub(/[GC]/, "", s); at += gsub(/[AT]/, "", s); nn += gsub(/N/, "", s) }
        END { lens[++k] = len; total = 0; for (i = 1; i <= k; i++) total += lens[i]
              printf "%d %d %.6f %.6f %.6f\n", k, total, gc / (gc + at), nn / total, lower / total }' \
        > "$tmp/awk.txt"
    read -r records total gc nfrac lower < "$tmp/awk.txt"
    check "$name records" "$records" "$(field "$tmp/info.tsv" records)" 0
    check "$name total length" "$total" "$(field "$tmp/info.tsv" total_length)" 0
    check "$name GC fraction" "$gc" "$(field "$tmp/info.tsv" gc_fraction)" 0.000002
    check "$name N fraction" "$nfrac" "$(field "$tmp/info.tsv" n_fraction)" 0.000002
    check "$name soft-masked fraction" "$lower" "$(field "$tmp/info.tsv" softmasked_fraction)" 0.000002
done

# alignments: samtools counts the same filtered records
bash "$root/tests/cli/make_bad_inputs.sh" "$tmp" > /dev/null 2>&1
"$LONGSCAN" info --tsv -q 20 "$tmp/reads.bam" > "$tmp/bam.tsv"
check "BAM records with MAPQ >= 20" "$(samtools view -c -q 20 "$tmp/reads.bam")" \
      "$(field "$tmp/bam.tsv" records)" 0
# what the filters dropped, record by record as samtools counts them: flags (-F 0x900) first,
# then MAPQ, then SEQ '*' (a supplementary, a record without bases, a minimal unmapped one)
bam=$tmp/filtered.bam
for q in 0 5; do
    "$LONGSCAN" info --tsv -q "$q" "$bam" > "$tmp/filtered.tsv"
    seen=$(samtools view -c "$bam")
    pass_flag=$(samtools view -c -F 0x900 "$bam")
    pass_mapq=$(samtools view -c -F 0x900 -q "$q" "$bam")
    no_seq=$(samtools view -F 0x900 -q "$q" "$bam" | awk -F'\t' '$10 == "*"' | wc -l)
    check "filtered.bam -q $q records seen" "$seen" "$(field "$tmp/filtered.tsv" records_seen)" 0
    check "filtered.bam -q $q dropped by flag" "$((seen - pass_flag))" \
          "$(field "$tmp/filtered.tsv" dropped_flag)" 0
    check "filtered.bam -q $q dropped by MAPQ" "$((pass_flag - pass_mapq))" \
          "$(field "$tmp/filtered.tsv" dropped_mapq)" 0
    check "filtered.bam -q $q without bases" "$no_seq" \
          "$(field "$tmp/filtered.tsv" dropped_no_bases)" 0
    check "filtered.bam -q $q records kept" "$((pass_mapq - no_seq))" \
          "$(field "$tmp/filtered.tsv" records)" 0
done

# Ogg Vorbis as sox writes it: the frames and rate soxi reads
for ogg in "$tmp/tone_sox.ogg" "$tmp/tone5_sox.ogg"; do
    name=$(basename "$ogg")
    "$LONGSCAN" info --tsv "$ogg" > "$tmp/ogg.tsv"
    check "$name frames" "$(soxi -s "$ogg")" "$(field "$tmp/ogg.tsv" frames)" 0
    check "$name sample rate" "$(soxi -r "$ogg")" "$(field "$tmp/ogg.tsv" sample_rate)" 0
done

for audio in "$ex/audio/morning_coffee_5s.wav" "$ex/audio/perc_swash.flac"; do
    name=$(basename "$audio")
    "$LONGSCAN" info --tsv "$audio" > "$tmp/audio.tsv"
    check "$name frames" "$(soxi -s "$audio")" "$(field "$tmp/audio.tsv" frames)" 0
    check "$name sample rate" "$(soxi -r "$audio")" "$(field "$tmp/audio.tsv" sample_rate)" 0
    # sox stats: overall peak and RMS level in dBFS; compare in dB
    sox "$audio" -n stats 2> "$tmp/stats.txt"
    peak_db=$(awk '/^Pk lev dB/ { print $4 }' "$tmp/stats.txt")
    ours_db=$(field "$tmp/audio.tsv" peak | awk '{ printf "%.4f", 20 * log($1) / log(10) }')
    check "$name peak dBFS vs sox" "$peak_db" "$ours_db" 0.02
    rms_db=$(awk '/^RMS lev dB/ { print $4 }' "$tmp/stats.txt")
    ours_db=$(field "$tmp/audio.tsv" rms | awk '{ printf "%.4f", 20 * log($1) / log(10) }')
    check "$name RMS dBFS vs sox" "$rms_db" "$ours_db" 0.02
done
[ "$failed" -eq 0 ]
