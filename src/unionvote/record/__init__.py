"""The public election record: Belenios's `.bel` archive and our hashed files beside it."""
