#!/usr/bin/env bash
# Fetches the XML schemas the output tests validate against into target/schemas (or $1):
#   page.xsd — PAGE-XML 2019-07-15, as shipped in the `ocrd` wheel on PyPI (OCR-D, Apache-2.0;
#              the schema is PRImA Research's, Apache-2.0).
# Needs pip and unzip. Not committed: the package is the source.
set -euo pipefail
dest=${1:-"$(dirname "$0")/../../target/schemas"}
mkdir -p "$dest"
if [ ! -f "$dest/page.xsd" ]; then
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "ocrd==3.13.3"
  unzip -o -q -j "$tmp"/ocrd-3.13.3-*.whl ocrd_validators/page.xsd -d "$dest"
  rm -rf "$tmp"
fi
grep -q 'pagecontent/2019-07-15' "$dest/page.xsd"
echo "schemas in $dest: $(ls "$dest")"
