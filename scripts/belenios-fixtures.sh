#!/usr/bin/env bash
# belenios-fixtures.sh: make reference election records with Debian's belenios-tool.
#
#   scripts/belenios-fixtures.sh [OUTDIR]     (default: tests/fixtures/belenios)
#
# Runs four complete small elections with belenios-tool 3.0 from the Debian trixie
# chroot prepared by ../shared/tools/belenios-verify (BELENIOS_CHROOT_DIR, default
# /var/tmp/belenios-chroots) and copies the records and their public inputs into
# OUTDIR. Needs root (chroot). Every run draws fresh keys, credentials and UUIDs,
# so the fixtures change each time it is run; commit one run's output.
#
#   single.bel     1 Single trustee, 1 question (pick 1 of 3, accented answers),
#                  5 voters, 6 ballots (one revote), tally, decryption, result
#   threshold.bel  server Single key + Pedersen 2-of-3 trustees; Q1 blank allowed
#                  (pick 1 of 2), Q2 pick 0..2 of 4; 4 voters, 5 ballots (one blank,
#                  one revote); decrypted by the server key and trustees 1 and 3
#   weighted.bel   voter weights (3, 1, 1000000000 and one implicit 1), 4 ballots
#   empty.bel      0 ballots, tallied, decrypted, result
#
# Next to each NAME.bel, NAME/ holds: uuid.txt, creds.privcreds (TEST-ONLY private
# credentials, JSON {"id":"cred"}), creds.pubcreds (as written by
# generate-credentials), the trustee public keys (*.pubkey; certs.jsons and
# threshold.json for Pedersen), template.json, voters.txt (if any), votes.txt
# (which credential id cast which choice, in ballot order) and, for single only,
# the trustee private key (*.privkey, TEST-ONLY).
#
# Each record is checked with belenios-verify before the script ends.
#
# This script only drives belenios-tool (the tool's own command line, as in
# Belenios's tests/tool/demo*.sh); no Belenios code is copied here.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/tests/fixtures/belenios}
root=${BELENIOS_CHROOT_DIR:-/var/tmp/belenios-chroots}/trixie
verify=${BELENIOS_VERIFY:-$(cd "$(dirname "$0")/../.." && pwd)/shared/tools/belenios-verify}
group=Ed25519

if [ ! -x "$root/usr/bin/belenios-tool" ]; then
  echo "no belenios-tool in $root; run $verify once to prepare the chroot" >&2
  exit 3
fi

# Scratch space inside the chroot, removed on exit.
work=$(mktemp -d "$root/tmp/belenios-fixtures.XXXXXX")
log=/dev/null
exec 3>&2   # the real stderr, for messages written while stderr goes to a log
# On failure show the log of the election being made; always remove the scratch.
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -f "$log" ]; then cat "$log" >&3; echo "FAILED (exit $rc)" >&3; fi
  rm -rf "$work"
}
trap cleanup EXIT

# bt DIR ARGS...: run belenios-tool in DIR (a path on the host, inside the chroot).
# BELENIOS_USE_URANDOM avoids blocking on /dev/random.
bt() {
  local dir=$1; shift
  chroot "$root" env -C "${dir#"$root"}" BELENIOS_USE_URANDOM=1 belenios-tool "$@"
}

# creds_by_id DIR: write DIR/cred.<id> (one private credential per file, as
# --privcred wants) from DIR/private_creds.json = {"id":"cred",...}.
creds_by_id() {
  python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
for ident, cred in json.load(open(f"{d}/private_creds.json")).items():
    open(f"{d}/cred.{ident}", "w").write(cred + "\n")
PY
}

# setup_election DIR UUID: make trustees.json and election.json from
# public_keys.jsons (+ threshold.json) and template.json, then create UUID.bel.
setup_election() {
  local d=$1 uuid=$2
  bt "$d" setup make-trustees
  bt "$d" setup make-election --uuid "$uuid" --group "$group" --template template.json
  # archive init reads election.json, trustees.json and public_creds.json;
  # keep copies, since the archive is what counts.
  bt "$d" archive init
}

