#!/usr/bin/env bash
# Lints template.yaml with cfn-lint, which runs the SAM transform
# (aws-sam-translator) offline and checks the result against the
# CloudFormation resource specifications. `make cfn-lint` (part of
# `make test`) runs it.
#
# cfn-lint comes from PATH, else from a venv under ~/.cache/playplane that
# this script makes with pip (PyPI), else from Debian's package.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${PLAYPLANE_CACHE:-$HOME/.cache/playplane}/cfn-lint"

find_cfn_lint() {
	if command -v cfn-lint >/dev/null 2>&1 && cfn-lint --version >/dev/null 2>&1; then
		command -v cfn-lint
	elif [[ -x "$venv/bin/cfn-lint" ]]; then
		echo "$venv/bin/cfn-lint"
	else
		return 1
	fi
}

if ! lint="$(find_cfn_lint)"; then
	echo "cfn-lint: installing into $venv" >&2
	if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet cfn-lint; }; then
		rm -rf "$venv"
		echo "cfn-lint: pip failed; trying Debian's package" >&2
		apt-get install -y cfn-lint >&2 || { apt-get update >&2 && apt-get install -y cfn-lint >&2; }
	fi
	lint="$(find_cfn_lint)"
fi

cd "$root"
echo "$("$lint" --version) template.yaml" >&2
exec "$lint" template.yaml
