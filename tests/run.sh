#!/bin/sh
# Runs each test binary, shows its output, and sums their `N passed, N failed` lines.
# A runner that crashes or prints no summary counts as one failure; `example:PATH`
# runs an example with --quiet and counts its exit status as one test.
passed=0; failed=0
for bin in "$@"; do
    case "$bin" in
    example:*) # an example that checks its own result: exit 0 is one pass
        bin=${bin#example:}; echo "== $bin --quiet"
        if "$bin" --quiet; then passed=$((passed + 1)); else echo "$bin: FAILED"; failed=$((failed + 1)); fi
        continue ;;
    esac
    echo "== $bin"
    out=$("$bin" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
    line=$(printf '%s\n' "$out" | grep '^[0-9]* passed, [0-9]* failed$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "$bin: no summary line (exit $rc)"; failed=$((failed + 1)); continue
    fi
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    echo "$bin: $line"
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then echo "$bin: exit $rc"; failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
