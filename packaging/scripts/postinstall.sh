#!/bin/sh
# Enable the agent's user unit for every user (it starts at their next
# login). deb calls this with "configure", rpm with 1 (install) or 2
# (upgrade); enabling is idempotent, so every call enables.
# DPKG_ROOT (dpkg --root with --force-script-chrootless) points at the
# system being installed to; systemctl --root edits that one.
set -e
if command -v systemctl >/dev/null 2>&1; then
	if [ -n "${DPKG_ROOT:-}" ]; then
		systemctl --root="$DPKG_ROOT" --global enable eid-agent.service || true
	else
		systemctl --global enable eid-agent.service || true
	fi
fi
exit 0
