#!/usr/bin/env bash
# make_fixtures.sh — regenerate every fixture of tests/unit/test_seq.c in this folder.
#
#   tests/data/seq/make_fixtures.sh            (DNA=/path/to/shared/data/dna to override)
#
# Sources: three small windows of real DNA from the shared data folder (see README.md here for
# origin and licences). Needs samtools, bgzip (tabix package), gzip and python3 (only for the
# deterministic read sampler below; seeded, so reruns give identical files).
# Expected values that tests compare against are computed here by samtools itself and kept in
# expected/: region sequences (`samtools faidx`), reads in original orientation (`samtools
# fastq`), filter counts (`samtools view -c`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
DNA=${DNA:-$root/../shared/data/dna}
cd "$here"
rm -rf expected bad ./*.fa ./*.fa.* ./*.fq ./*.sam ./*.bam ./*.bam.* ./*.cram ./*.cram.*
mkdir -p expected bad

# ---------------------------------------------------------------------------- reference windows
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
samtools faidx "$DNA/human-grch37-chr20/chr20.fa.gz" 20:59401-61800 > "$tmp/hs20.fa"
samtools faidx "$DNA/great-apes-chr22/train/hsap.fa.gz" hsap.train:2000001-2001500 > "$tmp/hsap22.fa"
samtools faidx "$DNA/bacteria-species/train/vcholerae.fa.gz" \
    vcholerae.N16961.chrI:1561001-1562000 > "$tmp/vchoI.fa"

python3 - "$tmp" <<'EOF'
import hashlib, random, sys
tmp = sys.argv[1]
def load(p):
    return "".join(l.strip() for l in open(p) if not l.startswith(">"))
recs = [
    ("hs20", "Homo sapiens GRCh37 chromosome 20:59401-61800 (vt-examples)", load(f"{tmp}/hs20.fa"), 60),
    ("hsap22", "human chr22 EPO block sequence hsap.train:2000001-2001500, soft-masked (maffilter-examples)", load(f"{tmp}/hsap22.fa"), 70),
    ("vchoI", "Vibrio cholerae N16961 chrI:1561001-1562000 (ragout-examples)", load(f"{tmp}/vchoI.fa"), 50),
]
with open("ref.fa", "w") as f:
    for name, desc, seq, width in recs:
        f.write(f">{name} {desc}\n")
        for i in range(0, len(seq), width):
            f.write(seq[i:i + width] + "\n")
with open("expected/ref.tsv", "w") as f:
    for name, desc, seq, width in recs:
        f.write(f"{name}\t{seq}\n")

# ---- reads: sampled from the windows, qualities random, some on the reverse strand
comp = {a: b for a, b in zip("ACGTNRYSWKMBDHV", "TGCANYRSWMKVHDB")}
def revcomp(s):
    return "".join(comp[c] for c in reversed(s))
rng = random.Random(20240601)
ref = {name: seq.upper() for name, desc, seq, width in recs}
reads = []   # (name, flag, rname, pos1, mapq, cigar, sam_seq, sam_qual)
fastq = []   # (name, original seq, original qual)
def qual(n):
    return "".join(chr(33 + rng.randint(2, 40)) for _ in range(n))
mapqs = [60, 60, 30, 20, 10, 5, 0, 60]
for i in range(1, 21):
    rname = ["hs20", "hsap22", "vchoI"][i % 3]
    L = rng.randint(60, 150)
    lo = 601 if rname == "hs20" else 1      # keep clear of the N run at the start of hs20
    pos = rng.randint(lo, len(ref[rname]) - L + 1)
    if rname == "vchoI" and i in (2, 5):   # reads over the IUPAC codes K S S W (423..949)
        pos = min(400 if i == 2 else 880, len(ref[rname]) - L + 1)
    seg = ref[rname][pos - 1:pos - 1 + L]
    rev = i % 4 in (1, 2)
    q = qual(L)
    name = f"r{i:02d}"
    orig = revcomp(seg) if rev else seg
    fastq.append((name, orig, q))
    reads.append((name, 16 if rev else 0, rname, pos, mapqs[i % len(mapqs)], f"{L}M", seg,
                  q[::-1] if rev else q))
# unmapped, secondary, supplementary, no quality, a proper pair
seg = ref["hs20"][1000:1090]; q = qual(90)
fastq.append(("r21", seg, q)); reads.append(("r21", 4, "*", 0, 0, "*", seg, q))
seg = ref["hsap22"][200:300]; q = qual(100)
reads.append(("r22", 256, "hsap22", 201, 0, "100M", seg, q))
seg = ref["vchoI"][10:70]; q = qual(60)
reads.append(("r23", 2048 | 16, "vchoI", 11, 40, "60M", seg, q[::-1]))
seg = ref["hs20"][1500:1580]
fastq.append(("r24", seg, None)); reads.append(("r24", 0, "hs20", 1501, 25, "80M", seg, "*"))
a = ref["hs20"][2000:2100]; b = ref["hs20"][2250:2350]; qa = qual(100); qb = qual(100)
fastq.append(("p1", a, qa)); fastq.append(("p1", revcomp(b), qb))
reads.append(("p1", 99, "hs20", 2001, 60, "100M", a, qa))
reads.append(("p1", 147, "hs20", 2251, 60, "100M", b, qb[::-1]))

with open("reads.fq", "w") as f:
    for name, s, q in fastq:
        if q is None:
            continue
        f.write(f"@{name} sampled\n{s}\n+\n{q}\n")
with open("aln.sam", "w") as f:
    f.write("@HD\tVN:1.6\tSO:unsorted\n")
    for name, desc, seq, width in recs:
        # M5 and a relative UR given here so that the CRAM writer does not add this machine's path
        m5 = hashlib.md5(seq.upper().encode()).hexdigest()
        f.write(f"@SQ\tSN:{name}\tLN:{len(seq)}\tM5:{m5}\tUR:ref.fa\n")
    for name, flag, rname, pos, mapq, cigar, seq, q in reads:
        pnext = {99: 2251, 147: 2001}.get(flag, 0)
        rnext = "=" if flag in (99, 147) else "*"
        tlen = {99: 350, 147: -350}.get(flag, 0)
        f.write(f"{name}\t{flag}\t{rname}\t{pos}\t{mapq}\t{cigar}\t{rnext}\t{pnext}\t{tlen}\t{seq}\t{q}\n")
EOF

# ---------------------------------------------------------------------------- FASTA variants
samtools faidx ref.fa                                   # ref.fa.fai (CRAM needs it too)
gzip -n -9 -c ref.fa > ref_gzip.fa.gz
bgzip -c -i -I ref_bgzip.fa.gz.gzi ref.fa > ref_bgzip.fa.gz
samtools faidx ref_bgzip.fa.gz                          # ref_bgzip.fa.gz.fai

# Regions: name<TAB>sequence as samtools faidx gives them (bgzip file, through .gzi).
for reg in hs20:1-60 hs20:59-61 hs20:1,001-1,100 hsap22 vchoI:900- hs20:2400-2400 \
           hsap22:1-1 vchoI:420-430; do
    printf '%s\t%s\n' "$reg" "$(samtools faidx ref_bgzip.fa.gz "$reg" | tail -n +2 | tr -d '\n')"
done > expected/regions.tsv

# ---------------------------------------------------------------------------- alignments
samtools sort --no-PG -O bam -o aln.bam aln.sam
samtools index aln.bam
samtools view --no-PG -C -T ref.fa -o aln.cram aln.bam
# the CRAM writer puts this machine's absolute path of ref.fa into UR:; put back the relative one
samtools view --no-PG -H aln.bam > "$tmp/header.sam"
samtools reheader --no-PG -i "$tmp/header.sam" aln.cram
samtools index aln.cram
# samtools' own view of the reads, in file order, original orientation (-F 0x900 default)
samtools fastq -n aln.sam 2>/dev/null | paste - - - - | cut -f1,2,4 | sed 's/^@//' \
    > expected/aln.sam.fastq.tsv
samtools fastq -n aln.bam 2>/dev/null | paste - - - - | cut -f1,2,4 | sed 's/^@//' \
    > expected/aln.bam.fastq.tsv
# filter counts: min_mapq require exclude region count
{
    for args in "0 0 0x900 -" "20 0 0x900 -" "0 0x10 0x900 -" "0 0 0x904 -" "0 0 0 -" \
                "0 0x40 0x900 -" "30 0x1 0x900 -" "0 0 0x900 hs20:1000-1500" \
                "0 0 0x900 vchoI" "0 0 0x900 hs20:2,300-2,400" "0 0 0 hsap22"; do
        set -- $args
        if [ "$4" = - ]; then r=(); else r=("$4"); fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
            "$(samtools view -c -q "$1" -f "$2" -F "$3" aln.bam "${r[@]}")"
    done
} > expected/counts.tsv

# ---------------------------------------------------------------------------- malformed inputs
: > bad/empty.fa
gzip -n -c bad/empty.fa > bad/empty.fa.gz
printf '\n  \n\t\n' > bad/blank_only.fa
printf 'ACGTACGT\nACGT\n>r1\nACGT\n' > bad/no_header.fa
printf '\n\nsome notes\n>r1\nACGT\n' > bad/text_before_header.fa
printf '>r1 first\nACGTACGTAC\nACG*TACGT\n' > bad/bad_star.fa
printf '>r1\nACGTACGTAC\n>r2\nACGTN\0ACGT\n' > bad/bad_nul.fa
printf '>r1\nACGT7ACGT\n' > bad/bad_digit.fa
printf '>gapped\nACGT--ACGT\n' > bad/bad_dash.fa
printf '>prot\nMKLVEFQ\n' > bad/bad_protein.fa
printf '>r1\nACGT ACGT\n' > bad/bad_space.fa
printf '>\nACGT\n' > bad/empty_name.fa
printf '>r1\nAC\n> only a description\nACGT\n' > bad/empty_name2.fa
printf '>r1\n>r2\nACGT\n' > bad/empty_seq.fa
printf '>r1\nACGT\n>r2\n\n' > bad/empty_seq_last.fa
printf '>r1 desc\r\nACGT\r\nacgt  \r\n\r\n>r2\r\nNNRY \t\r\n' > bad/crlf.fa
printf '@r1\nACGTACGTAC\n+\nIIIIIIII\n@r2\nACGT\n+\nIIII\n' > bad/fq_short_qual.fq
printf '@r1\nACGTACGTAC\n+\nIIIIIIIIIIII\n' > bad/fq_long_qual.fq
printf '@r1\nACGT\n+\nIIII\n@r2\nACGT\n@r3\nACGT\n+\nIIII\n' > bad/fq_no_plus.fq
printf '@r1\nACGT\n+\nIIII\n@r2\nACGT\n' > bad/fq_no_plus_eof.fq
printf '@r1\nACGT\n+\nII I\n' > bad/fq_bad_qual.fq
printf '@r1\nACGT\n+\nIIII\nr2\nACGT\n+\nIIII\n' > bad/fq_bad_header.fq
printf '@m1 multi\nACGTA\nCGTAC\n+m1 multi\nIIIII\nJJJJJ\n\n@m2\nGGCC\n+\nABCD\n' > bad/fq_multiline.fq
printf '@r1\nACGT\n+\n\n' > bad/fq_empty_qual.fq
printf '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n' > bad/not_seq.vcf
bzip2 -c ref.fa > bad/ref.fa.bz2                        # a compression htslib's BGZF cannot read
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > bad/binary.png
# truncations: gzip cut mid-stream; bgzip cut mid-block and cut before its EOF block
n=$(stat -c %s ref_gzip.fa.gz);  head -c $((n / 2)) ref_gzip.fa.gz > bad/trunc_gzip.fa.gz
n=$(stat -c %s ref_bgzip.fa.gz); head -c $((n / 2)) ref_bgzip.fa.gz > bad/trunc_bgzip_mid.fa.gz
head -c $((n - 28)) ref_bgzip.fa.gz > bad/trunc_bgzip_eof.fa.gz
n=$(stat -c %s aln.bam); head -c $((n * 2 / 3)) aln.bam > bad/trunc_mid.bam
head -c $((n - 28)) aln.bam > bad/trunc_eof.bam
n=$(stat -c %s aln.cram); head -c $((n - 38)) aln.cram > bad/trunc_eof.cram
head -c 200 aln.bam > bad/trunc_header.bam
# SAM with '=' (match-to-reference) in SEQ, which we cannot turn into a base
{ printf '@SQ\tSN:hs20\tLN:2400\n'; printf 'e1\t0\ths20\t700\t60\t8M\t*\t0\t0\tAC=TACGT\tIIIIIIII\n'; } \
    > bad/bad_eq.sam
# SAM line with too few columns
{ printf '@SQ\tSN:hs20\tLN:2400\n'; printf 'ok1\t0\ths20\t700\t60\t4M\t*\t0\t0\tACGT\tIIII\n';
  printf 'broken\t0\ths20\n'; } > bad/bad_line.sam

ls -la . bad expected | awk '{s += $5} END {print "fixtures total:", s, "bytes"}'
