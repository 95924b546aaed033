# longscan info — see test_cli.sh for the format: P|N EXIT EXPECT COMMAND
# --- sequences: formats, compression, stdin, statistics (small.fa: 14 + 10 bases, 6+8 of 22
#     A/C/G/T are G/C, 2 N, 4 lower case)
P 0 records[[:space:]]+2$                     $LONGSCAN info $FIX/small.fa
P 0 bases[[:space:]]+24[[:space:]]total;[[:space:]]min[[:space:]]10,[[:space:]]median[[:space:]]12,[[:space:]]max[[:space:]]14  $LONGSCAN info $FIX/small.fa
P 0 GC[[:space:]]+63.64%                      $LONGSCAN info $FIX/small.fa
P 0 N[[:space:]]+8.33%                        $LONGSCAN info $FIX/small.fa
P 0 soft-masked[[:space:]]+16.67%             $LONGSCAN info $FIX/small.fa
P 0 format[[:space:]]+FASTA[[:space:]]\(plain\)  $LONGSCAN info $FIX/small.fa
P 0 format[[:space:]]+FASTA[[:space:]]\(gzip\)   $LONGSCAN info $FIX/small.fa.gz
P 0 format[[:space:]]+FASTA[[:space:]]\(bgzip\)  $LONGSCAN info $FIX/apes.fa.gz
P 0 bases[[:space:]]+80,000[[:space:]]total   $LONGSCAN info $FIX/apes_plain.fa.gz
P 0 bases[[:space:]]+80,000[[:space:]]total   $LONGSCAN info - < $FIX/apes_plain.fa.gz
P 0 format[[:space:]]+FASTQ                   $LONGSCAN info $FIX/small.fq
P 0 bases[[:space:]]+10[[:space:]]total       $LONGSCAN info $FIX/small.fq
P 0 records[[:space:]]+2$                     cat $FIX/small.fa | $LONGSCAN info -
P 0 records[[:space:]]+2$                     $LONGSCAN info - < $FIX/small.fa.gz
P 0 bases[[:space:]]+20,000,000[[:space:]]total  $LONGSCAN info $FIX/big_line.fa
P 0 records[[:space:]]+240$                   $LONGSCAN info $EX/dna/bacteria_train.fa.gz
# --- regions (samtools syntax, 1-based inclusive), FASTA through .fai/.gzi
P 0 bases[[:space:]]+10,000[[:space:]]total   $LONGSCAN info $FIX/apes.fa.gz hsap.dev.slice:5001-15000
P 0 bases[[:space:]]+1,000[[:space:]]total    $LONGSCAN info $FIX/apes.fa.gz hsap.dev.slice:5,001-6,000
P 0 bases[[:space:]]+20,000[[:space:]]total   $LONGSCAN info $FIX/apes.fa.gz ptro.dev.slice
P 0 bases[[:space:]]+501[[:space:]]total      $LONGSCAN info $FIX/apes.fa ggor.dev.slice:19500-
P 0 bases[[:space:]]+100[[:space:]]total      $LONGSCAN info -r hsap.dev.slice:1-100 $FIX/apes.fa.gz
P 0 ^.*apes.fa.gz[[:space:]]ppyg.dev.slice:1-10$  $LONGSCAN info $FIX/apes.fa.gz hsap.dev.slice:1-10 ppyg.dev.slice:1-10
# --- alignments: BAM, CRAM, SAM; region, MAPQ and flag filters (20 reads of 50 bp, MAPQ 0..57)
P 0 format[[:space:]]+BAM                     $LONGSCAN info $FIX/reads.bam
P 0 records[[:space:]]+20$                    $LONGSCAN info $FIX/reads.bam
P 0 records[[:space:]]+20$                    $LONGSCAN info $FIX/reads.sam
P 0 format[[:space:]]+CRAM                    $LONGSCAN info --reference $FIX/apes.fa $FIX/reads.cram
P 0 records[[:space:]]+20$                    $LONGSCAN info --reference $FIX/apes.fa $FIX/reads.cram
P 0 records[[:space:]]+5$                     $LONGSCAN info $FIX/reads.bam hsap.dev.slice:1000-3000
P 0 records[[:space:]]+10$                    $LONGSCAN info -q 30 $FIX/reads.bam
P 0 records[[:space:]]+10$                    $LONGSCAN info -F 0x910 $FIX/reads.bam
P 0 records[[:space:]]+10$                    $LONGSCAN info -f 16 $FIX/reads.bam
P 0 records[[:space:]]+20$                    cat $FIX/reads.bam | $LONGSCAN info -
# --- audio
P 0 format[[:space:]]+WAV[[:space:]]\(PCM_16\)   $LONGSCAN info $FIX/good.wav
P 0 frames[[:space:]]+40,000$                 $LONGSCAN info $FIX/good.wav
P 0 sample[[:space:]]rate[[:space:]]+8000[[:space:]]Hz  $LONGSCAN info $FIX/good.wav
P 0 duration[[:space:]]+5.000[[:space:]]s     $LONGSCAN info $EX/audio/morning_coffee_5s.ogg
P 0 format[[:space:]]+OGG                     $LONGSCAN info $EX/audio/morning_coffee_5s.ogg
P 0 channels[[:space:]]+2$                    $LONGSCAN info $EX/audio/perc_swash.flac
P 0 format[[:space:]]+FLAC                    $LONGSCAN info $EX/audio/tabla_ke1.flac
P 0 frames[[:space:]]+40,000$                 $LONGSCAN info --type audio - < $FIX/good.wav
# --- checkpoints
P 0 a[[:space:]]+F32[[:space:]]+\[2,[[:space:]]2\]  $LONGSCAN info $FIX/good.safetensors
P 0 format[[:space:]]=[[:space:]]longscan     $LONGSCAN info $FIX/good.safetensors
P 0 b[[:space:]]I64[[:space:]]\[3\][[:space:]]3[[:space:]]24$  $LONGSCAN info --tsv $FIX/good.safetensors
# --- TSV and -o
P 0 ^#file[[:space:]]kind[[:space:]]format    $LONGSCAN info --tsv $FIX/small.fa $FIX/good.wav
P 0 small.fa[[:space:]]sequence[[:space:]]FASTA[[:space:]]plain[[:space:]]2[[:space:]]24[[:space:]]10[[:space:]]12.0[[:space:]]14  $LONGSCAN info --tsv $FIX/small.fa
P 0 good.wav[[:space:]]audio[[:space:]]WAV[[:space:]]PCM_16  $LONGSCAN info --tsv $FIX/good.wav
P 0 records[[:space:]]+2$                     $LONGSCAN info -o $TMP/info.txt $FIX/small.fa && cat $TMP/info.txt
P 0 ^ok$                                      $LONGSCAN info -o $TMP/keep.txt $FIX/small.fa $FIX/small.fq && test ! -e $TMP/keep.txt.tmp && echo ok
P 0 -                                         $LONGSCAN info --help
P 0 -                                         $LONGSCAN help info

