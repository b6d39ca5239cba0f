# seq — header-only; this Makefile builds the tests, examples and benchmarks.
#   make demo   run the tour of examples        make test        every test runner
#   make bench  time seq against its peers      make test-asan   the suite under ASan+UBSan
#   make install PREFIX=/usr/local              make clean
# Parallel by default: the suite compiles seq.h a dozen ways (at most 8 jobs: each -O3
# build of a whole test suite takes a few hundred MB).
NPROC    := $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 8 ] && n=8; echo $$n)
MAKEFLAGS += -j$(NPROC)
CC       ?= gcc
CXX      ?= g++
PREFIX   ?= /usr/local
WARN      = -Wall -Wextra -Werror
OPT       = -O3 -march=native
CFLAGS_C  = -std=c99 $(OPT) $(WARN)
LDLIBS    = -lm
B         = build
HEADERS   = seq.h seq_quant.h seq_rl.h seq_rec.h seq_mpi.h
EXAMPLES  = $(basename $(notdir $(wildcard examples/*.c)))
BENCHES   = $(basename $(notdir $(wildcard bench/*.c)))

# BLIS is optional: used when a program including <blis.h> links against -lblis.
HAVE_BLIS := $(shell echo 'int main(void){return 0;}' | \
               $(CC) -x c - -include blis.h -lblis -lm -o /dev/null >/dev/null 2>&1 && echo 1)
BLIS_FLAGS = -DSEQ_USE_BLIS
BLIS_LIBS  = -lblis

# MPI is optional: seq_mpi.h's MPI build (-DSEQ_USE_MPI) needs mpicc, its tests mpirun.
HAVE_MPI  := $(shell command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 && echo 1)
MPICC      = mpicc -DSEQ_USE_MPI
MPI_EXAMPLES = $(if $(HAVE_MPI),$(filter mpi_%,$(EXAMPLES)))

BENCH_BINS= $(BENCHES:%=$(B)/bench_%) $(if $(HAVE_BLIS),$(BENCHES:%=$(B)/bench_%_blis))

# One test runner per header; each links tests/harness.c. A runner depends on its own
# header and those below it, so work on seq_rl.h does not rebuild seq.h's runners.
HARNESS   = tests/harness.c tests/seq_test.h
SEQ_SRC   = tests/test_seq.c $(wildcard tests/seq_*_test.c)
QUANT_SRC = tests/test_quant.c $(wildcard tests/quant_*_test.c)
RL_SRC    = tests/test_rl.c $(wildcard tests/rl_*_test.c)
REC_SRC   = tests/test_rec.c $(wildcard tests/rec_*_test.c)
REL_SRC   = tests/test_reliability.c tests/reliability_test.c
MPI_SRC   = tests/test_mpi.c $(wildcard tests/mpi_*_test.c)
MPI_DEPS  = seq.h seq_rl.h seq_mpi.h tests/mpi_test.h
C99       = $(CC) -std=c99 $(OPT) $(WARN)
CXX11     = $(CXX) -std=c++11 $(OPT) $(WARN) -x c++
ASAN      = $(CC) -std=c99 -O1 -g -march=native $(WARN) -fsanitize=address,undefined \
            -fno-sanitize-recover=all -fno-omit-frame-pointer
UBSAN     = $(CC) -std=c99 -O2 -g -march=native $(WARN) -fsanitize=undefined -fno-sanitize-recover=all
# Valgrind decodes no AVX-512: its builds target the x86-64 baseline.
VG        = $(CC) -std=c99 -O1 -g $(WARN)
# Bit-exact ports (ggml quantizers, Gymnasium dynamics) need unfused multiply-adds.
EXACT     = -ffp-contract=off

# $(call runner,NAME,SOURCES,HEADERS,COMPILE,LIBS): rule for $(B)/NAME.
define runner
$(B)/$(1): $(2) $(HARNESS) $(3) | $(B)
	$(4) -o $$@ $(2) tests/harness.c $(5) $(LDLIBS)
endef
# seq.h on every kernel path the machine can run: AVX-512 (native), AVX2, scalar, the
# generic x86-64 baseline, OpenMP, C++, and BLIS.
$(eval $(call runner,test_seq,$(SEQ_SRC),seq.h,$(C99)))
$(eval $(call runner,test_seq_avx2,$(SEQ_SRC),seq.h,$(C99) -mno-avx512f))
$(eval $(call runner,test_seq_scalar,$(SEQ_SRC),seq.h,$(C99) -DSEQ_NO_SIMD))
$(eval $(call runner,test_seq_generic,$(SEQ_SRC),seq.h,$(CC) -std=c99 -O2 $(WARN)))
$(eval $(call runner,test_seq_openmp,$(SEQ_SRC),seq.h,$(C99) -fopenmp -DSEQ_USE_OPENMP))
$(eval $(call runner,test_seq_cxx,$(SEQ_SRC),seq.h,$(CXX11)))
$(eval $(call runner,test_seq_blis,$(SEQ_SRC),seq.h,$(C99) $(BLIS_FLAGS),$(BLIS_LIBS)))
$(eval $(call runner,test_seq_cxx_blis,$(SEQ_SRC),seq.h,$(CXX11) $(BLIS_FLAGS),$(BLIS_LIBS)))
$(eval $(call runner,test_seq_asan,$(SEQ_SRC),seq.h,$(ASAN)))
$(eval $(call runner,test_quant,$(QUANT_SRC),seq.h seq_quant.h,$(C99) $(EXACT)))
$(eval $(call runner,test_quant_avx2,$(QUANT_SRC),seq.h seq_quant.h,$(C99) $(EXACT) -mno-avx512f))
$(eval $(call runner,test_quant_scalar,$(QUANT_SRC),seq.h seq_quant.h,$(C99) $(EXACT) -DSEQ_NO_SIMD))
$(eval $(call runner,test_quant_cxx,$(QUANT_SRC),seq.h seq_quant.h,$(CXX11) $(EXACT)))
$(eval $(call runner,test_quant_asan,$(QUANT_SRC),seq.h seq_quant.h,$(ASAN) $(EXACT)))
$(eval $(call runner,test_rl,$(RL_SRC),seq.h seq_rl.h,$(C99) $(EXACT)))
$(eval $(call runner,test_rl_cxx,$(RL_SRC),seq.h seq_rl.h,$(CXX11) $(EXACT)))
$(eval $(call runner,test_rl_asan,$(RL_SRC),seq.h seq_rl.h,$(ASAN) $(EXACT)))
$(eval $(call runner,test_rec,$(REC_SRC),seq.h seq_rec.h,$(C99)))
$(eval $(call runner,test_rec_cxx,$(REC_SRC),seq.h seq_rec.h,$(CXX11)))
$(eval $(call runner,test_rec_asan,$(REC_SRC),seq.h seq_rec.h,$(ASAN)))
# seq_mpi.h: the one-rank build (no MPI) in C and C++, and the MPI build for mpirun.
$(eval $(call runner,test_mpi_serial,$(MPI_SRC),$(MPI_DEPS),$(C99) $(EXACT)))
$(eval $(call runner,test_mpi_cxx,$(MPI_SRC),$(MPI_DEPS),$(CXX11) $(EXACT)))
$(eval $(call runner,test_mpi_asan,$(MPI_SRC),$(MPI_DEPS),$(ASAN) $(EXACT)))
$(eval $(call runner,test_mpi,$(MPI_SRC),$(MPI_DEPS),$(MPICC) -std=c99 $(OPT) $(WARN) $(EXACT)))
# The reliability suite: allocation-failure sweeps over workloads of every header.
$(eval $(call runner,test_reliability,$(REL_SRC),$(HEADERS),$(C99) $(EXACT)))
$(eval $(call runner,test_reliability_asan,$(REL_SRC),$(HEADERS),$(ASAN) $(EXACT)))
# UBSan alone (-O2), and baseline x86-64 builds for valgrind (it cannot decode AVX-512).
$(eval $(call runner,test_seq_ubsan,$(SEQ_SRC),seq.h,$(UBSAN)))
$(eval $(call runner,test_quant_ubsan,$(QUANT_SRC),seq.h seq_quant.h,$(UBSAN) $(EXACT)))
$(eval $(call runner,test_rl_ubsan,$(RL_SRC),seq.h seq_rl.h,$(UBSAN) $(EXACT)))
$(eval $(call runner,test_rec_ubsan,$(REC_SRC),seq.h seq_rec.h,$(UBSAN)))
$(eval $(call runner,test_seq_vg,$(SEQ_SRC),seq.h,$(VG) -DSEQ_NO_SIMD))
$(eval $(call runner,test_quant_vg,$(QUANT_SRC),seq.h seq_quant.h,$(VG) $(EXACT) -DSEQ_NO_SIMD))
$(eval $(call runner,test_rl_vg,$(RL_SRC),seq.h seq_rl.h,$(VG) $(EXACT)))
$(eval $(call runner,test_rec_vg,$(REC_SRC),seq.h seq_rec.h,$(VG)))

SEQ_VARIANTS = avx2 scalar generic openmp cxx $(if $(HAVE_BLIS),blis cxx_blis)
RUNNERS   = $(B)/test_seq $(SEQ_VARIANTS:%=$(B)/test_seq_%) \
            $(B)/test_quant $(B)/test_quant_avx2 $(B)/test_quant_scalar $(B)/test_quant_cxx \
            $(B)/test_rl $(B)/test_rl_cxx $(B)/test_rec $(B)/test_rec_cxx \
            $(B)/test_mpi_serial $(B)/test_mpi_cxx $(B)/test_reliability
ASAN_RUNNERS = $(B)/test_seq_asan $(B)/test_quant_asan $(B)/test_rl_asan $(B)/test_rec_asan \
            $(B)/test_mpi_asan $(B)/test_reliability_asan
UBSAN_RUNNERS = $(B)/test_seq_ubsan $(B)/test_quant_ubsan $(B)/test_rl_ubsan $(B)/test_rec_ubsan
# Memcheck runs seq.h and seq_quant.h (kernels, files, GGUF: about 5 min); the RL and rec
# suites train agents and models, which take tens of minutes under valgrind, so they run
# only on request: make test-valgrind VG_RUNNERS="$(B)/test_rl_vg $(B)/test_rec_vg".
VG_RUNNERS   = $(B)/test_seq_vg $(B)/test_quant_vg

# seq_cuda.h (nvcc) ===================================================================
# With nvcc (CI: nvcc 13, no GPU) make test also builds and runs $(B)/test_cuda, whose
# device tests SKIP without a GPU; make test-cuda runs it alone, make test-asan its ASan
# twin $(B)/test_cuda_asan. The kernels and the
# runner are one nvcc TU (tests/test_cuda.cu and tests/cuda_*_test.cu); seq.h and
# seq_quant.h (the CPU references) and a C99 TU that includes only seq_cuda.h's
# declarations are compiled by $(CC) and linked in. sm_90 code plus PTX for later GPUs.
NVCC      ?= $(shell command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_LIB   = $(abspath $(dir $(NVCC))../lib64)
NVCC_ARCH ?= -gencode arch=compute_90,code=[sm_90,compute_90]
NVCC_FLAGS = -std=c++17 -O2 $(NVCC_ARCH) -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
CUDA_SRC   = tests/test_cuda.cu $(wildcard tests/cuda_*_test.cu)
CUDA_OBJS  = $(B)/cuda_ref.o $(B)/cuda_c_api.o $(B)/cuda_harness.o
# The runner, and its ASan+UBSan twin for make test-asan (the host side: the device code
# is not instrumented). $(1): the objects' suffix, $(2): the C compiler, $(3): nvcc's flags.
define cuda_runner
$(B)/cuda_ref$(1).o: tests/cuda_ref.c seq.h seq_quant.h $(HARNESS) | $(B)
	$(2) $(EXACT) -c -o $$@ $$<
$(B)/cuda_c_api$(1).o: tests/cuda_c_api.c seq_cuda.h seq.h seq_quant.h $(HARNESS) | $(B)
	$(2) -c -o $$@ $$<
$(B)/cuda_harness$(1).o: $(HARNESS) | $(B)
	$(2) -c -o $$@ tests/harness.c
$(B)/test_cuda$(1): $(CUDA_SRC) $(CUDA_OBJS:%.o=%$(1).o) seq_cuda.h seq.h seq_quant.h $(HARNESS) | $(B)
	$(NVCC) $(3) -o $$@ $(CUDA_SRC) $(CUDA_OBJS:%.o=%$(1).o) -L$(CUDA_LIB) -Xlinker -rpath,$(CUDA_LIB) -lcublas -lcudart -lm
endef
CUDA_ASAN_FLAGS = -std=c++17 -O1 -g $(NVCC_ARCH) -Werror all-warnings \
  -Xcompiler -Wall,-Wextra,-Werror,-fsanitize=address,-fsanitize=undefined,-fno-sanitize-recover=all,-fno-omit-frame-pointer
$(eval $(call cuda_runner,,$(CC) -std=c99 -O1 $(WARN),$(NVCC_FLAGS)))
$(eval $(call cuda_runner,_asan,$(ASAN),$(CUDA_ASAN_FLAGS)))
# On a GPU, make test-cuda-sanitizer runs the runner under each compute-sanitizer tool.
CUDA_SANITIZER ?= $(dir $(NVCC))compute-sanitizer
# nvcc alone is not enough: the runner links cuBLAS (the toolkit's lib64, or Debian's).
CUBLAS     = $(wildcard $(CUDA_LIB)/libcublas.so /usr/lib/x86_64-linux-gnu/libcublas.so)
.PHONY: test-cuda test-cuda-sanitizer
ifneq ($(and $(NVCC),$(CUBLAS)),)
RUNNERS   += $(B)/test_cuda
ASAN_RUNNERS += $(B)/test_cuda_asan
test-cuda: $(B)/test_cuda
	@sh tests/run.sh $(B)/test_cuda
test-cuda-sanitizer: $(B)/test_cuda
	@for t in memcheck racecheck initcheck synccheck; do echo "== compute-sanitizer --tool $$t"; \
	  $(CUDA_SANITIZER) --tool $$t --error-exitcode 1 $$([ $$t = memcheck ] && echo --leak-check full) \
	    $(B)/test_cuda || exit 1; done
else
test-cuda test-cuda-sanitizer:
	@echo "SKIP $@: nvcc or cuBLAS not found (make $@ NVCC=/path/to/nvcc)"
endif
# end of seq_cuda.h (nvcc) =============================================================

.PHONY: all test test-asan test-ubsan test-valgrind test-mpi test-install fuzz compile-check bench demo install clean
all: $(RUNNERS) $(EXAMPLES:%=$(B)/%) $(MPI_EXAMPLES:%=$(B)/%_mpi) $(BENCH_BINS)

$(B):
	@mkdir -p $(B)

# Examples use seq's own GEMM: as fast as BLIS here, and BLIS 0.9 falls back to generic
# C code on CPUs it does not know (see docs/gemm.md).
EXAMPLE_H = $(wildcard examples/*.h)
$(B)/%: examples/%.c $(HEADERS) $(EXAMPLE_H) | $(B)
	$(CC) $(CFLAGS_C) -o $@ $< $(LDLIBS)
$(B)/bench_%: bench/%.c bench/bench.h $(HEADERS) $(EXAMPLE_H) | $(B)
	$(CC) $(CFLAGS_C) -o $@ $< $(LDLIBS)
$(B)/bench_%_blis: bench/%.c bench/bench.h $(HEADERS) $(EXAMPLE_H) | $(B)
	$(CC) $(CFLAGS_C) $(BLIS_FLAGS) -o $@ $< $(BLIS_LIBS) $(LDLIBS)
# bench/mpi.c's workers, which the plain build runs under mpirun
$(B)/bench_mpi_mpi: bench/mpi.c $(HEADERS) | $(B)
	$(MPICC) $(CFLAGS_C) -o $@ $< $(LDLIBS)
# The examples/mpi_*.c as MPI programs, for mpirun -np N build/mpi_<name>_mpi (the plain
# builds above are their one-process form).
$(B)/%_mpi: examples/%.c $(HEADERS) $(EXAMPLE_H) | $(B)
	$(MPICC) $(CFLAGS_C) -o $@ $< $(LDLIBS)

# Every header compiles as C99 and as C++ with -Werror, with and without BLIS.
compile-check: | $(B)
	$(CC)  -std=c99   $(WARN) -x c   -c seq_all.c -o $(B)/seq_all_c.o
	$(CXX) -std=c++11 $(WARN) -x c++ -c seq_all.c -o $(B)/seq_all_cxx.o
	$(if $(HAVE_BLIS),$(CC)  -std=c99   $(WARN) $(BLIS_FLAGS) -x c   -c seq_all.c -o $(B)/seq_all_blis_c.o)
	$(if $(HAVE_BLIS),$(CXX) -std=c++11 $(WARN) $(BLIS_FLAGS) -x c++ -c seq_all.c -o $(B)/seq_all_blis_cxx.o)
	$(CC)  -std=c99   $(WARN) -DSEQ_STATIC -x c -c seq_all.c -o $(B)/seq_all_static.o
	$(CC)  -std=c99   $(WARN) -DSEQ_NO_SIMD -x c -c seq_all.c -o $(B)/seq_all_nosimd.o
	@# each implementation alone in its own translation unit (so no header leans on seq.h's
	@# private helpers), the four objects linked together
	@for p in SEQ:seq.h SEQ_QUANT:seq_quant.h SEQ_RL:seq_rl.h SEQ_REC:seq_rec.h SEQ_MPI:seq_mpi.h; do \
	  printf '#define %s_IMPLEMENTATION\n#include "%s"\n' $${p%%:*} $${p#*:} | \
	    $(CC) -std=c99 $(WARN) -I. -x c -c - -o $(B)/tu_$${p%%:*}.o || exit 1; done
	echo 'int main(void) { return 0; }' | $(CC) -x c - -x none $(B)/tu_*.o -lm -o $(B)/tu_link

# Examples that check their own result (exit status) count as one test each.
CHECKED_EXAMPLES = $(filter quickstart spirals quantize ab_test cliff_walking grpo_digits mpi_ppo,$(EXAMPLES))
# With mpicc and mpirun, seq_mpi.h also runs under mpirun (1 and 2 ranks, and the
# failure drills of tests/mpi_run.sh), summed with the rest.
test: compile-check $(RUNNERS) $(EXAMPLES:%=$(B)/%) $(if $(HAVE_MPI),$(B)/test_mpi)
	@$(if $(HAVE_MPI),,echo "SKIP test-mpi: mpicc and mpirun not found")
	@sh tests/run.sh $(RUNNERS) $(CHECKED_EXAMPLES:%=example:$(B)/%) $(if $(HAVE_MPI),$$(sh tests/mpi_run.sh $(B)/test_mpi))

test-mpi: $(B)/test_mpi
	@sh tests/run.sh $$(sh tests/mpi_run.sh $(B)/test_mpi)

# Installs into a temporary prefix and builds a program against it with pkg-config and
# one with CMake's find_package(seq).
test-install:
	@d=$$(mktemp -d) && $(MAKE) --no-print-directory install PREFIX=$$d/prefix >/dev/null && \
	  sh tests/install_test.sh $$d/prefix $$d/work; rc=$$?; rm -rf $$d; exit $$rc

test-asan: $(ASAN_RUNNERS)
	@sh tests/run.sh $(ASAN_RUNNERS)

test-ubsan: $(UBSAN_RUNNERS)
	@sh tests/run.sh $(UBSAN_RUNNERS)

# Memcheck: any invalid access, uninitialized use or definite leak fails the runner.
VALGRIND  = valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
test-valgrind: $(VG_RUNNERS)
	@for r in $(VG_RUNNERS); do printf '#!/bin/sh\nexec $(VALGRIND) %s\n' $$r >$$r.sh; chmod +x $$r.sh; done
	@sh tests/run.sh $(VG_RUNNERS:%=%.sh)

# libFuzzer harnesses (tests/fuzz/, clang): each first replays its committed seeds and
# the inputs of crashes fixed so far (tests/fuzz/crashes/<harness>/), then mutates for
# FUZZ_SECONDS from seed FUZZ_SEED; a crash fails the target and leaves the input in
# $(B)/fuzz/<harness>-crash-*. A fixed seed makes a CI failure reproducible here; for a
# fresh campaign pass FUZZ_SEED=0 (random). docs/reliability.md has the campaigns.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SEED    ?= 1
FUZZERS       = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h tests/fuzz/fuzz_model.h $(HEADERS) | $(B)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< -lm
fuzz: $(FUZZERS:%=$(B)/fuzz/%)
	@for f in $(FUZZERS); do h=$${f#fuzz_}; mkdir -p $(B)/fuzz/corpus/$$h; echo "== $$f, $(FUZZ_SECONDS) s"; \
	  ./$(B)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -timeout=25 -print_final_stats=1 \
	    -artifact_prefix=$(B)/fuzz/$$h- $(B)/fuzz/corpus/$$h tests/fuzz/corpus/$$h \
	    $$(test -d tests/fuzz/crashes/$$h && echo tests/fuzz/crashes/$$h) >$(B)/fuzz/$$h.log 2>&1 \
	    || { tail -n 60 $(B)/fuzz/$$h.log; echo "$$f: CRASH"; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::new_units_added' $(B)/fuzz/$$h.log; done

bench: $(BENCH_BINS) $(if $(HAVE_MPI),$(B)/bench_mpi_mpi)
	@for b in $(BENCH_BINS); do echo "== $$b"; ./$$b || exit 1; done

demo: $(EXAMPLES:%=$(B)/%)
	@for e in $(EXAMPLES); do echo "== examples/$$e.c"; ./$(B)/$$e || exit 1; done

VERSION   = $(shell sed -n 's/^#define SEQ_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' seq.h | paste -sd.)
install:
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/seq
	install -m 644 $(HEADERS) seq_cuda.h $(DESTDIR)$(PREFIX)/include/
	sed 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(VERSION)|' \
	  seq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/seq.pc
	install -m 644 cmake/seqConfig.cmake $(DESTDIR)$(PREFIX)/lib/cmake/seq/
	v=$(VERSION); sed "s|@VERSION@|$$v|; s|@MAJOR@|$${v%%.*}|g; s|@MINOR@|$$(echo $$v | cut -d. -f2)|g" \
	  cmake/seqConfigVersion.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/seq/seqConfigVersion.cmake

clean:
	rm -rf $(B)
