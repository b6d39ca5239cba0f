#!/bin/sh
# Writes the tests that run the seq_mpi.h runner under mpirun, one script each, and
# prints their paths for tests/run.sh (make test runs them with everything else):
#     sh tests/run.sh $(sh tests/mpi_run.sh build/test_mpi)
# 1 rank, 2 ranks on loopback, and two failure drills that must end the job with an
# error instead of hanging: a rank that stalls (the watchdog fires on rank 0, which
# aborts) and a rank killed by SIGKILL mid-training (Open MPI's mpirun then kills the
# rest). Every run is bounded by `timeout`, so a hang is a failure, never a stuck CI.
#     sh tests/mpi_run.sh --drill MODE BIN    one drill, printing its `N passed, N failed`
flags="--oversubscribe"
[ "$(id -u)" -eq 0 ] && flags="$flags --allow-run-as-root"

if [ "$1" = "--drill" ]; then
    mode=$2; bin=$3
    out=$(timeout 60 mpirun $flags -np 2 "$bin" "$mode" 2>&1); rc=$?
    printf '%s\n' "$out" | grep '^rank'
    ok=1
    [ "$rc" -eq 0 ] && { echo "FAIL $mode: mpirun exited 0"; ok=0; }
    [ "$rc" -eq 124 ] && { echo "FAIL $mode: the job hung (killed by timeout after 60 s)"; ok=0; }
    printf '%s\n' "$out" | grep -q 'all steps done' && { echo "FAIL $mode: a rank finished training"; ok=0; }
    if [ "$mode" = "--stuck" ] && ! printf '%s\n' "$out" | grep -q 'timed out'; then
        echo "FAIL $mode: rank 0's watchdog did not fire"; ok=0
    fi
    echo "$mode: mpirun exit $rc"
    if [ $ok -eq 1 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
    exit $((1 - ok))
fi

bin=$1; dir=$(dirname "$bin")
for np in 1 2; do
    printf '#!/bin/sh\nexec timeout 120 mpirun %s -np %s %s\n' "$flags" "$np" "$bin" > "$dir/mpi_np$np"
done
for mode in stuck die; do
    printf '#!/bin/sh\nexec sh %s/mpi_run.sh --drill --%s %s\n' "$(dirname "$0")" "$mode" "$bin" > "$dir/mpi_$mode"
done
chmod +x "$dir/mpi_np1" "$dir/mpi_np2" "$dir/mpi_stuck" "$dir/mpi_die"
echo "$dir/mpi_np1" "$dir/mpi_np2" "$dir/mpi_stuck" "$dir/mpi_die"
