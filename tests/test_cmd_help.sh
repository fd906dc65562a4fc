#!/usr/bin/env bash
# tests/test_cmd_help.sh BIN: a command's --help may not drift from its option
# table. For every command file cmd/<name>.c (cmd/bench_io.c is `bench-io`;
# cli.c, commands.c and main.c are the parser, the command table, main),
# every option of its CLI_* table (cmd/cli.h) must appear as --option in
# `cordseg <name> --help`, unless the table marks it .hidden (a test hook);
# and `cordseg --help` must list exactly the commands that have a file.
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
fails=0 checked=0
listed=$("$BIN" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }' | sort)
files=$(cd "$SRC/cmd" && ls *.c | grep -v '^cli.c$\|^main.c$\|^commands.c$' | sed 's/\.c$//; s/_/-/g' | sort)
if [ "$listed" != "$files" ]; then
  echo "FAIL: cordseg --help lists [$(echo $listed)], cmd/ has files for [$(echo $files)]"
  fails=$((fails + 1))
fi
for cmd in $files; do
  f="$SRC/cmd/$(echo "$cmd" | tr - _).c"
  help=$("$BIN" "$cmd" --help 2>&1) || { echo "FAIL: cordseg $cmd --help exits non-zero"; fails=$((fails + 1)); continue; }
  while read -r name; do
    checked=$((checked + 1))
    if ! grep -q -- "--$name\b" <<<"$help"; then
      echo "FAIL: cordseg $cmd --help does not mention --$name (an option of its table in cmd/$(basename "$f"))"
      fails=$((fails + 1))
    fi
  done < <(grep -E 'CLI_[A-Z0-9_]+\("[a-z0-9-]+"' "$f" | grep -v '\.hidden = 1' |
    grep -oE 'CLI_[A-Z0-9_]+\("[a-z0-9-]+"' | sed -E 's/.*\("([a-z0-9-]+)"/\1/')
done
[ "$checked" -gt 20 ] || { echo "FAIL: only $checked options found in cmd/*.c (did the CLI_* macros change?)"; fails=$((fails + 1)); }
if [ $fails -gt 0 ]; then echo "test_cmd_help: $fails check(s) FAILED"; exit 1; fi
echo "test_cmd_help: $checked options of $(wc -w <<<"$files") commands all in their --help"
