#!/bin/sh
# The test runner built the ways `make test` does not: the AVX2 and scalar GEMM kernels
# (on an AVX-512 machine), a build for the generic x86-64 baseline, OpenMP, and C++
# (with and without BLIS). Run from the repository root: sh tests/gemm_builds.sh
set -e
B=build/gemm_builds
mkdir -p "$B"
SRC="tests/test_seq.c $(ls tests/seq_*_test.c)"
W="-Wall -Wextra -Werror"
cc  -std=c99   -O2 -march=native -mno-avx512f $W -o "$B/avx2"    $SRC -lm
cc  -std=c99   -O2 -march=native -DSEQ_NO_SIMD $W -o "$B/scalar" $SRC -lm
cc  -std=c99   -O2                             $W -o "$B/generic" $SRC -lm
cc  -std=c99   -O2 -march=native -fopenmp -DSEQ_USE_OPENMP $W -o "$B/openmp" $SRC -lm
c++ -std=c++11 -O2 -march=native $W -x c++ -o "$B/cxx" $SRC -lm
runners="$B/avx2 $B/scalar $B/generic $B/openmp $B/cxx"
if echo 'int main(void){return 0;}' | cc -x c - -include blis.h -lblis -lm -o /dev/null 2>/dev/null; then
    c++ -std=c++11 -O2 -march=native -DSEQ_USE_BLIS $W -x c++ -o "$B/cxx_blis" $SRC -lblis -lm
    runners="$runners $B/cxx_blis"
fi
sh tests/run.sh $runners
