#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module for a short time each (default 20s):
#   scripts/fuzz.sh [FUZZTIME]
# Targets are found with `go test -list '^Fuzz' ./...`. A failing input is kept by go test
# under the package's testdata/fuzz/<Target>/ so it becomes a regression test.
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime=${1:-20s}

# `go test -list` prints the matching names of a package, then "ok  <import path> ...".
mapfile -t targets < <(
	go test -list '^Fuzz' ./... | awk '
		/^Fuzz/ { names[n++] = $1; next }
		/^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
	'
)

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found"
	exit 0
fi

echo "fuzz: ${#targets[@]} targets, $fuzztime each"
failed=()
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "=== fuzz $pkg $name"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"; then
		failed+=("$pkg $name")
	fi
done

passed=$((${#targets[@]} - ${#failed[@]}))
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}"
fi
echo "fuzz: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
