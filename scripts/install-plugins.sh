#!/usr/bin/env bash
# Copies the built-in sink libraries from the build folder next to their manifests in plugins.d.
set -euo pipefail
BIN="$1"
DEST="$2"
for manifest in "$DEST"/*.json; do
    lib=$(sed -n 's/.*"library": *"\([^"]*\)".*/\1/p' "$manifest")
    [[ -z "$lib" || "$lib" == /* ]] && continue
    if [[ -f "$BIN/$lib" ]]; then
        cp -f "$BIN/$lib" "$DEST/$lib"
    else
        echo "install-plugins: $BIN/$lib not built (manifest $manifest)" >&2
    fi
done
