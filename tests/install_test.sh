#!/bin/sh
# `make test-install`: seq installed into a fresh prefix is found by pkg-config (a C
# program) and by CMake's find_package (a C++ program); each that builds and runs counts
# as one test; with mpicc installed, also a program using seq_mpi.h through seq::mpi.
# Usage: sh tests/install_test.sh PREFIX WORKDIR
prefix=$1; work=$2
passed=0; failed=0
mkdir -p "$work/pc" "$work/cm" "$work/mpi"

cat > "$work/prog.c" <<'C'
#define SEQ_IMPLEMENTATION
#include <seq.h>
#include <stdio.h>
int main(void) {
    seq_rng rng;
    seq_params *P = seq_params_init(NULL);
    int64_t shape[2] = {3, 4};
    int ok;
    seq_rng_seed(&rng, 1);
    ok = seq_params_add(P, "w", 2, shape, seq_init_normal(0.0f, 1.0f)) != NULL && seq_params_alloc(P, &rng) == SEQ_OK;
    printf("seq %d.%d.%d: %s\n", SEQ_VERSION_MAJOR, SEQ_VERSION_MINOR, SEQ_VERSION_PATCH, ok ? "ok" : seq_last_error());
    seq_params_free(P);
    return !ok;
}
C
cp "$work/prog.c" "$work/cm/prog.cpp"
cat > "$work/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(seq_consumer CXX)
find_package(seq 0.1 REQUIRED)
add_executable(prog prog.cpp)
target_link_libraries(prog PRIVATE seq::seq)
CM

cat > "$work/mpi/prog.c" <<'C'
#define SEQ_IMPLEMENTATION
#define SEQ_MPI_IMPLEMENTATION
#include <seq_mpi.h>
#include <stdio.h>
int main(void) {
    seq_mpi m;
    double x = 1;
    int ok = seq_mpi_init(&m, seq_mpi_config_default()) == SEQ_OK && seq_mpi_allreduce_sum(&m, &x, 1) == SEQ_OK &&
             x == m.size;
#ifdef SEQ_USE_MPI
    printf("seq_mpi over MPI: %d rank(s): %s\n", m.size, ok ? "ok" : seq_last_error());
#endif
    seq_mpi_free(&m);
    return !ok;
}
C
cat > "$work/mpi/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(seq_mpi_consumer C)
find_package(seq 0.1 REQUIRED COMPONENTS MPI)
add_executable(prog prog.c)
target_link_libraries(prog PRIVATE seq::mpi)
CM

check() { # NAME COMMAND...: one test
    name=$1; shift
    if out=$("$@" 2>&1); then echo "$name: ok"; passed=$((passed + 1))
    else printf '%s\n' "$out" | tail -n 20; echo "FAIL $name"; failed=$((failed + 1)); fi
}
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config --cflags seq" sh -c "pkg-config --cflags seq | grep -q -- '-I$prefix/include'"
check "a C program built with pkg-config" sh -c \
    "cc -std=c99 -Wall -Werror \$(pkg-config --cflags seq) '$work/prog.c' -o '$work/pc/prog' \$(pkg-config --libs seq) && '$work/pc/prog'"
check "a C++ program built with find_package(seq)" sh -c \
    "cmake -S '$work/cm' -B '$work/cm/build' -DCMAKE_PREFIX_PATH='$prefix' >/dev/null && cmake --build '$work/cm/build' >/dev/null && '$work/cm/build/prog'"
check "find_package(seq 9) refuses" sh -c \
    "sed -i 's/seq 0.1 REQUIRED/seq 9 REQUIRED/' '$work/cm/CMakeLists.txt' && ! cmake -S '$work/cm' -B '$work/cm/b9' -DCMAKE_PREFIX_PATH='$prefix' >/dev/null 2>&1"
if command -v mpicc >/dev/null 2>&1; then
    check "an MPI program built with find_package(seq COMPONENTS MPI)" sh -c \
        "cmake -S '$work/mpi' -B '$work/mpi/build' -DCMAKE_PREFIX_PATH='$prefix' >/dev/null && cmake --build '$work/mpi/build' >/dev/null && '$work/mpi/build/prog' | grep -q 'over MPI'"
else
    echo "SKIP find_package(seq COMPONENTS MPI): no mpicc"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
