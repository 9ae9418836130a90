#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded defaults, in a scratch folder.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$repo/.demo"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
export SMTPCFG_STORE="sqlite:///$work/smtpcfg.db"

step() { printf '\n== %s\n' "$*"; }

step "validate the example manifests"
smtpcfg validate -f "$repo/examples/smtp.yaml"

step "plan against an empty store, save the plan"
smtpcfg plan -f "$repo/examples/smtp.yaml" --out plan.json

step "apply the saved plan"
smtpcfg apply plan.json --actor demo

step "plan again: nothing to do"
smtpcfg plan -f "$repo/examples/smtp.yaml" --detailed-exitcode

step "what the store holds, and the audit log"
smtpcfg get
smtpcfg history

printf '\nDemo store: %s\n' "$SMTPCFG_STORE"