# credentials DIR UUID [--count N | --file voters.txt]: generate credentials and
# rename the timestamped outputs to private_creds.json / public_creds.json.
credentials() {
  local d=$1 uuid=$2; shift 2
  bt "$d" setup generate-credentials --uuid "$uuid" --group "$group" "$@" >"$d/generate-credentials.out"
  mv "$d"/*.privcreds "$d/private_creds.json"
  mv "$d"/*.pubcreds "$d/public_creds.json"
}

# vote DIR ID CHOICE: cast a ballot for credential ID (a voter id from
# private_creds.json) with CHOICE (JSON list of lists of 0/1), check it and
# append it to the archive.
vote() {
  local d=$1 id=$2 choice=$3
  printf '%s\n' "$choice" >"$d/choice"
  bt "$d" election generate-ballot --dir . --privcred "cred.$id" --choice choice >"$d/ballot"
  bt "$d" election verify-ballot --dir . --ballot ballot >/dev/null 2>&1
  bt "$d" archive add-event --type=Ballot <"$d/ballot" >/dev/null 2>&1
  printf '%s %s\n' "$id" "$choice" >>"$d/votes.txt"
}

# close_and_tally DIR: end the voting phase and add the encrypted tally
# (compute-encrypted-tally prints the encrypted tally and then the sized tally;
# add-event stores every line as data and uses the last one as payload).
close_and_tally() {
  local d=$1
  bt "$d" archive add-event --type=EndBallots </dev/null
  bt "$d" election compute-encrypted-tally --dir . >"$d/et.out"
  bt "$d" archive add-event --type=EncryptedTally <"$d/et.out"
}

# finish DIR NAME: compute and add the result, verify, copy everything out.
finish() {
  local d=$1 name=$2 uuid
  uuid=$(cat "$d/uuid.txt")
  bt "$d" election compute-result --dir . >"$d/result.out"
  bt "$d" archive add-event --type=Result <"$d/result.out"
  bt "$d" election verify --dir . >/dev/null 2>&1
  rm -rf "${out:?}/$name" "$out/$name.bel"
  mkdir -p "$out/$name"
  cp "$d/$uuid.bel" "$out/$name.bel"
  cp "$d/uuid.txt" "$d/template.json" "$d/votes.txt" "$d/election.json" "$d/trustees.json" "$out/$name/" 2>/dev/null || true
  cp "$d/private_creds.json" "$out/$name/creds.privcreds"
  cp "$d/public_creds.json" "$out/$name/creds.pubcreds"
  for f in "$d"/*.pubkey "$d"/voters.txt "$d"/certs.jsons "$d"/threshold.json; do
    [ -e "$f" ] && cp "$f" "$out/$name/"
  done
  return 0
}

# new_election NAME: make a scratch directory with a fresh UUID in uuid.txt.
new_election() {
  local d=$work/$1
  mkdir -p "$d"
  bt "$d" setup generate-token >"$d/uuid.txt"
  : >"$d/votes.txt"
  echo "$d"
}

# ---------------------------------------------------------------- (a) single
single() {
  local d uuid
  d=$(new_election single); uuid=$(cat "$d/uuid.txt")
  credentials "$d" "$uuid" --count 5
  bt "$d" setup generate-trustee-key --group "$group" >&2
  cat "$d"/*.pubkey >"$d/public_keys.jsons"
  cat >"$d/template.json" <<'EOF'
{"description":"Élection d'essai à un seul dépositaire — « single »","name":"Test électoral","questions":[{"answers":["José","Zoë","Ñandú"],"min":1,"max":1,"question":"Qui élire ?"}]}
EOF
  setup_election "$d" "$uuid"
  creds_by_id "$d"
  # voters 1..5; voter 3 votes twice (the second ballot counts): result [3,2,0]
  vote "$d" 1 '[[1,0,0]]'
  vote "$d" 2 '[[0,1,0]]'
  vote "$d" 3 '[[0,0,1]]'
  vote "$d" 4 '[[1,0,0]]'
  vote "$d" 5 '[[0,1,0]]'
  vote "$d" 3 '[[1,0,0]]'
  close_and_tally "$d"
  local key; key=$(basename "$d"/*.privkey)
  bt "$d" election decrypt --dir . --privkey "$key" --trustee-id 1 >"$d/pd.out"
  bt "$d" archive add-event --type=PartialDecryption <"$d/pd.out"
  finish "$d" single
  cp "$d"/*.privkey "$out/single/"
}

# ------------------------------------------------------------- (b) threshold
threshold() {
  local d uuid i id
  d=$(new_election threshold); uuid=$(cat "$d/uuid.txt")
  credentials "$d" "$uuid" --count 4
  # The Pedersen ceremony (steps 1-6 of generate-trustee-key-threshold):
  # 1: each trustee makes a signing/encryption key pair and a certificate;
  # 2: everyone checks the certificates; 3: each trustee makes its polynomial;
  # 4: the administrator dispatches the encrypted shares (vinput);
  # 5: each trustee checks its shares and makes its decryption key (voutput);
  # 6: the administrator combines everything into threshold.json.
  local tk=(setup generate-trustee-key-threshold --group "$group")
  for i in 1 2 3; do bt "$d" "${tk[@]}" --threshold-context "$i/2/3" --step 1 >"$d/$i.trustee"; done
  for i in 1 2 3; do cat "$d/$(cat "$d/$i.trustee").cert"; done >"$d/certs.jsons"
  bt "$d" "${tk[@]}" --certs certs.jsons --step 2
  for i in 1 2 3; do
    bt "$d" "${tk[@]}" --threshold-context "$i/2/3" --certs certs.jsons --key "$(cat "$d/$i.trustee").key" --step 3
  done >"$d/polynomials.jsons"
  bt "$d" "${tk[@]}" --certs certs.jsons --step 4 --polynomials polynomials.jsons
  for i in 1 2 3; do
    id=$(cat "$d/$i.trustee")
    bt "$d" "${tk[@]}" --certs certs.jsons --key "$id.key" --step 5 <"$d/$id.vinput" >"$d/$id.voutput"
  done
  for i in 1 2 3; do cat "$d/$(cat "$d/$i.trustee").voutput"; done |
    bt "$d" "${tk[@]}" --certs certs.jsons --step 6 --polynomials polynomials.jsons >"$d/threshold.json"
  # the mandatory Single key held by the server (owner 1)
  bt "$d" setup generate-trustee-key --group "$group" >&2
  cat "$d"/*.pubkey >"$d/public_keys.jsons"
  cat >"$d/template.json" <<'EOF'
{"description":"Threshold test: blank allowed, and 0 to 2 of 4","name":"Threshold test","questions":[{"answers":["Oui","Non"],"blank":true,"min":1,"max":1,"question":"Accepter ?"},{"answers":["Anna","Bob","Chloé","Dmitri"],"min":0,"max":2,"question":"Choisir au plus deux"}]}
EOF
  setup_election "$d" "$uuid"
  creds_by_id "$d"
  # A question with blank allowed takes n+1 choices, the first one meaning
  # "blank": [1,0,0] is a blank vote, [0,1,0] is Oui, [0,0,1] is Non ([0,0] is
  # refused: belenios-tool fails an assertion). Voter 2's first ballot is replaced.
  # Expected result: Q1 [blank, Oui, Non] = [1,2,1]; Q2 = [2,2,1,0].
  vote "$d" 1 '[[0,1,0],[1,1,0,0]]'
  vote "$d" 2 '[[0,0,1],[0,0,0,1]]'
  vote "$d" 3 '[[1,0,0],[0,0,0,0]]'
  vote "$d" 4 '[[0,0,1],[1,0,1,0]]'
  vote "$d" 2 '[[0,1,0],[0,1,0,0]]'
  close_and_tally "$d"
  # Partial decryptions: the server key first (owner 1), then Pedersen trustees
  # 1 and 3 (owners 2 and 4); trustee 2 (owner 3) stays away.
  local key; key=$(basename "$d"/*.privkey)
  bt "$d" election decrypt --dir . --privkey "$key" --trustee-id 1 >"$d/pd.out"
  bt "$d" archive add-event --type=PartialDecryption <"$d/pd.out"
  for i in 1 3; do
    id=$(cat "$d/$i.trustee")
    bt "$d" election decrypt-threshold --dir . --key "$id.key" --decryption-key "$id.dkey" \
      --trustee-id $((i + 1)) >"$d/pd.out"
    bt "$d" archive add-event --type=PartialDecryption <"$d/pd.out"
  done
  finish "$d" threshold
  # keep the trustee order: N.trustee names the certificate of Pedersen trustee N
  cp "$d"/[123].trustee "$out/threshold/"
}

# -------------------------------------------------------------- (c) weighted
weighted() {
  local d uuid
  d=$(new_election weighted); uuid=$(cat "$d/uuid.txt")
  # belenios-tool 3.0 reads "address,login,weight" (or "address" alone, weight 1);
  # the login is the voter id used in the private credentials file.
  cat >"$d/voters.txt" <<'EOF'
alice@example.com,alice,3
bob@example.com,bob,1
carol@example.com,carol,1000000000
dave@example.com
EOF
  credentials "$d" "$uuid" --file voters.txt
  bt "$d" setup generate-trustee-key --group "$group" >&2
  cat "$d"/*.pubkey >"$d/public_keys.jsons"
  cat >"$d/template.json" <<'EOF'
{"description":"Weighted test","name":"Weighted test","questions":[{"answers":["Yes","No"],"min":1,"max":1,"question":"Approve?"}]}
EOF
  setup_election "$d" "$uuid"
  creds_by_id "$d"
  # Expected result: [["1000000003","1"]] (dave revotes; his last ballot counts)
  vote "$d" alice '[[1,0]]'
  vote "$d" dave@example.com '[[1,0]]'
  vote "$d" carol '[[1,0]]'
  vote "$d" dave@example.com '[[0,1]]'
  close_and_tally "$d"
  local key; key=$(basename "$d"/*.privkey)
  bt "$d" election decrypt --dir . --privkey "$key" --trustee-id 1 >"$d/pd.out"
  bt "$d" archive add-event --type=PartialDecryption <"$d/pd.out"
  finish "$d" weighted
}

# ----------------------------------------------------------------- (d) empty
empty() {
  local d uuid
  d=$(new_election empty); uuid=$(cat "$d/uuid.txt")
  credentials "$d" "$uuid" --count 3
  bt "$d" setup generate-trustee-key --group "$group" >&2
  cat "$d"/*.pubkey >"$d/public_keys.jsons"
  cat >"$d/template.json" <<'EOF'
{"description":"Nobody votes","name":"Empty test","questions":[{"answers":["A","B"],"min":1,"max":1,"question":"Q?"}]}
EOF
  setup_election "$d" "$uuid"
  close_and_tally "$d"
  local key; key=$(basename "$d"/*.privkey)
  bt "$d" election decrypt --dir . --privkey "$key" --trustee-id 1 >"$d/pd.out"
  bt "$d" archive add-event --type=PartialDecryption <"$d/pd.out"
  finish "$d" empty
}

mkdir -p "$out"
for name in single threshold weighted empty; do
  echo "== $name" >&2
  log=$work/$name.log
  # (not inside "||" or "if": set -e must stay active in the functions)
  "$name" 2>"$log"
done

# Check every record with Belenios's own verifier (per-ballot and whole record):
# belenios-tool 3.0 (trixie) always, 3.3.0 (sid) too when its chroot is ready.
suites=(trixie)
[ -x "${root%/*}/sid/usr/bin/belenios-tool" ] && suites+=(sid)
status=0
for suite in "${suites[@]}"; do
  for name in single threshold weighted empty; do
    "$verify" --suite "$suite" "$out/$name.bel" | tail -1 || status=1
  done
done
exit $status
