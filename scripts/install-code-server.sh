#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3, the last release that runs on Node 20) from the npm registry alone,
# for the end-to-end tests of the VS Code extension (test/test/lsp/vscode.test.ts). Usage: install-code-server.sh [DEST]
# (default .tools/code-server, git-ignored). Origin: ../shared/tools/code-server/install-offline.sh of the team's
# shared tools, with its notes; changed here: the default DEST, skipping a finished install, and the checks below.
# The package's postinstall downloads ripgrep and argon2/kerberos prebuilds from GitHub, which nothing here may do,
# so it is skipped and its steps are done by hand, building the native modules against the local Node headers.
# Needs: Node 20 with headers in /usr/include/node, python3, make, g++, and the Debian packages libkrb5-dev ripgrep.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$(mkdir -p "${1:-$ROOT/.tools/code-server}" && cd "${1:-$ROOT/.tools/code-server}" && pwd)
VERSION=4.100.3
if [ -x "$DEST/node_modules/.bin/code-server" ] && [ -f "$DEST/.installed-$VERSION" ]; then
  echo "install-code-server: code-server $VERSION is already installed in $DEST"
  exit 0
fi
NODEDIR=${NODEDIR:-/usr} # node-gyp looks for $NODEDIR/include/node/node_version.h
NG=${NODE_GYP:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
for need in rg python3 make g++; do
  command -v "$need" >/dev/null || { echo "install-code-server: '$need' is missing (apt-get install ripgrep python3 make g++)" >&2; exit 1; }
done
[ -f "$NODEDIR/include/node/node_version.h" ] || { echo "install-code-server: no Node headers in $NODEDIR/include/node (apt-get install libnode-dev, or set NODEDIR)" >&2; exit 1; }
[ -f /usr/include/gssapi/gssapi.h ] || { echo "install-code-server: the Kerberos headers are missing (apt-get install libkrb5-dev)" >&2; exit 1; }
cd "$DEST"
[ -f package.json ] || npm init -y >/dev/null
npm install "code-server@$VERSION" --ignore-scripts --no-audit --no-fund
CS="$DEST/node_modules/code-server"
# what postinstall.sh would do, minus downloads
(cd "$CS/lib/vscode" && npm install --omit=dev --ignore-scripts --no-audit --no-fund)
(cd "$CS/lib/vscode/extensions" && npm install --omit=dev --ignore-scripts --no-audit --no-fund && node postinstall.mjs >/dev/null)
for m in @vscode/spdlog @vscode/deviceid native-watchdog node-pty kerberos; do
  (cd "$CS/lib/vscode/node_modules/$m" && node "$NG" rebuild --nodedir="$NODEDIR" -j "$(nproc)" >/dev/null)
done
mkdir -p "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin"
cp "$(command -v rg)" "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
(cd "$DEST/node_modules/argon2" && ../.bin/node-pre-gyp rebuild --build-from-source --nodedir="$NODEDIR" >/dev/null)
ln -sfn node_modules "$CS/lib/vscode/node_modules.asar"
(cd "$CS/lib/vscode/bin/remote-cli" && ln -sfn code-linux.sh code-server)
(cd "$CS/lib/vscode/bin/helpers" && ln -sfn browser-linux.sh browser.sh)
"$DEST/node_modules/.bin/code-server" --version
touch "$DEST/.installed-$VERSION"
