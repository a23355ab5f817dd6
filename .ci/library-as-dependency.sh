#!/usr/bin/env bash
# text-recognizer as a user gets it: `cargo package` it (under crates.io's 10 MB), build the
# packaged sources with no default features, then a scratch crate outside the workspace that
# depends on them by path with the default features and reads a real line with
# `Recognizer::default_model()`; its dependency tree must hold no training, HTTP, zip or font
# crates. Usage: .ci/library-as-dependency.sh [TARGET_DIR] (default: the workspace's target/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

echo "-- cargo package -p text-recognizer"
# --no-verify: the build below compiles the packaged sources (verify would build them a third time).
cargo package -p text-recognizer --no-verify --allow-dirty --target-dir "$target" 2>&1 | grep -v '^ *\(Packaging\|Updating\|Locking\|Adding\)' || true
crate=$(ls "$target"/package/text-recognizer-*.crate)
size=$(stat -c %s "$crate")
echo "packaged $(basename "$crate"): $((size / 1000)) kB"
if [ "$size" -ge 10000000 ]; then
  echo "the packaged crate is over crates.io's 10 MB limit" >&2
  exit 1
fi
tar -xzf "$crate" -C "$work"
pkg=$(ls -d "$work"/text-recognizer-*)
listing=$(tar -tzf "$crate")
case "$listing" in
  *model/default-line.htr*) ;;
  *) echo "the default model is not packaged" >&2; exit 1 ;;
esac

# The same dependency versions as the workspace. Its dependencies differ in features from the
# workspace's (no burn-train), so they build anew: unoptimised, but for the crates that do the
# arithmetic of reading a line (opt-level 1), which builds in 6.5 min instead of 8.7 at
# opt-level 1 throughout and reads the line the same.
cp Cargo.lock "$pkg/Cargo.lock"
profile='
[profile.dev]
debug = false
opt-level = 0

[profile.dev.package.text-recognizer]
opt-level = 1
[profile.dev.package.burn-flex]
opt-level = 1
[profile.dev.package.gemm-common]
opt-level = 1
[profile.dev.package.gemm-f32]
opt-level = 1
[profile.dev.package.pulp]
opt-level = 1
[profile.dev.package.macerator]
opt-level = 1
[profile.dev.package.matrixmultiply]
opt-level = 1
[profile.dev.package.zune-jpeg]
opt-level = 1
'
printf '\n[workspace]\n%s' "$profile" >> "$pkg/Cargo.toml"

echo "-- the packaged library with no default features, and with the defaults"
cargo build --manifest-path "$pkg/Cargo.toml" --target-dir "$target" --no-default-features --lib
cargo build --manifest-path "$pkg/Cargo.toml" --target-dir "$target" --lib

echo "-- a scratch crate reading a real line with Recognizer::default_model()"
mkdir -p "$work/scratch/src"
cat > "$work/scratch/Cargo.toml" <<TOML
[package]
name = "scratch"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
text-recognizer = { path = "$pkg" }

[workspace]
$profile
TOML
cat > "$work/scratch/src/main.rs" <<'RS'
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).ok_or("usage: scratch IMAGE")?;
    let recognizer = text_recognizer::Recognizer::default_model()?;
    println!("{}", recognizer.recognize_file(path.as_ref())?.text);
    Ok(())
}
RS
cp Cargo.lock "$work/scratch/Cargo.lock"
line=datasets/fixtures/testaments-val-mini/AN_0054-1-000.jpg
truth=$(cat "${line%.jpg}.gt.txt")
read=$(cargo run -q --manifest-path "$work/scratch/Cargo.toml" --target-dir "$target" -- "$root/$line")
echo "read:  $read"
echo "truth: $truth"
# A real reading, not just any output: at most half the characters wrong.
python3 - "$read" "$truth" <<'PY'
import sys
a, b = sys.argv[1], sys.argv[2]
d = list(range(len(b) + 1))
for i, ca in enumerate(a, 1):
    prev, d[0] = d[0], i
    for j, cb in enumerate(b, 1):
        prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
cer = d[len(b)] / max(len(b), 1)
print(f"CER {100 * cer:.1f} %")
sys.exit(0 if cer <= 0.5 else 1)
PY

echo "-- its dependency tree"
tree=$(cargo tree --manifest-path "$work/scratch/Cargo.toml" -e normal --prefix none)
echo "$(echo "$tree" | sort -u | wc -l) crates"
forbidden=$(echo "$tree" | grep -E '^(burn-train|reqwest|hyper|zip|ab_glyph|ab_glyph_rasterizer|owned_ttf_parser|ttf-parser|rusttype|fontdue|font-kit) ' | sort -u || true)
if [ -n "$forbidden" ]; then
  echo "the default features pull in:" >&2
  echo "$forbidden" >&2
  exit 1
fi
echo "no burn-train, reqwest, hyper, zip or font crates"
