#!/usr/bin/env bash
# bench/gpu_recipes_collect.sh DIR... — after the device calls of bench/gpu_recipes.sh: each DIR
# holds what one call returned (recipes-<call>.tar.gz, summary.tsv, metrics.jsonl, status.tsv,
# driver.log). For each: the raw files are copied to bench/results/recipes-<commit>-<call>/
# (commit from the metrics; the tarball without its checkpoints, the WAVs beside it), the tarball is unpacked into build/examples-gpu/<call>/ and what
# the GPU machine could not draw is drawn here (gnuplot: the great-apes accuracy plot, the
# spectrogram of each generated WAV); then docs/results.md's table is written from every
# DIR's metrics.jsonl (examples/fill_results.py --write).
#   bench/gpu_recipes_collect.sh /work/notes/results-recipes-a /work/notes/results-recipes-b
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "usage: gpu_recipes_collect.sh DIR..." >&2; exit 2; }
jsonl=()
for dir in "$@"; do
    tarball=$(ls "$dir"/recipes-*.tar.gz 2>/dev/null | head -1)
    [ -n "$tarball" ] || { echo "gpu_recipes_collect.sh: $dir: no recipes-*.tar.gz" >&2; exit 1; }
    call=$(basename "$tarball" .tar.gz); call=${call#recipes-}
    commit=$(grep -o '"commit":"[^"]*"' "$dir/metrics.jsonl" | head -1 | cut -d'"' -f4)
    dest=$root/bench/results/recipes-${commit:-unknown}-$call
    mkdir -p "$dest"
    unpacked=$root/build/examples-gpu/$call
    rm -rf "$unpacked" && mkdir -p "$unpacked" && tar -xzf "$tarball" -C "$unpacked"
    # the raw files, but the tarball without checkpoints (the µ-law LM is 7 MB: it would
    # crowd the checkout, which every device call carries); the generated WAVs beside it
    for f in "$dir"/*; do [ -f "$f" ] && [ "$f" != "$tarball" ] && cp "$f" "$dest/"; done
    (cd "$unpacked" && tar -czf "$dest/$(basename "$tarball")" --exclude='*.safetensors' *)
    cp "$unpacked"/*/media/*.wav "$dest/" 2>/dev/null || true
    echo "raw files: $dest ($(du -sh "$dest" | cut -f1); checkpoints left in $tarball)"
    jsonl+=("$dest/metrics.jsonl")
    if command -v gnuplot > /dev/null; then
        for gp in "$unpacked"/*/accuracy.gp; do
            [ -e "$gp" ] || continue
            step=$(dirname "$gp")
            (cd "$step" && gnuplot accuracy.gp)
            cp "$step/accuracy.png" "$dest/$(basename "$step")-accuracy.png"
            echo "plot: $dest/$(basename "$step")-accuracy.png"
        done
        for wav in "$unpacked"/*/media/lm.s*.wav; do
            [ -e "$wav" ] || continue
            step=$(dirname "$(dirname "$wav")")
            ONLY=plot OUT=$step bash "$root/examples/fsdd-lm/run.sh" | grep '^plot'
            cp "$step"/media/*.png "$dest/" 2>/dev/null || true
        done
    else
        echo "gnuplot is not installed: plots not drawn"
    fi
done
python3 "$root/examples/fill_results.py" --write "$root/docs/results.md" "${jsonl[@]}"
echo "docs/results.md: table written from ${jsonl[*]}"
