# longscan — one hand-written Makefile, no configure step.
#
#   make              install missing Debian packages, build build/longscan (+ CUDA objects
#                     when nvcc is found)
#   make demo         the same, then run the example job
#   make test         the same, then build and run the whole test suite (TAP, summarised by
#                     prove); Python cross-checks run in a virtual environment, build/venv
#   make test SAN=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-gpu     GPU parity tests (on a machine with a GPU)
#   make bench        I/O benchmarks on ../shared/data (not part of the tests)
#   make fuzz         libFuzzer targets for every parser (clang)
#   CUDA=0            leave the CUDA objects out (CPU-only build)
#   CUDA_ARCH=90      SASS for this compute capability, plus PTX so newer GPUs JIT it

# ---------------------------------------------------------------------------- defaults
# make's built-in CC is `cc`; the compiler this Makefile installs and is tested with is gcc.
ifeq ($(origin CC),default)
CC         = gcc
endif
CUDA_ARCH ?= 90
SAN       ?= 0
JOBS      ?= 2
CFLAGS    ?= -O2 -g
WARNINGS   = -Wall -Wextra -Werror=implicit-function-declaration -Wno-unused-parameter \
             -Wno-format-truncation
# The toolchain (make itself is given), the libraries, and what the tests and the demo run:
# perl for prove, python3 + python3-venv for the cross-checks' virtual environment,
# samtools/tabix/sox for the command-line cross-checks, bsdextrautils for the demo's column,
# python3-torch (Debian's CPU-only build) for the transformers cross-checks, gnuplot-nox for
# the PNGs of `compare` and `bench models` (without it they write the data and scripts only).
PACKAGES   = gcc libc6-dev binutils pkg-config perl python3 python3-venv \
             libhts-dev libsndfile1-dev libsamplerate0-dev libcjson-dev \
             libopenblas-dev libcmocka-dev zlib1g-dev samtools tabix sox libsox-fmt-base \
             bsdextrautils python3-torch gnuplot-nox
PKGS       = htslib sndfile samplerate libcjson openblas

ifeq ($(SAN),1)
BUILD     ?= build-san
SANFLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# ASan and the CUDA runtime do not mix (the runtime maps fixed shadow ranges); the
# sanitizer build is CPU-only unless asked otherwise.
CUDA      ?= 0
else
BUILD     ?= build
SANFLAGS   =
endif

# Quiet by default; V=1 shows every command.
ifeq ($(V),1)
Q =
else
Q = @
endif

