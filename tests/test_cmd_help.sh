#!/usr/bin/env bash
# tests/test_cmd_help.sh BIN: a command's --help may not drift from its option
# table. For every command file cmd/<name>.c (cmd/bench_io.c is `bench-io`;
# cli.c, commands.c and main.c are the parser, the command table, main),
# every option of its CLI_* table (cmd/cli.h) must have its line among the
# options of `cordseg <name> --help`, unless the table marks it .hidden (a
# test hook); its usage() must print its synopsis from the command table
# (cli_print_synopsis; SYNOPSIS_BY_HAND lists the ones not converted yet);
# and `cordseg --help` must list exactly the commands that have a file.
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
fails=0 checked=0
# usage() functions that still write their synopsis by hand; every other
# command prints the one of the command table (cmd/commands.c)
SYNOPSIS_BY_HAND=""
listed=$("$BIN" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }' | sort)
files=$(cd "$SRC/cmd" && ls *.c | grep -v '^cli.c$\|^main.c$\|^commands.c$' | sed 's/\.c$//; s/_/-/g' | sort)
if [ "$listed" != "$files" ]; then
  echo "FAIL: cordseg --help lists [$(echo $listed)], cmd/ has files for [$(echo $files)]"
  fails=$((fails + 1))
fi
for cmd in $files; do
  f="$SRC/cmd/$(echo "$cmd" | tr - _).c"
  help=$("$BIN" "$cmd" --help 2>&1) || { echo "FAIL: cordseg $cmd --help exits non-zero"; fails=$((fails + 1)); continue; }
  table_help=0
  if grep -qF '.help = ' "$f"; then table_help=1; fi
  if ! grep -qF "cli_print_synopsis(f, \"$cmd\")" "$f"; then
    if [[ " $SYNOPSIS_BY_HAND " == *" $cmd "* ]]; then
      echo "note: cmd/$(basename "$f")'s usage() writes its synopsis by hand (not yet cli_print_synopsis)"
    else
      echo "FAIL: cmd/$(basename "$f")'s usage() does not print its synopsis with cli_print_synopsis(f, \"$cmd\")"
      fails=$((fails + 1))
    fi
  fi
  while read -r name; do
    checked=$((checked + 1))
    # a table with .help: an option line of cli_print_options; a help
    # written by hand (no .help yet) need only mention the option
    pat="^ +(-[a-zA-Z0-9], )?--$name( |=|$)"
    [ "$table_help" = 1 ] || pat="--$name\b"
    if ! grep -qE -- "$pat" <<<"$help"; then
      echo "FAIL: cordseg $cmd --help does not list --$name among its options (give it .help in cmd/$(basename "$f"))"
      fails=$((fails + 1))
    fi
  done < <(grep -E 'CLI_[A-Z0-9_]+\("[a-z0-9-]+"' "$f" | grep -v '\.hidden = 1' |
    grep -oE 'CLI_[A-Z0-9_]+\("[a-z0-9-]+"' | sed -E 's/.*\("([a-z0-9-]+)"/\1/')
done
[ "$checked" -gt 20 ] || { echo "FAIL: only $checked options found in cmd/*.c (did the CLI_* macros change?)"; fails=$((fails + 1)); }
if [ $fails -gt 0 ]; then echo "test_cmd_help: $fails check(s) FAILED"; exit 1; fi
echo "test_cmd_help: $checked options of $(wc -w <<<"$files") commands all in their --help"
