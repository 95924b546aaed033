#!/usr/bin/env bash
# bench/gpu.sh — everything the lent GPU machine checks, in one call (see README "GPU"):
# the CUDA runtime services (tests/gpu/test_gpu.c), the CPU ops against PyTorch (the GPU machine
# has torch; tests/gpu/test_torch_ops.py), and the binary itself on shipped data.
# Build here first:  make build/test_gpu build/tests/helpers/kops_run
#                    ../shared/tools/gpu-bundle .gpu build/longscan build/test_gpu build/tests/helpers/kops_run
# then on the device: bash bench/gpu.sh   (results copied to $OUT when set)
set -u
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
status=0
exec > >(tee "$out/gpu.log") 2>&1
echo "# commit: $(cat .gpu/COMMIT 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/# gpu: /'
.gpu/run longscan --version
echo "## test_gpu"
.gpu/run test_gpu || status=1
echo "## torch cross-check of the CPU ops"
printf '#!/bin/sh\nexec "%s/.gpu/run" kops_run "$@"\n' "$PWD" > /tmp/kops_run && chmod +x /tmp/kops_run
KOPS_RUN=/tmp/kops_run python3 tests/gpu/test_torch_ops.py || status=1
echo "## longscan info on the GPU machine"
.gpu/run longscan info examples/data/dna/bacteria_test.fa.gz examples/data/audio/perc_swash.flac || status=1
exit $status
