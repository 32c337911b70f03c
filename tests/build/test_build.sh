#!/usr/bin/env bash
# The build's own checks, fast (no compiling): with a pkg-config that finds
# nothing, make names each missing library, its Debian package and
# scripts/install-deps instead of failing to link; with one library missing,
# only that one is named; and the libraries' flags are computed after the
# install step ran, so the first `make` on a fresh machine links. Each case
# builds into its own temporary BUILD with its own install stamp, so the
# tree's build/ and .deps-installed are left alone.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
unset MAKEFLAGS MAKELEVEL MFLAGS

real_pc=$(command -v pkg-config || true)
passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; shift; for line in "$@"; do echo "       $line"; done; }
# expect_in NAME NEEDLE HAYSTACK
expect_in() {
    if [[ "$3" == *"$2"* ]]; then ok "$1"; else fail "$1" "expected to contain: $2" "output: ${3:0:2000}"; fi
}
expect_not_in() {
    if [[ "$3" != *"$2"* ]]; then ok "$1"; else fail "$1" "expected not to contain: $2" "output: ${3:0:2000}"; fi
}

# A pkg-config first on PATH: "none" finds nothing; "all-but NAME" defers
# to the real one except for NAME; "after FILE" finds nothing until FILE
# exists (the install step creates it).
fake_pc() { # dir mode [arg]
    mkdir -p "$1"
    case $2 in
        none) printf '#!/bin/sh\nexit 1\n' ;;
        all-but) printf '#!/bin/sh\nfor a in "$@"; do [ "$a" = %s ] && exit 1; done\nexec %s "$@"\n' "$3" "$real_pc" ;;
        after) printf '#!/bin/sh\n[ -e %s ] || exit 1\nexec %s "$@"\n' "$3" "$real_pc" ;;
    esac > "$1/pkg-config"
    chmod +x "$1/pkg-config"
}

# mk NAME PATH-DIR ARGS...: make in the repo; output in $out, exit code in $rc
mk() {
    local name=$1 dir=$2
    shift 2
    touch "$tmp/$name.stamp"
    rc=0
    out=$(cd "$repo" && PATH="$dir:$PATH" make --no-print-directory BUILD="$tmp/$name" \
          STAMP="$tmp/$name.stamp" "$@" 2>&1) || rc=$?
}

# 1. nothing found
fake_pc "$tmp/none-bin" none
mk none "$tmp/none-bin"
if [[ $rc -ne 0 ]]; then ok "no libraries: make fails"; else fail "no libraries: make fails" "exit 0"; fi
expect_in "no libraries: names libevent and its package" \
    "library 'libevent' not found by pkg-config: run scripts/install-deps (or: sudo apt-get install libevent-dev)" "$out"
expect_in "no libraries: names libcjson and its package" "library 'libcjson' not found" "$out"
expect_in "no libraries: names libcrypto's package" "sudo apt-get install libssl-dev" "$out"
expect_in "no libraries: names libcbor and its package" \
    "library 'libcbor' not found by pkg-config: run scripts/install-deps (or: sudo apt-get install libcbor-dev)" "$out"
expect_in "no libraries: names zlib's package" "sudo apt-get install zlib1g-dev" "$out"
expect_not_in "no libraries: nothing was compiled" "-c -o" "$out"
expect_not_in "no libraries: no linker errors" "undefined reference" "$out"

# 2. one library missing: only it is named
fake_pc "$tmp/one-bin" all-but yaml-0.1
mk one "$tmp/one-bin"
if [[ $rc -ne 0 ]]; then ok "libyaml missing: make fails"; else fail "libyaml missing: make fails" "exit 0"; fi
expect_in "libyaml missing: names it and libyaml-dev" \
    "library 'yaml-0.1' not found by pkg-config: run scripts/install-deps (or: sudo apt-get install libyaml-dev)" "$out"
expect_not_in "libyaml missing: libevent is not named" "'libevent'" "$out"

# 3. the flags are computed after the install step (a fresh machine)
fake_pc "$tmp/fresh-bin" after "$tmp/installed"
rm -f "$tmp/fresh.stamp"
rc=0
out=$(cd "$repo" && PATH="$tmp/fresh-bin:$PATH" make --no-print-directory BUILD="$tmp/fresh" \
      STAMP="$tmp/fresh.stamp" INSTALL_DEPS="touch $tmp/installed" flags 2>&1) || rc=$?
expect_in "fresh machine: make exits 0" "rc=0" "rc=$rc"
expect_in "fresh machine: link flags after the install step" "-levent" "$out"
expect_in "fresh machine: all seven libraries" "-lcrypto" "$out"
expect_in "fresh machine: libcbor and zlib too" "-lcbor -lz" "$out"
expect_in "fresh machine: the install step ran" "yes" "$([[ -e $tmp/fresh.stamp ]] && echo yes)"

# 4. scripts/install-deps on a machine that has none of the packages: apt
# (faked first on PATH; a copy of the script, so no npm ci runs) is asked
# for each, and what apt knows is installed. apt-cache writes its policy a
# line at a time, as the real one does: a check that stops reading at the
# first match must not take the SIGPIPE that follows for "no such package"
# (the first run on a fresh machine failed so: "apt has no package
# libevent-dev here").
fake_apt="$tmp/apt-bin"
mkdir -p "$fake_apt" "$tmp/deps/scripts"
cp "$repo/scripts/install-deps" "$tmp/deps/scripts/"
printf '#!/bin/sh\nexit 1\n' > "$fake_apt/dpkg-query"
printf '#!/bin/sh\necho "$@" >> %s/apt-get.log\n' "$tmp" > "$fake_apt/apt-get"
printf '#!/bin/sh\nexec "$@"\n' > "$fake_apt/sudo"
cat > "$fake_apt/apt-cache" <<'SH'
#!/bin/sh
[ "$1" = policy ] || exit 1
case $2 in nosuch*) echo "N: Unable to locate package $2" >&2; exit 0 ;; esac
printf '%s:\n  Installed: (none)\n  Candidate: 1.0-1\n  Version table:\n' "$2"
i=0
while [ $i -lt 20000 ]; do printf '     1.0-1 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n'; i=$((i + 1)); done
SH
chmod +x "$fake_apt"/*
rc=0
out=$(PATH="$fake_apt:$PATH" bash "$tmp/deps/scripts/install-deps" 2>&1) || rc=$?
expect_in "fresh apt: install-deps exits 0" "rc=0" "rc=$rc"
expect_not_in "fresh apt: no package is called unknown" "apt has no package" "$out"
installs=$(grep '^install' "$tmp/apt-get.log" 2>/dev/null || true)
expect_in "fresh apt: the build libraries are installed" "libevent-dev libsqlite3-dev libcjson-dev libyaml-dev libssl-dev libcbor-dev zlib1g-dev" "$installs"
expect_in "fresh apt: the test tools too" "python3-boto3 python3-pytest python3-pytest-timeout awscli" "$installs"
expect_in "fresh apt: the lists are updated first" "update" "$(head -1 "$tmp/apt-get.log" 2>/dev/null)"
# and a build package apt does not know stops it, named
sed -i 's/build_pkgs=(build-essential/build_pkgs=(nosuch-dev build-essential/' "$tmp/deps/scripts/install-deps"
rc=0
out=$(PATH="$fake_apt:$PATH" bash "$tmp/deps/scripts/install-deps" 2>&1) || rc=$?
expect_in "unknown build package: install-deps fails" "rc=1" "rc=$rc"
expect_in "unknown build package: it is named" "nosuch-dev is needed to build sluice" "$out"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
