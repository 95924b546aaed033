#!/usr/bin/env bash
# bench/gpu_bundle.sh DIR BIN... — `make gpu-bundle`: the binaries for the lent GPU machine,
# packed by ../shared/tools/gpu-bundle with the shared libraries it lacks; the largest libraries
# and the binaries travel gzipped (a device call carries at most 64 MiB) and bench/gpu.sh unpacks
# them there.
set -euo pipefail
dir=$1; shift
rm -rf "$dir"
../shared/tools/gpu-bundle "$dir" "$@" >/dev/null
mkdir -p "$dir/libz"
for lib in "$dir"/lib/*; do
    if [ "$(stat -c %s "$lib")" -gt 2000000 ]; then
        gzip -c "$lib" > "$dir/libz/$(basename "$lib").gz" && rm "$lib"
    fi
done
for bin in "$dir"/bin/*; do gzip "$bin"; done # bench/gpu.sh unpacks them there
cp ../shared/anchors/peers-h100.json "$dir/" 2>/dev/null || true
git rev-parse --short HEAD > "$dir/COMMIT"
git status --porcelain --untracked-files=no | grep -q . && echo "+dirty" >> "$dir/COMMIT"
du -sh "$dir" | awk '{print "bundle:", $1}'
