# longscan — one hand-written Makefile, no configure step.
#
#   make              build build/longscan (+ CUDA objects when nvcc is found)
#   make demo         install missing Debian packages, build, run the example job
#   make test         build and run the whole test suite (TAP, summarised by prove)
#   make test SAN=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-gpu     GPU parity tests (on a machine with a GPU)
#   make bench        I/O benchmarks on ../shared/data (not part of the tests)
#   make fuzz         libFuzzer targets for every parser (clang)
#   CUDA=0            leave the CUDA objects out (CPU-only build)
#   CUDA_ARCH=90      SASS for this compute capability, plus PTX so newer GPUs JIT it

# ---------------------------------------------------------------------------- defaults
CC        ?= gcc
CUDA_ARCH ?= 90
SAN       ?= 0
JOBS      ?= 2
PYTHON    ?= python3
CFLAGS    ?= -O2 -g
WARNINGS   = -Wall -Wextra -Werror=implicit-function-declaration -Wno-unused-parameter \
             -Wno-format-truncation
PACKAGES   = pkg-config libhts-dev libsndfile1-dev libsamplerate0-dev libcjson-dev \
             libopenblas-dev libcmocka-dev zlib1g-dev samtools tabix sox libsox-fmt-base
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
ifneq ($(MAKECMDGOALS),deps)
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
ifeq ($(CUDA),0)
NVCC :=
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
LDLIBS     = $(PKG_LIBS) -lz -lm -lpthread -fopenmp
NVCCFLAGS  = -O3 -std=c++17 -I. -lineinfo --expt-relaxed-constexpr \
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
CUDA_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart_static -lcublas \
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

.PHONY: all demo test check test-gpu bench fuzz asan deps pydeps clean
all: $(BUILD)/longscan

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
# implementation). The product never needs it.
PYDEPS_STAMP = $(BUILD)/.pydeps-ok
$(PYDEPS_STAMP): tests/requirements.txt
	@mkdir -p $(BUILD)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	@touch $@
pydeps: $(PYDEPS_STAMP)

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

# ---------------------------------------------------------------------------- user targets
# The package probe must run before make reads the pkg-config flags, hence the sub-make.
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/longscan
	@BUILD=$(BUILD) bash examples/demo.sh

test check: deps
	@$(MAKE) --no-print-directory test-run

TEST_PROGRAMS = $(UNIT_BIN) $(wildcard tests/cli/test_*.sh) $(wildcard tests/py/test_*.py)
test-run: $(BUILD)/longscan $(UNIT_BIN) $(HELPER_BIN) $(TOOL_BIN) $(PYDEPS_STAMP)
	@LONGSCAN=$(CURDIR)/$(BUILD)/longscan LS_BUILD=$(CURDIR)/$(BUILD) LS_SAN=$(SAN) \
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
