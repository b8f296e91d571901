#!/usr/bin/env bash
# The library as a user installs it: `cmake --install` into a temporary prefix, then
# programs built against it with only `pkg-config --cflags --libs samrt`: the header
# alone as C11 and as C++, the usage example at the top of samrt.h (compiled and run),
# and a check of the installed library against the golden data. The installed tools and
# graphs are used, not the build tree's.
set -u
BUILD=$1
SRC=$2
GOLDEN=${SAMRT_GOLDEN_DIR:-$SRC/../shared/golden}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
step() { echo "== $*"; }
bad() { echo "FAIL: $*"; fail=1; }

step "cmake --install into $T/prefix"
cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
pc=$(find "$T/prefix" -name samrt.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no samrt.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir samrt)
CFLAGS=$(pkg-config --cflags samrt)
LIBS="$(pkg-config --libs samrt) -Wl,-rpath,$libdir"
[ -f "$libdir/libsamrt.a" ] || bad "the static library is not installed"
soname=$(readelf -d "$libdir/libsamrt.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$libdir/$soname" ] || bad "libsamrt.so has no SONAME link ($soname)"
others=$(nm -D --defined-only "$libdir/libsamrt.so" | awk '{print $3}' | grep -v '^sam_' || true)
[ -z "$others" ] || bad "libsamrt.so exports symbols outside the API: $(echo $others | head -c 300)"
echo "exports: $(nm -D --defined-only "$libdir/libsamrt.so" | wc -l) symbols, all sam_*"

step "the header alone, as C11 and as C++"
printf '#include <samrt.h>\n' >"$T/alone.c"
cc -std=c11 -Wall -Wextra -pedantic -Werror $CFLAGS -c "$T/alone.c" -o "$T/alone.o" || bad "samrt.h does not compile alone as C11"
c++ -std=c++11 -Wall -Wextra -pedantic -Werror $CFLAGS "$SRC/tests/install/headers.cpp" $LIBS -o "$T/headers" || bad "samrt.h does not compile and link as C++"

step "the usage example of samrt.h"
sed -n '/SAMRT_EXAMPLE_BEGIN/,/SAMRT_EXAMPLE_END/p' "$SRC/include/samrt.h" | sed '1d;$d' | sed 's/^ \* \{0,1\}//' >"$T/example.c"
cc -std=c11 -Wall -Wextra -Werror $CFLAGS "$T/example.c" $LIBS -o "$T/example" || bad "the example does not compile"

if [ -f "$GOLDEN/sam_tiny/sam_tiny_seed0.pth" ]; then
    step "the installed sam-convert, then the example and the golden check"
    "$T/prefix/bin/sam-convert" -q "$GOLDEN/sam_tiny/sam_tiny_seed0.pth" -o "$T/tiny.samrt" || bad "installed sam-convert failed"
    env -u SAMRT_GRAPH_DIR "$T/example" "$T/tiny.samrt" "$GOLDEN/images/truck.jpg" >"$T/example.out" 2>&1 || { cat "$T/example.out"; bad "the example failed"; }
    cat "$T/example.out"
    grep -q "^mask: IoU" "$T/example.out" && grep -q "masks$" "$T/example.out" || bad "the example printed no results"
    if pkg-config --exists jansson; then
        cc -std=c11 -Wall -Wextra -Werror $CFLAGS $(pkg-config --cflags jansson) "$SRC/tests/install/golden_check.c" $LIBS $(pkg-config --libs jansson) -lm \
            -o "$T/golden_check" || bad "golden_check does not compile"
        sam2=()
        if [ -f "$GOLDEN/sam2_tiny/sam2.1_tiny_seed0.pt" ]; then
            "$T/prefix/bin/sam-convert" -q "$GOLDEN/sam2_tiny/sam2.1_tiny_seed0.pt" -o "$T/tiny2.samrt" || bad "installed sam-convert failed on SAM 2"
            sam2=("$T/tiny2.samrt" "$T/prefix/share/sam-rt/graphs/configs/sam2_tiny.yaml")
        fi
        env -u SAMRT_GRAPH_DIR "$T/golden_check" "$T/tiny.samrt" "$GOLDEN" "${sam2[@]}" || bad "the installed library disagrees with the golden data"
    else
        bad "jansson (libjansson-dev) is needed to read the golden JSON"
    fi
else
    echo "SKIP: $GOLDEN absent, the installed library was not run on the golden data"
fi
[ "$fail" -eq 0 ] && echo "install: all checks passed"
exit "$fail"
