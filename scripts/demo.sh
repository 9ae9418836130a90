#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded defaults, in a scratch folder:
# a throwaway OpenBao holds the passwords, SQLite is the store, and a local SMTP sink
# receives the mail. Nothing leaves this machine.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$repo/.demo"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
export SMTPCFG_STORE="sqlite:///$work/smtpcfg.db"
# Saved plans are signed with this key, and apply checks the signature (see README, apply).
export SMTPCFG_PLAN_KEY="$(python -c 'import secrets; print(secrets.token_hex(32))')"
python="$(command -v python)"
pids=()
# `bao` in the venv is a launcher that runs the real binary as its child: stop both.
cleanup() { for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_line() { for _ in $(seq 100); do grep -qF "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for '$1' in $2" >&2; cat "$2" >&2; exit 1; }

step "start a throwaway OpenBao (Vault API) on loopback and store the SMTP passwords"
export VAULT_ADDR="http://127.0.0.1:$(free_port)"
export VAULT_TOKEN="demo-root-$RANDOM$RANDOM"
bao server -dev -dev-no-store-token -dev-root-token-id="$VAULT_TOKEN" \
  -dev-listen-address="${VAULT_ADDR#http://}" >"$work/openbao.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$VAULT_TOKEN" bao status >/dev/null 2>&1 && break; sleep 0.1; done
primary_password="demo-$RANDOM$RANDOM$RANDOM"
BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$VAULT_TOKEN" bao kv put secret/smtp/primary password="$primary_password" >/dev/null
BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$VAULT_TOKEN" bao kv put secret/smtp/transactional password="demo-$RANDOM$RANDOM" >/dev/null
echo "OpenBao at $VAULT_ADDR with secret/smtp/primary and secret/smtp/transactional"

step "validate the example manifests (offline)"
smtpcfg validate -f "$repo/examples/smtp.yaml"

step "create the store (every other command refuses a store that does not exist)"
smtpcfg init

step "plan against the empty store (checks every Vault reference), save the plan"
smtpcfg plan -f "$repo/examples/smtp.yaml" --out plan.json

step "apply the saved plan"
smtpcfg apply plan.json --actor demo

step "plan again: nothing to do"
smtpcfg plan -f "$repo/examples/smtp.yaml" --detailed-exitcode

step "start a local SMTP relay (smtpcfg dev-sink: STARTTLS, any login) and point 'primary' at it"
port="$(free_port)"
smtpcfg dev-sink --port "$port" --ca-file "$work/ca.pem" --save "$work/mail" >"$work/sink.log" 2>&1 &
pids+=($!)
sink_pid=$!
wait_for_line "Ctrl-C stops it." "$work/sink.log"
head -2 "$work/sink.log"
mkdir -p manifests
sed -e "s/host: smtp.example.com/host: 127.0.0.1/" -e "s/port: 587/port: $port/" \
  "$repo/examples/smtp.yaml" >manifests/smtp.yaml
smtpcfg plan -f manifests/ --out relay.json
smtpcfg apply relay.json --actor demo

step "what the store holds, and the audit log"
smtpcfg get
smtpcfg history

step "send a test email with the stored settings"
smtpcfg test-email primary --user billing-ops --ca-file "$work/ca.pem"

step "queue an invoice with a PDF and run the delivery runner once"
printf '%%PDF-1.4\n%% demo invoice\n%%%%EOF\n' >INV-2026-0042.pdf
job="$(smtpcfg outbox add --purpose invoice --template invoice --to ap@customer.example \
  --account A-1001 --invoice INV-2026-0042 --var name="Customer AP" --attach INV-2026-0042.pdf)"
echo "queued outbox job $job"
smtpcfg deliver --once --ca-file "$work/ca.pem"
smtpcfg outbox list

step "where the mail went"
kill -TERM "$sink_pid"
wait "$sink_pid" || true
for message in "$work"/mail/*.eml; do
  printf '%s: %s | %s\n' "$message" "$(grep -m1 '^To:' "$message")" "$(grep -m1 '^Subject:' "$message")"
done
printf '\nDemo store: %s\n' "$SMTPCFG_STORE"
