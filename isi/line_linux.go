package isi

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// speeds are the termios codes of the common scanner speeds.
var speeds = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200,
	38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400,
}

// setLine ignores the modem lines (CLOCAL: a scanner has no carrier),
// enables the receiver and sets the speed when baud is not 0.
func setLine(fd, baud int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("reading the line settings: %w", err)
	}
	t.Cflag |= unix.CLOCAL | unix.CREAD
	if baud != 0 {
		s, ok := speeds[baud]
		if !ok {
			return fmt.Errorf("unsupported speed %d baud", baud)
		}
		t.Cflag = t.Cflag&^unix.CBAUD | s
		t.Ispeed, t.Ospeed = s, s
	}
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("setting the line: %w", err)
	}
	return nil
}
