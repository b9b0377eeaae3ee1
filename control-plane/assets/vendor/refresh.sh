#!/usr/bin/env bash
# Refreshes the UI's vendored JavaScript and CSS from npm at the pinned versions below, then
# rewrites SHA256SUMS. Run it by hand when a version changes and commit the result:
# `cargo build` embeds these files and never needs npm or the network.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# package@version  file-in-package  name-here
files=(
  "htmx.org@2.0.11 dist/htmx.min.js htmx.min.js"
  "htmx-ext-sse@2.2.4 dist/sse.min.js htmx-sse.min.js"
  "uplot@1.6.32 dist/uPlot.iife.min.js uPlot.iife.min.js"
  "uplot@1.6.32 dist/uPlot.min.css uPlot.min.css"
)
for entry in "${files[@]}"; do
  read -r package path name <<<"$entry"
  dir="$work/${package//[@\/]/_}"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
  fi
  cp "$dir/package/$path" "$here/$name"
done
(cd "$here" && sha256sum htmx.min.js htmx-sse.min.js uPlot.iife.min.js uPlot.min.css >SHA256SUMS)
cat "$here/SHA256SUMS"
