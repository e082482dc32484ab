// Package installer installs the agent so that it starts in each user's
// session, removes it exactly, and checks that a machine can run it
// (prerequisites, eid-agent doctor).
//
// The agent runs as the logged-in user, never as a system service: the
// bridge refuses connections from other OS users and PIN dialogs must
// appear on the user's desktop (docs/installer.md). So:
//
//   - Linux: a systemd user unit, in ~/.config/systemd/user (--user) or
//     /etc/systemd/user enabled with systemctl --global (--system);
//   - macOS: a LaunchAgent plist in ~/Library/LaunchAgents or
//     /Library/LaunchAgents;
//   - Windows: a Task Scheduler task started at logon, for one user or for
//     every member of Users.
//
// Everything is split in two. Generating the definitions (SystemdUnit,
// LaunchdPlist, WindowsTask, PolicyTOML, ChromePolicy) and the whole Plan
// of an install are pure functions, golden-tested on any OS. Applying a
// plan (Install, Uninstall) goes through a filesystem root and a Runner
// for systemctl/launchctl/schtasks, so tests run it into a temporary HOME
// or root. Install keeps a manifest of what it created; Uninstall removes
// exactly that (configuration only with Purge).
//
// The package has no cgo dependency, so it builds for every OS; the checks
// that need PC/SC or PKCS#11 are handed in by the command as functions.
package installer
