#!/usr/bin/env sh
# Rebuilds vendor.js (and its licence file) from package-lock.json. Only needed after changing
# package.json or entry.mjs: the built files are committed so the console works without npm.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npx esbuild entry.mjs --bundle --format=esm --minify --legal-comments=eof \
  --target=es2020 --outfile=vendor.js
for licence in node_modules/*/LICENSE* node_modules/@*/*/LICENSE*; do
  case "$licence" in *esbuild*) continue ;; esac
  printf '==== %s ====\n' "$(dirname "${licence#node_modules/}")"
  cat "$licence"
  printf '\n'
done > THIRD_PARTY_LICENSES.txt
rm -rf node_modules
