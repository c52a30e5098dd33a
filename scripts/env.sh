# Sourced by the other scripts: puts the provisioned Node.js 22 (if any) first on PATH.
_bt_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$_bt_root/.tools/node_modules/node/bin/node" ]; then
  export PATH="$_bt_root/.tools/node_modules/node/bin:$PATH"
fi
export PATH="$_bt_root/bin:$PATH"
