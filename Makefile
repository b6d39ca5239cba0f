# seq — header-only; this Makefile builds the tests, examples and benchmarks.
#   make demo   run the tour of examples        make test        every test runner
#   make bench  time seq against its peers      make test-asan   the suite under ASan+UBSan
#   make install PREFIX=/usr/local              make clean
CC       ?= gcc
CXX      ?= g++
PREFIX   ?= /usr/local
WARN      = -Wall -Wextra -Werror
OPT       = -O3 -march=native
CFLAGS_C  = -std=c99 $(OPT) $(WARN)
LDLIBS    = -lm
B         = build
HEADERS   = seq.h
EXAMPLES  = $(basename $(notdir $(wildcard examples/*.c)))
BENCHES   = $(basename $(notdir $(wildcard bench/*.c)))

# BLIS is optional: used when a program including <blis.h> links against -lblis.
HAVE_BLIS := $(shell echo 'int main(void){return 0;}' | \
               $(CC) -x c - -include blis.h -lblis -lm -o /dev/null >/dev/null 2>&1 && echo 1)
BLIS_FLAGS = -DSEQ_USE_BLIS
BLIS_LIBS  = -lblis

BENCH_BINS= $(BENCHES:%=$(B)/bench_%) $(if $(HAVE_BLIS),$(BENCHES:%=$(B)/bench_%_blis))
TEST_SRC  = tests/test_seq.c $(wildcard tests/seq_*_test.c)
# The runner as users build it, plus the other kernel paths the machine can run:
# AVX2 and scalar GEMM, the generic x86-64 baseline, OpenMP, and C++.
VARIANTS  = avx2 scalar generic openmp cxx $(if $(HAVE_BLIS),blis cxx_blis)
RUNNERS   = $(B)/test_seq $(VARIANTS:%=$(B)/test_seq_%)

.PHONY: all test test-asan compile-check bench demo install clean
all: $(RUNNERS) $(EXAMPLES:%=$(B)/%) $(BENCH_BINS)

$(B):
	@mkdir -p $(B)

$(B)/test_seq: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) -o $@ $(TEST_SRC) $(LDLIBS)
$(B)/test_seq_blis: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) $(BLIS_FLAGS) -o $@ $(TEST_SRC) $(BLIS_LIBS) $(LDLIBS)
$(B)/test_seq_avx2: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) -mno-avx512f -o $@ $(TEST_SRC) $(LDLIBS)
$(B)/test_seq_scalar: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) -DSEQ_NO_SIMD -o $@ $(TEST_SRC) $(LDLIBS)
$(B)/test_seq_generic: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) -std=c99 -O2 $(WARN) -o $@ $(TEST_SRC) $(LDLIBS)
$(B)/test_seq_openmp: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) -fopenmp -DSEQ_USE_OPENMP -o $@ $(TEST_SRC) $(LDLIBS)
$(B)/test_seq_cxx: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CXX) -std=c++11 $(OPT) $(WARN) -x c++ -o $@ $(TEST_SRC) $(LDLIBS)
$(B)/test_seq_cxx_blis: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CXX) -std=c++11 $(OPT) $(WARN) $(BLIS_FLAGS) -x c++ -o $@ $(TEST_SRC) $(BLIS_LIBS) $(LDLIBS)
$(B)/test_seq_asan: $(TEST_SRC) tests/seq_test.h $(HEADERS) | $(B)
	$(CC) -std=c99 -O1 -g -march=native $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fno-omit-frame-pointer -o $@ $(TEST_SRC) $(LDLIBS)

# Examples use seq's own GEMM: as fast as BLIS here, and BLIS 0.9 falls back to generic
# C code on CPUs it does not know (see docs/gemm.md).
$(B)/%: examples/%.c $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) -o $@ $< $(LDLIBS)
$(B)/bench_%: bench/%.c $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) -o $@ $< $(LDLIBS)
$(B)/bench_%_blis: bench/%.c $(HEADERS) | $(B)
	$(CC) $(CFLAGS_C) $(BLIS_FLAGS) -o $@ $< $(BLIS_LIBS) $(LDLIBS)

# Every header compiles as C99 and as C++ with -Werror, with and without BLIS.
compile-check: | $(B)
	$(CC)  -std=c99   $(WARN) -x c   -c seq_all.c -o $(B)/seq_all_c.o
	$(CXX) -std=c++11 $(WARN) -x c++ -c seq_all.c -o $(B)/seq_all_cxx.o
	$(if $(HAVE_BLIS),$(CC)  -std=c99   $(WARN) $(BLIS_FLAGS) -x c   -c seq_all.c -o $(B)/seq_all_blis_c.o)
	$(if $(HAVE_BLIS),$(CXX) -std=c++11 $(WARN) $(BLIS_FLAGS) -x c++ -c seq_all.c -o $(B)/seq_all_blis_cxx.o)
	$(CC)  -std=c99   $(WARN) -DSEQ_STATIC -x c -c seq_all.c -o $(B)/seq_all_static.o
	$(CC)  -std=c99   $(WARN) -DSEQ_NO_SIMD -x c -c seq_all.c -o $(B)/seq_all_nosimd.o

# Examples that check their own result (exit status) count as one test each.
CHECKED_EXAMPLES = $(filter quickstart spirals,$(EXAMPLES))
test: compile-check $(RUNNERS) $(EXAMPLES:%=$(B)/%)
	@sh tests/run.sh $(RUNNERS) $(CHECKED_EXAMPLES:%=example:$(B)/%)

test-asan: $(B)/test_seq_asan
	@sh tests/run.sh $(B)/test_seq_asan

bench: $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; ./$$b || exit 1; done

demo: $(EXAMPLES:%=$(B)/%)
	@for e in $(EXAMPLES); do echo "== examples/$$e.c"; ./$(B)/$$e || exit 1; done

install:
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/
	sed 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(shell sed -n 's/^#define SEQ_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' seq.h | paste -sd.)|' \
	  seq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/seq.pc

clean:
	rm -rf $(B)
