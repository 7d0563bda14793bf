#!/usr/bin/env bash
# Builds the DocC documentation of every public module with warnings as errors: a broken symbol
# link, an undocumented parameter or a missing article fails. Archives land in
# .build/plugins/Swift-DocC/outputs/ (open one with `docc preview`, or see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(Optim DataParallel Models Datasets ModelIO Topology)
args=()
for target in "${targets[@]}"; do args+=(--target "$target"); done
swift package generate-documentation "${args[@]}" --warnings-as-errors
