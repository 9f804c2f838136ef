"""Belenios's protocol (crypto version 1, group Ed25519) over libsodium: pure, no I/O.

Modules follow the specification: ``group`` (Ed25519, encodings, G.hash), ``elgamal``,
``proofs`` (every zero-knowledge proof and signature), ``answers`` (encrypted answers),
``credentials``, ``trustees`` and ``threshold`` (keys and the Pedersen ceremony),
``decryption`` (partial decryptions, Lagrange combination, discrete log), and ``fast`` (the
proof equations p^v · a^c over Debian's libdecaf, byte-identical to the plain path; ADR 0007).
"""
