#!/usr/bin/env bash
# Prints the release binary's size, stripped, and how much of its code belongs to the web app
# (the latchkey-web crate, its templates and the WebAuthn crates only passkeys need), by the
# sizes of the symbols each crate owns, monomorphised generics included (BENCHMARKS.md, "Binary
# size"). Builds `cargo build --release -p latchkey` first unless given a binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
    cargo build --release -p latchkey
    bin="${CARGO_TARGET_DIR:-target}/release/latchkey"
fi
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"
printf 'binary %s: %s bytes as built, %s bytes stripped\n' "$bin" "$(stat -c %s "$bin")" "$(stat -c %s "$stripped")"
nm -C --size-sort -S "$bin" | python3 -c '
import re, sys
# Crates that only the web app brings: its own crate, the templates, and WebAuthn with the
# attestation and crypto crates that only it uses (`cargo tree --workspace --prune webauthn-rs`).
web = """latchkey_web askama askama_web webauthn_rs webauthn_rs_core webauthn_rs_proto
webauthn_attestation_ca serde_cbor_2 x509_parser x509_cert der der_parser asn1_rs rsa p256 p384
p521 crypto_bigint crypto_primes crypto_glue elliptic_curve ecdsa primeorder primefield pkcs1
pkcs5 pkcs8 spki sec1 scrypt pbkdf2 aes aes_gcm aes_kw ghash polyval cbc ctr cts kbkdf salsa20
md5 num_bigint num_integer half oid_registry flagset signature base16ct ff group wnaf rfc6979
serde_with pem_rfc7468""".split()
owner = re.compile(r"\b(" + "|".join(web) + r")::")
first = re.compile(r"[<&* ]*(?:mut |dyn )?([A-Za-z_][A-Za-z0-9_]*)::")
total, share, crates = 0, {}, {}
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size = int(parts[1], 16)
    total += size
    m = owner.search(parts[3])
    if m:
        share[m.group(1)] = share.get(m.group(1), 0) + size
    f = first.match(parts[3])
    key = f.group(1) if f else "(other)"
    crates[key] = crates.get(key, 0) + size
print(f"symbols: {total / 1e6:.2f} MB in all; the web app owns {sum(share.values()) / 1e6:.2f} MB")
for k, v in sorted(share.items(), key=lambda kv: -kv[1])[:12]:
    print(f"  web  {v / 1e3:8.0f} KB  {k}")
for k, v in sorted(crates.items(), key=lambda kv: -kv[1])[:15]:
    print(f"  all  {v / 1e3:8.0f} KB  {k}")
'