# --- bad input: one line naming the file (and the place), exit 1
N 1 nope.fa.*(No[[:space:]]such[[:space:]]file|not[[:space:]]exist)  $LONGSCAN info $TMP/nope.fa
N 1 a_directory.fa.*directory                 $LONGSCAN info $FIX/a_directory.fa
N 1 empty.fa.*empty                           $LONGSCAN info $FIX/empty.fa
N 1 stdin.*empty                              $LONGSCAN info - < $FIX/empty.fa
N 1 no_header.fa                              $LONGSCAN info $FIX/no_header.fa
N 1 short_qual.fq                             $LONGSCAN info $FIX/short_qual.fq
N 1 truncated.fa.gz                           $LONGSCAN info $FIX/truncated.fa.gz
N 1 truncated_gzip.fa.gz                      $LONGSCAN info $FIX/truncated_gzip.fa.gz
N 1 truncated.bam                             $LONGSCAN info $FIX/truncated.bam
N 1 unindexed.bam.*index                      $LONGSCAN info $FIX/unindexed.bam hsap.dev.slice:1-100
N 1 small.fa.gz.*index                        $LONGSCAN info $FIX/small.fa.gz r1:1-5
N 1 apes.fa.gz.*chrZZ                         $LONGSCAN info $FIX/apes.fa.gz chrZZ:1-100
N 1 reads.bam.*chrZZ                          $LONGSCAN info $FIX/reads.bam chrZZ:1-100
N 1 nul_byte.fa.*r1.*0x00                     $LONGSCAN info $FIX/nul_byte.fa
N 1 garbage.fa.*r2                            $LONGSCAN info $FIX/garbage.fa
N 1 protein.fa.*r1                            $LONGSCAN info $FIX/protein.fa
N 1 image.png                                 $LONGSCAN info $FIX/image.png
N 1 corrupt_header.wav                        $LONGSCAN info $FIX/corrupt_header.wav
N 1 zero_frames.wav                           $LONGSCAN info $FIX/zero_frames.wav
N 1 not_audio.wav                             $LONGSCAN info --type audio $FIX/not_audio.wav
N 1 past_end.safetensors                      $LONGSCAN info $FIX/past_end.safetensors
N 1 overlap.safetensors.*b                    $LONGSCAN info $FIX/overlap.safetensors
N 1 shape_lie.safetensors.*a                  $LONGSCAN info $FIX/shape_lie.safetensors
N 1 dtype_lie.safetensors.*Q7                 $LONGSCAN info $FIX/dtype_lie.safetensors
N 1 header_too_long.safetensors               $LONGSCAN info $FIX/header_too_long.safetensors
N 1 small.fa.*header[[:space:]]length           $LONGSCAN info --type checkpoint $FIX/small.fa
# nothing is left behind or overwritten when a run fails
N 1 garbage.fa                                $LONGSCAN info -o $TMP/out1.txt $FIX/small.fa $FIX/garbage.fa; s=$?; test ! -e $TMP/out1.txt -a ! -e $TMP/out1.txt.tmp && exit $s
N 1 garbage.fa                                echo keep > $TMP/keep2.txt; $LONGSCAN info -o $TMP/keep2.txt $FIX/garbage.fa; s=$?; grep -qx keep $TMP/keep2.txt && exit $s
# usage errors: exit 2
N 2 no[[:space:]]input[[:space:]]files        $LONGSCAN info
N 2 --bogus                                   $LONGSCAN info --bogus $FIX/small.fa
N 2 --min-mapq[[:space:]]999                  $LONGSCAN info -q 999 $FIX/reads.bam
N 2 --type[[:space:]]wav                      $LONGSCAN info --type wav $FIX/good.wav
N 2 --tsv[[:space:]]cannot[[:space:]]mix      $LONGSCAN info --tsv $FIX/small.fa $FIX/good.safetensors
N 2 region.*not[[:space:]]a[[:space:]]sequence  $LONGSCAN info -r chr1 $FIX/good.wav
# a missing file after a good one is a missing file, not a region
N 1 missing.bam.*(No[[:space:]]such[[:space:]]file)  $LONGSCAN info $FIX/small.fa missing.bam
N 1 chrQ                                      $LONGSCAN info $FIX/apes.fa.gz chrQ
# --- labelled summaries (the loader `train` uses): per-label counts, bad label tables
P 0 ecoli[[:space:]]+25[[:space:]]+25000      $LONGSCAN info --labels $EX/dna/bacteria_test.labels.tsv $EX/dna/bacteria_test.fa.gz
P 0 ^vcholerae[[:space:]]25[[:space:]]25000[[:space:]]1000[[:space:]]1000$  $LONGSCAN info --tsv --labels $EX/dna/bacteria_test.labels.tsv $EX/dna/bacteria_test.fa.gz
P 0 ^B[[:space:]]1[[:space:]]10[[:space:]]    $LONGSCAN info --tsv --labels $FIX/small.labels.tsv $FIX/small.fa
P 0 \(unlabelled\)[[:space:]]+1[[:space:]]+10  $LONGSCAN info --labels $FIX/labels_partial.tsv $FIX/small.fa
N 1 labels_one_column.tsv:1:.*column          $LONGSCAN info --labels $FIX/labels_one_column.tsv $FIX/small.fa
N 1 labels_duplicate.tsv:2:.*r1               $LONGSCAN info --labels $FIX/labels_duplicate.tsv $FIX/small.fa
N 1 labels_empty_label.tsv:1                  $LONGSCAN info --labels $FIX/labels_empty_label.tsv $FIX/small.fa
N 1 nope.tsv.*No[[:space:]]such[[:space:]]file  $LONGSCAN info --labels $FIX/nope.tsv $FIX/small.fa
