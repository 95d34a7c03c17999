#!/usr/bin/env python3
"""Generates Tests/Vectors/ed25519.json: signatures from an independent Ed25519 implementation
(the `cryptography` package, RFC 8032 pure Ed25519), which Allot's signer must reproduce byte for
byte (Ed25519 is deterministic) and its verifier must accept. Bundles and manifests are signed
with pure Ed25519, not the pre-hashed Ed25519ph variant.

Run: python3 scripts/generate-ed25519-vectors.py
"""
import base64, hashlib, json, os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

cases = []
for index, message in enumerate([b"", b"allot", b"x" * 1000, bytes(range(256)) * 40]):
    seed = hashlib.sha256(f"allot ed25519 vector {index}".encode()).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    cases.append({
        "seed": seed.hex(), "publicKey": public.hex(),
        "message": base64.b64encode(message).decode(), "signature": key.sign(message).hex(),
    })
root = os.path.join(os.path.dirname(__file__), "..", "Tests", "Vectors")
with open(os.path.join(root, "ed25519.json"), "w") as f:
    json.dump({"description": "RFC 8032 Ed25519 (pure) signatures from python-cryptography; message is base64.", "cases": cases}, f, indent=1)
    f.write("\n")
