#!/usr/bin/env bash
# jobs/install-deps.sh: kept at the path the README names; the script is scripts/install-deps.sh.
exec bash "$(dirname "$0")/../scripts/install-deps.sh" "$@"
