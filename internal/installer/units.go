package installer

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"unicode/utf16"
)

// systemdExec writes an absolute path for ExecStart= (systemd.service(5),
// "Command lines"): plain when it is made of safe characters, otherwise in
// double quotes (spaces). % (specifiers, systemd.unit(5)) is doubled; $ is
// not, because systemd expands variables in the arguments only. systemd
// refuses an executable path holding quotes, backslashes or control
// characters ("Executable name contains special characters"), so those
// are an error here rather than a unit that never starts.
func systemdExec(p string) (string, error) {
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\'' || r == '\\' }) {
		return "", fmt.Errorf("%w: systemd cannot run a program whose path holds quotes, backslashes or control characters: %q", ErrTarget, p)
	}
	p = strings.ReplaceAll(p, "%", "%%")
	if strings.ContainsFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._+-%", r))
	}) {
		return `"` + p + `"`, nil
	}
	return p, nil
}

// SystemdUnit is the systemd user unit that runs binary as the logged-in
// user. The same text serves ~/.config/systemd/user, /etc/systemd/user and
// the package's /usr/lib/systemd/user.
//
// Hardening is limited to what a user manager can apply without user
// namespaces (seccomp and prctl based: NoNewPrivileges= and the Restrict*
// and SystemCall* settings, systemd.exec(5)). The mount-namespace options
// (ProtectSystem=, ProtectHome=, PrivateTmp=) make a user service fail to
// start wherever unprivileged user namespaces are off (Ubuntu 24.04's
// AppArmor restriction, some hardened kernels), and the agent must reach
// /run/pcscd/pcscd.comm, its configuration in the home directory, and the
// loopback interface (so no PrivateNetwork=, which would give it a loopback
// of its own). AF_NETLINK stays allowed: Go's net package reads interface
// addresses through it. pcscd.socket is ordered and wanted as the issue
// asks; in a user manager it only resolves when a user-level pcscd.socket
// exists — otherwise pcscd's own system socket activates pcscd on the
// agent's first connection, and the agent's card.Watch survives pcscd
// restarts.
func SystemdUnit(binary string) ([]byte, error) {
	exec, err := systemdExec(binary)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `# eid-agent: Belgian eID card agent for local applications and web pages.
# Runs in each user's session (docs/installer.md).
[Unit]
Description=eid-agent (Belgian eID card agent)
Documentation=https://github.com/eid-agent/eid-agent/blob/main/docs/installer.md
After=pcscd.socket
Wants=pcscd.socket

[Service]
Type=exec
ExecStart=%s run
Restart=on-failure
RestartSec=2s
UMask=0077
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=default.target
`, exec)
	return b.Bytes(), nil
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// LaunchdPlist is the LaunchAgent definition (launchd.plist(5)): started
// at login in GUI (Aqua) sessions only, where the PIN dialog can appear,
// and started again when it exits with a failure (KeepAlive
// SuccessfulExit=false: a clean stop stays stopped, like systemd's
// Restart=on-failure).
func LaunchdPlist(binary string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + LaunchdLabel + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + xmlText(binary) + `</string>
		<string>run</string>
	</array>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`)
}

// WindowsTask is the Task Scheduler definition (task schema 1.2, "Task
// Scheduler Schema Elements") as text: started at logon in the user's
// interactive session, with the user's own, non-elevated token. User
// scope: triggered by and running as t.User. System scope: triggered by
// any logon and running as whoever logged on (principal group Users,
// S-1-5-32-545). It is written to disk as UTF-16 (WindowsTaskFile), the
// encoding schtasks /XML expects.
//
// Why not a Windows service: services run in session 0 under a service
// account, where no PIN dialog can be shown and every connection would
// come from "another user" (docs/installer.md).
func WindowsTask(t Target) string {
	principal := "<GroupId>S-1-5-32-545</GroupId>"
	trigger := "<LogonTrigger>\n      <Enabled>true</Enabled>\n    </LogonTrigger>"
	if t.Scope == User {
		principal = "<UserId>" + xmlText(t.User) + "</UserId>\n      <LogonType>InteractiveToken</LogonType>"
		trigger = "<LogonTrigger>\n      <Enabled>true</Enabled>\n      <UserId>" + xmlText(t.User) + "</UserId>\n    </LogonTrigger>"
	}
	return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Author>eid-agent</Author>
    <Description>eid-agent: Belgian eID card agent for local applications and web pages (docs/installer.md)</Description>
    <URI>\` + xmlText(t.taskName()) + `</URI>
  </RegistrationInfo>
  <Triggers>
    ` + trigger + `
  </Triggers>
  <Principals>
    <Principal id="Author">
      ` + principal + `
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>` + xmlText(t.Binary) + `</Command>
      <Arguments>run</Arguments>
    </Exec>
  </Actions>
</Task>
`
}

// WindowsTaskFile encodes the task text as schtasks reads it: UTF-16
// little-endian with a byte-order mark and CRLF line ends.
func WindowsTaskFile(text string) []byte {
	text = strings.ReplaceAll(text, "\n", "\r\n")
	u := utf16.Encode([]rune(text))
	out := make([]byte, 2, 2+2*len(u))
	out[0], out[1] = 0xFF, 0xFE
	for _, c := range u {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

// tomlString writes s as a TOML basic string (TOML 1.0, "String").
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// PolicyTOML is the system policy file /etc/eid-agent/policy.toml. With no
// origins it is the sample the package ships: every setting commented out.
// With origins (eid-agent install --system --allow-origin ...) the
// allow-list is set and the grants stay a commented example.
func PolicyTOML(origins []string) []byte {
	var b strings.Builder
	b.WriteString(`# eid-agent system policy (docs/installer.md, docs/browsers.md).
# Set by the administrator for every user of this machine.

# Web sites that may connect to the agent: exact origins
# (scheme://host[:port]), https only, compared byte for byte.
`)
	example := "https://admission.hospital.example"
	if len(origins) == 0 {
		b.WriteString("# allowed_origins = [" + tomlString(example) + "]\n")
	} else {
		b.WriteString("allowed_origins = [\n")
		for _, o := range origins {
			b.WriteString("  " + tomlString(o) + ",\n")
		}
		b.WriteString("]\n")
		example = origins[0]
	}
	b.WriteString(`
# Permissions granted in advance to an origin, without asking the user:
# identity, address, photo, authenticate, sign. One [[grant]] per origin.
# [[grant]]
# origin = ` + tomlString(example) + `
# permissions = ["identity", "address", "photo", "authenticate", "sign"]

# Counter mode (docs/daemon.md): the application receives every inserted
# card, read once, with exactly these fields, without the user being asked.
# fields: card, identity, identity.MEMBER (e.g. identity.surname), address,
# photo, photoSha256, integrity. attestation = true: each card-read carries
# a presence attestation for the nonce the application left standing (it
# releases the whole identity file). revocation = true: the certificate's
# OCSP status follows. Only this file can pair a counter application.
# [[counter]]
# client = ` + tomlString(example) + `
# fields = ["identity.surname", "identity.firstNames", "identity.birthDate", "photo"]
# attestation = false
# revocation = false
`)
	return []byte(b.String())
}

// ChromePolicy is the Chrome/Chromium managed policy that lets the allowed
// origins reach the agent on loopback without the Local Network Access
// prompt (policy LocalNetworkAccessAllowedForUrls; docs/browsers.md).
func ChromePolicy(origins []string) []byte {
	b, _ := json.MarshalIndent(struct {
		LNA []string `json:"LocalNetworkAccessAllowedForUrls"`
	}{append([]string{}, origins...)}, "", "  ")
	return append(b, '\n')
}
