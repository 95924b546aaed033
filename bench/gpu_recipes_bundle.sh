#!/usr/bin/env bash
# bench/gpu_recipes_bundle.sh CALL DIR — `make gpu-bundle-recipes-a` / `-b`: the bundle of one
# device call of the result recipes (bench/gpu_recipes.sh CALL): longscan and
# tools/spectrogram without their debug sections, with the libraries the GPU machine lacks
# (bench/gpu_bundle.sh: gzipped), the examples scripts, the driver, and the data the call's
# recipes read as DIR/data.tar.gz, laid out as ../shared/data (only the files they open: the
# train and dev splits, their indexes and labels). A device call carries at most 64 MiB in
# all, the checkout included, so the bundle must stay under 60 MiB.
set -euo pipefail
call=$1 dir=$2
build=${BUILD:-build}
data=${SHARED_DATA:-../shared/data}
# the files, as globs relative to the data folder (expanded there; one that matches nothing
# stays as written and tar fails on it)
case $call in
a) globs="dna/gue/*/train.fa.gz dna/gue/*/train.labels.tsv dna/gue/*/dev.fa.gz
          dna/gue/*/dev.labels.tsv audio/fsdd/split.tsv audio/fsdd/recordings" ;;
b) globs=""
   for d in great-apes-chr22 bacteria-species; do
       for s in train dev; do
           globs="$globs dna/$d/$s/labels.tsv dna/$d/$s/*.fa.gz dna/$d/$s/*.fa.gz.fai
                  dna/$d/$s/*.fa.gz.gzi"
       done
   done ;;
c) globs="audio/fsdd/split.tsv audio/fsdd/recordings dna/gb-test-splits/*/test.fa.gz
          dna/gb-test-splits/*/test.labels.tsv dna/gb-test-splits/*/folds.tsv" ;;
d) globs="dna/gue/prom_core_notata/train.fa.gz dna/gue/prom_core_notata/train.labels.tsv
          dna/gue/prom_core_notata/dev.fa.gz dna/gue/prom_core_notata/dev.labels.tsv
          audio/fsdd/split.tsv audio/fsdd/recordings" ;;
e) globs="dna/gue/*/train.fa.gz dna/gue/*/train.labels.tsv dna/gue/*/dev.fa.gz
          dna/gue/*/dev.labels.tsv dna/gb-test-splits/*/test.fa.gz
          dna/gb-test-splits/*/test.labels.tsv dna/gb-test-splits/*/folds.tsv" ;;
f) globs="dna/human-grch37-chr20/chr20.fa.gz dna/human-grch37-chr20/chr20.fa.gz.fai
          dna/human-grch37-chr20/chr20.fa.gz.gzi" ;;
g) globs="dna/gue/*/train.fa.gz dna/gue/*/train.labels.tsv dna/gue/*/dev.fa.gz
          dna/gue/*/dev.labels.tsv" ;;
*) echo "usage: gpu_recipes_bundle.sh a|b|c|d|e|f|g DIR" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
strip --strip-debug -o "$tmp/longscan" "$build/longscan"
strip --strip-debug -o "$tmp/spectrogram" "$build/tools/spectrogram"
bins=("$tmp/longscan" "$tmp/spectrogram")
# calls d and e also run a GPU test suite: the GPU test binary goes with them
if [ "$call" = d ] || [ "$call" = e ]; then
    strip --strip-debug -o "$tmp/test_gpu" "$build/test_gpu"
    bins+=("$tmp/test_gpu")
fi
bash bench/gpu_bundle.sh "$dir" "${bins[@]}" > /dev/null
rm -f "$dir"/peers-*.json
mkdir -p "$dir/examples"
cp examples/common.sh "$dir/examples/"
for r in gue genomic-benchmarks great-apes bacteria-species fsdd-digits fsdd-lm chr20-lm; do
    mkdir -p "$dir/examples/$r" && cp "examples/$r/run.sh" "$dir/examples/$r/"
done
cp bench/gpu_recipes.sh "$dir/"
# calls f and g run issue 15's induction heads after their recipes (g also issue 17's
# bench/gpu_sp.sh), call e the fused generation step's
# checks and bench (from a copy of the bundle: gpu_common.sh unpacks the binaries in place)
[ "$call" = f ] && cp bench/gpu_induction.sh bench/gpu_common.sh "$dir/"
[ "$call" = e ] && cp bench/gpu_gen.sh bench/gpu_dp.sh bench/gpu_common.sh "$dir/"
[ "$call" = g ] && cp bench/gpu_induction.sh bench/gpu_sp.sh bench/gpu_common.sh "$dir/"
# shellcheck disable=SC2086 # the globs expand in the data folder
(cd "$data" && tar -czhf - $globs) > "$dir/data.tar.gz"
size=$(du -sm "$dir" | cut -f1)
echo "bundle $dir: ${size} MiB (data $(du -sm "$dir/data.tar.gz" | cut -f1) MiB)," \
     "commit $(tr '\n' ' ' < "$dir/COMMIT")"
if [ "$size" -ge 60 ]; then
    echo "gpu_recipes_bundle.sh: $dir is $size MiB: over the 60 MiB a call can carry" >&2
    exit 1
fi
