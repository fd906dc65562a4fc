#!/usr/bin/env bash
# jobs/quickstart.sh: kept at the path the README names; the script is scripts/quickstart.sh.
exec bash "$(dirname "$0")/../scripts/quickstart.sh" "$@"
