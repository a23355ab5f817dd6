#!/usr/bin/env bash
# Fetches the XML schemas the output tests validate against into target/schemas (or $1):
#   page.xsd      — PAGE-XML 2019-07-15, as shipped in the `ocrd` wheel on PyPI (OCR-D, Apache-2.0;
#                   the schema is PRImA Research's, Apache-2.0).
#   xlink.xsd     — the XLink attributes ALTO imports, from the same `ocrd` wheel.
#   alto-4-4.xsd  — ALTO v4.4 (Library of Congress / ALTO Editorial Board, CC BY-SA 4.0), as shipped
#                   in the `htrflow` wheel on PyPI (Riksarkivet). Its import of xlink.xsd is pointed
#                   at the local copy so that xmllint --nonet can load it.
# Needs pip and unzip. Not committed: the packages are the source.
set -euo pipefail
dest=${1:-"$(dirname "$0")/../../target/schemas"}
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$dest/page.xsd" ] || [ ! -f "$dest/xlink.xsd" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "ocrd==3.13.3"
  unzip -o -q -j "$tmp"/ocrd-3.13.3-*.whl ocrd_validators/page.xsd ocrd_validators/xlink.xsd -d "$dest"
fi
if [ ! -f "$dest/alto-4-4.xsd" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "htrflow==0.2.6"
  unzip -o -q -j "$tmp"/htrflow-0.2.6-*.whl htrflow/serialization/schemas/alto-4-4.xsd -d "$tmp"
  sed 's|schemaLocation="http://www.loc.gov/standards/xlink/xlink.xsd"|schemaLocation="xlink.xsd"|' \
    "$tmp/alto-4-4.xsd" >"$dest/alto-4-4.xsd"
fi
grep -q 'pagecontent/2019-07-15' "$dest/page.xsd"
grep -q 'standards/alto/ns-v4#' "$dest/alto-4-4.xsd"
grep -q 'schemaLocation="xlink.xsd"' "$dest/alto-4-4.xsd"
echo "schemas in $dest: $(find "$dest" -maxdepth 1 -type f -printf '%f ')"