# ---------------------------------------------------------------------------- probes
# Printed by the make that compiles: the user targets below only install packages and then
# hand over to a second make, which would print it again.
OUTER_GOALS = all demo test check deps pydeps asan test-gpu bench fuzz clean
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
ifeq ($(CUDA),0)
NVCC :=
endif
ifneq ($(filter-out $(OUTER_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(CUDA),0)
$(info ✗ CUDA objects left out (CUDA=0))
else ifeq ($(NVCC),)
$(info ✗ nvcc not found: CPU-only build)
else
$(info ✓ nvcc found at $(NVCC): CUDA objects for sm_$(CUDA_ARCH) + PTX)
endif
endif

CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARNINGS) -fopenmp -I. $(PKG_CFLAGS) $(SANFLAGS)
LDLIBS     = $(PKG_LIBS) -lz -lm -lpthread -ldl -fopenmp
# --default-stream per-thread: a NULL stream in kernels/cuda is the thread's own stream, not the
# legacy default stream, which CUDA graphs cannot capture (generation captures its steps).
NVCCFLAGS  = -O3 -std=c++17 -I. -lineinfo --expt-relaxed-constexpr --default-stream per-thread \
             -gencode arch=compute_$(CUDA_ARCH),code=sm_$(CUDA_ARCH) \
             -gencode arch=compute_$(CUDA_ARCH),code=compute_$(CUDA_ARCH) \
             -DLS_CUDA_ARCH_NAME='"sm_$(CUDA_ARCH) (+PTX)"' -Xcompiler -fPIC,-Wall

# ---------------------------------------------------------------------------- sources
LIB_C    = $(wildcard common/*.c io/*.c kernels/*.c kernels/cpu/*.c models/*.c) \
           $(filter-out pipeline/main.c,$(wildcard pipeline/*.c))
CUDA_CU  = $(wildcard kernels/cuda/*.cu)
ifeq ($(NVCC),)
LIB_OBJ  = $(LIB_C:%.c=$(BUILD)/obj/%.o)
CUDA_LIBS =
else
LIB_OBJ  = $(filter-out $(BUILD)/obj/kernels/cuda_none.o,$(LIB_C:%.c=$(BUILD)/obj/%.o)) \
           $(CUDA_CU:%.cu=$(BUILD)/obj/%.cu.o)
CUDA_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart_static -lcublas -lcublasLt \
            -ldl -lrt -lstdc++
endif
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
TOOL_SRC  = $(wildcard tools/*.c)
TOOL_BIN  = $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)
GPU_TEST_SRC = $(wildcard tests/gpu/*.c)
HEADERS   = $(wildcard common/*.h io/*.h kernels/*.h models/*.h pipeline/*.h tests/*.h \
                       kernels/cuda/*.cuh)

.PHONY: all demo test check test-run test-gpu bench fuzz asan deps pydeps clean gpu-bundle \
        gpu-bundle-model gpu-bundle-stream gpu-bundle-all gpu-bundle-pack gpu-bundle-curve \
        gpu-bundle-dropout gpu-bundle-induction gpu-bundle-gen gpu-bundle-dp gpu-bundle-sp \
        gpu-bundle-gck \
        gpu-bundle-recipes-a gpu-bundle-recipes-b gpu-bundle-recipes-c gpu-bundle-recipes-d \
        gpu-bundle-recipes-e gpu-bundle-recipes-f
# The package probe must run before make reads the pkg-config flags, hence the sub-make.
all: deps
	@$(MAKE) --no-print-directory $(BUILD)/longscan

# ---------------------------------------------------------------------------- Debian packages
# `make` installs what is missing (as root, through apt-get) so a fresh Debian 12 machine
# needs nothing but git and make. A non-root user gets the apt-get line to run instead.
DEPS_STAMP = $(BUILD)/.deps-ok
$(DEPS_STAMP): Makefile
	@mkdir -p $(BUILD)
	@missing=""; for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing Debian packages:$$missing"; \
	        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >$(BUILD)/apt.log 2>&1 \
	            || { tail -20 $(BUILD)/apt.log; echo "apt-get failed (log: $(BUILD)/apt.log)"; exit 1; }; \
	    else \
	        echo "missing Debian packages; run: sudo apt-get install$$missing"; exit 1; \
	    fi; \
	fi
	@touch $@
deps: $(DEPS_STAMP)

# Python is used only by tests, as a cross-check (safetensors files read by the reference
# implementation); the product never needs it. Its packages go into a virtual environment in
# the build folder, never into the system Python (Debian 12 refuses that: PEP 668). Every
# tests/requirements*.txt is installed; the stamp is named by a hash of their contents, so a
# warm environment is reused and pip runs again only when a requirements file changes.
# The environment is made from Debian's python3 with its packages visible (--system-site-
# packages): PyTorch for the transformers cross-checks is Debian's CPU-only python3-torch
# (tests/requirements-torch.txt says why not PyPI's).
VENV_PYTHON ?= /usr/bin/python3
VENV         = $(BUILD)/venv
REQUIREMENTS = $(sort $(wildcard tests/requirements*.txt))
REQ_KEY     := $(shell cat $(REQUIREMENTS) /dev/null | sha256sum | cut -c1-16)
PYDEPS_STAMP = $(VENV)/.requirements-$(REQ_KEY)
# (made afresh when its marker is gone: a removed Python, or an environment made before it
# saw the system's packages; the requirement stamps go with it)
VENV_MARK    = $(VENV)/.system-site-packages
$(VENV_MARK): | $(DEPS_STAMP)
	@echo "creating the tests' Python environment in $(VENV)"
	@rm -rf $(VENV)
	$(Q)$(VENV_PYTHON) -m venv --system-site-packages $(VENV) || { rm -rf $(VENV); exit 1; }
	@touch $@
$(PYDEPS_STAMP): $(VENV_MARK)
	@echo "installing $(REQUIREMENTS) into $(VENV)"
	@rm -f $(VENV)/.requirements-*
	$(Q)$(VENV)/bin/python -m pip install -q --disable-pip-version-check \
	    $(addprefix -r ,$(REQUIREMENTS))
	@touch $@
pydeps: deps
	@$(MAKE) --no-print-directory $(PYDEPS_STAMP)

# ---------------------------------------------------------------------------- build rules
# Package flags are read when make starts; on a machine that had to install them, the
# objects are built by a second make run so the flags are seen.
$(BUILD)/obj/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(if $(NVCC),-DLS_HAVE_CUDA) -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/liblongscan.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/longscan: $(BUILD)/obj/pipeline/main.o $(BUILD)/liblongscan.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS) $(CUDA_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liblongscan.a $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BUILD)/liblongscan.a -o $@ $(LDLIBS) -lcmocka $(CUDA_LIBS)

# Test-only programs (fixture writers, dumpers used by tests/py and tests/cli).
$(BUILD)/tests/helpers/%: tests/helpers/%.c $(BUILD)/liblongscan.a $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BUILD)/liblongscan.a -o $@ $(LDLIBS) $(CUDA_LIBS)

$(BUILD)/tools/%: tools/%.c $(BUILD)/liblongscan.a $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $< $(BUILD)/liblongscan.a -o $@ $(LDLIBS) $(CUDA_LIBS)

$(BUILD)/test_gpu: $(GPU_TEST_SRC) $(BUILD)/liblongscan.a $(HEADERS)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(GPU_TEST_SRC) $(BUILD)/liblongscan.a -o $@ $(LDLIBS) $(CUDA_LIBS)

# Kernel development harnesses (kernels/dev, STYLE 38): never linked into longscan. The scan
# harness includes kernels/cuda/scan.cu itself, so it links only the CPU spec and the helpers.
DEV_SCAN_OBJ = $(BUILD)/obj/kernels/scan.o $(BUILD)/obj/kernels/cpu/scan.o \
               $(BUILD)/obj/common/error.o $(BUILD)/obj/kernels/cuda/device.cu.o
$(BUILD)/dev/scan: kernels/dev/scan.cu kernels/cuda/scan.cu $(DEV_SCAN_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $@")
	$(Q)$(NVCC) $(NVCCFLAGS) kernels/dev/scan.cu $(DEV_SCAN_OBJ) -Xcompiler -fopenmp -o $@

# The conv and attention harnesses link the whole library (their CPU specs and CUDA ops).
$(BUILD)/dev/conv $(BUILD)/dev/attention: $(BUILD)/dev/%: kernels/dev/%.cu $(BUILD)/liblongscan.a \
                                          $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $@")
	$(Q)$(NVCC) $(NVCCFLAGS) $< $(BUILD)/liblongscan.a -Xcompiler -fopenmp -o $@ \
	    $(PKG_LIBS) -lz -lm -lcublas -lcublasLt

# Everything the lent GPU machine runs, bundled with the libraries it lacks (bench/gpu.sh).
gpu-bundle: $(BUILD)/longscan $(BUILD)/test_gpu $(BUILD)/dev/scan $(BUILD)/dev/conv \
            $(BUILD)/dev/attention
	bash bench/gpu_bundle.sh .gpu $^

# The whole-model device call (bench/gpu_model.sh): longscan, test_gpu, the script, the shipped
# bacteria windows and the anchors' model and Transformer peers.
gpu-bundle-model: $(BUILD)/longscan $(BUILD)/test_gpu
	bash bench/gpu_bundle.sh .gpu-model $^
	cp bench/gpu_model.sh bench/gpu_common.sh .gpu-model/
	mkdir -p .gpu-model/data && cp examples/data/dna/bacteria_t*.fa.gz* \
	    examples/data/dna/bacteria_t*.labels.tsv .gpu-model/data/
	cp ../shared/anchors/peers-model-h100.json ../shared/anchors/peers-transformer-h100.json \
	    .gpu-model/

# Issue 13's device call (bench/gpu_stream.sh): longscan, test_gpu, the script and GRCh37 chr20
# with its BGZF indexes (the whole bundle < 60 MiB).
gpu-bundle-stream: $(BUILD)/longscan $(BUILD)/test_gpu
	bash bench/gpu_bundle.sh .gpu-stream $^
	cp bench/gpu_stream.sh bench/gpu_common.sh .gpu-stream/
	mkdir -p .gpu-stream/data && cp ../shared/data/dna/human-grch37-chr20/chr20.fa.gz* \
	    .gpu-stream/data/
	du -sh .gpu-stream

# Both device calls' scripts in one bundle (one machine start for both): gpu_model.sh and
# gpu_stream.sh with their data, one set of binaries. On the device:
#   OUT=$OUT/model bash .gpu-all/gpu_model.sh; OUT=$OUT/stream SKIP_PARITY=1 bash .gpu-all/gpu_stream.sh
#   (and OUT=$OUT/pack SKIP_PARITY=1 bash .gpu-all/gpu_pack.sh)
gpu-bundle-all: $(BUILD)/longscan $(BUILD)/test_gpu
	bash bench/gpu_bundle.sh .gpu-all $^
	cp bench/gpu_model.sh bench/gpu_stream.sh bench/gpu_pack.sh bench/gpu_curve.sh \
	    bench/gpu_common.sh .gpu-all/
	mkdir -p .gpu-all/data && cp examples/data/dna/bacteria_t*.fa.gz* \
	    examples/data/dna/bacteria_t*.labels.tsv ../shared/data/dna/human-grch37-chr20/chr20.fa.gz* \
	    .gpu-all/data/
	cp ../shared/anchors/peers-model-h100.json ../shared/anchors/peers-transformer-h100.json \
	    .gpu-all/
	du -sh .gpu-all

# The packed batches' device call (bench/gpu_pack.sh): longscan, test_gpu, the script, the
# shipped bacteria data.
gpu-bundle-pack: $(BUILD)/longscan $(BUILD)/test_gpu
	bash bench/gpu_bundle.sh .gpu-pack $^
	cp bench/gpu_pack.sh bench/gpu_common.sh .gpu-pack/
	mkdir -p .gpu-pack/data && cp examples/data/dna/bacteria_t*.fa.gz* \
	    examples/data/dna/bacteria_t*.labels.tsv .gpu-pack/data/

# The dropout device call (bench/gpu_dropout.sh): longscan, test_gpu, the script, the shipped
# bacteria data.
gpu-bundle-dropout: $(BUILD)/longscan $(BUILD)/test_gpu
	bash bench/gpu_bundle.sh .gpu-dropout $^
	cp bench/gpu_dropout.sh bench/gpu_common.sh .gpu-dropout/
	mkdir -p .gpu-dropout/data && cp examples/data/dna/bacteria_train.fa.gz* \
	    examples/data/dna/bacteria_train.labels.tsv .gpu-dropout/data/
	du -sh .gpu-dropout

# The fused generation step's device call (bench/gpu_gen.sh): longscan, test_gpu, the script.
gpu-bundle-gen: $(BUILD)/longscan $(BUILD)/test_gpu
	bash bench/gpu_bundle.sh .gpu-gen $^
	cp bench/gpu_gen.sh bench/gpu_common.sh .gpu-gen/
	du -sh .gpu-gen

# The curve's device call (bench/gpu_curve.sh): longscan and the script.
gpu-bundle-curve: $(BUILD)/longscan
	bash bench/gpu_bundle.sh .gpu-curve $^
	cp bench/gpu_curve.sh bench/gpu_common.sh .gpu-curve/
	du -sh .gpu-curve

# Issue 15's induction heads on the GPU (bench/gpu_induction.sh): longscan and the script.
gpu-bundle-induction: $(BUILD)/longscan
	bash bench/gpu_bundle.sh .gpu-induction $^
	cp bench/gpu_induction.sh bench/gpu_common.sh .gpu-induction/
	du -sh .gpu-induction

# Issue 17's data parallel on the GPU (bench/gpu_dp.sh): longscan and the scripts; NCCL is not
# carried (the machine's PyTorch wheel has it: the script finds it).
gpu-bundle-dp: $(BUILD)/longscan
	bash bench/gpu_bundle.sh .gpu-dp $^
	cp bench/gpu_dp.sh bench/gpu_common.sh .gpu-dp/
	@! ls .gpu-dp/lib .gpu-dp/libz 2>/dev/null | grep -i nccl
	du -sh .gpu-dp

# Sequence parallel across GPUs (bench/gpu_sp.sh): the same bundle as gpu-bundle-dp.
gpu-bundle-sp: $(BUILD)/longscan
	bash bench/gpu_bundle.sh .gpu-sp $^
	cp bench/gpu_sp.sh bench/gpu_common.sh .gpu-sp/
	@! ls .gpu-sp/lib .gpu-sp/libz 2>/dev/null | grep -i nccl
	du -sh .gpu-sp

# Layer-input checkpointing on one GPU (bench/gpu_gck.sh): train --grad-checkpoint's bytes
# against K = 1, and bench model's tokens/s and peak memory at L = 1M, 4M, 8M for K = 1, 2, 4.
gpu-bundle-gck: $(BUILD)/longscan
	bash bench/gpu_bundle.sh .gpu-gck $^
	cp bench/gpu_gck.sh bench/gpu_common.sh .gpu-gck/
	du -sh .gpu-gck

# The result recipes' device calls (bench/gpu_recipes.sh a|b|c|d): longscan, tools/spectrogram,
# the examples scripts, the driver and the call's data (.gpu-recipes-<call>/); calls d and e
# also carry test_gpu (the dropout and seqpar suites); call f also carries
# bench/gpu_induction.sh.
gpu-bundle-recipes-a gpu-bundle-recipes-b gpu-bundle-recipes-c gpu-bundle-recipes-d \
        gpu-bundle-recipes-e gpu-bundle-recipes-f gpu-bundle-recipes-g: gpu-bundle-recipes-%: \
        $(BUILD)/longscan $(BUILD)/tools/spectrogram
	BUILD=$(BUILD) bash bench/gpu_recipes_bundle.sh $* .gpu-recipes-$*
gpu-bundle-recipes-d gpu-bundle-recipes-e: $(BUILD)/test_gpu

# ---------------------------------------------------------------------------- user targets
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/longscan
	@BUILD=$(BUILD) bash examples/demo.sh

test check: deps
	@$(MAKE) --no-print-directory test-run

# Tests run python (tests/py/*.py by their `#!/usr/bin/env python3`, tests/cli tables by name)
# from the virtual environment: its bin/ comes first on PATH, and PYTHON names it.
TEST_PROGRAMS = $(UNIT_BIN) $(wildcard tests/cli/test_*.sh) $(wildcard tests/py/test_*.py)
test-run: $(BUILD)/longscan $(UNIT_BIN) $(HELPER_BIN) $(TOOL_BIN) $(PYDEPS_STAMP)
	@LONGSCAN=$(abspath $(BUILD))/longscan LS_BUILD=$(abspath $(BUILD)) LS_SAN=$(SAN) \
	    PATH="$(abspath $(VENV))/bin:$$PATH" PYTHON=$(abspath $(VENV))/bin/python \
	    prove --exec '' -j$(JOBS) $(TEST_PROGRAMS)

asan:
	@$(MAKE) --no-print-directory test SAN=1

test-gpu: deps
	@$(MAKE) --no-print-directory $(BUILD)/longscan $(BUILD)/test_gpu
	$(BUILD)/test_gpu

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/longscan
	bash bench/io.sh

FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz CUDA=0 \
	    WARNINGS="-Wall -Wextra -Wno-unused-parameter" \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/liblongscan.a
	@mkdir -p build-fuzz/fuzz
	@for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    clang -std=c11 -D_GNU_SOURCE -O1 -g -I. $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	        $$f build-fuzz/liblongscan.a -o build-fuzz/fuzz/$$n $(PKG_LIBS) -lz -lm -fopenmp || exit 1; \
	    echo "built build-fuzz/fuzz/$$n (run: build-fuzz/fuzz/$$n -max_total_time=60 tests/fuzz/corpus/$${n#fuzz_})"; \
	done

clean:
	rm -rf build build-san build-fuzz
