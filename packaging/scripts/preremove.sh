#!/bin/sh
# Disable the agent's user unit for every user when the package goes away:
# deb calls this with "remove" (not "upgrade"), rpm with 0 (erase; 1 is an
# upgrade). Running agents stop at logout; a page can no longer start one.
set -e
case "${1:-}" in
remove | 0) ;;
*) exit 0 ;;
esac
if command -v systemctl >/dev/null 2>&1; then
	if [ -n "${DPKG_ROOT:-}" ]; then
		systemctl --root="$DPKG_ROOT" --global disable eid-agent.service || true
	else
		systemctl --global disable eid-agent.service || true
	fi
fi
exit 0
