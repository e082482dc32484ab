//go:build !linux && !windows

package isi

import "errors"

// setLine: only Linux sets the speed; USB-CDC scanners ignore it anyway.
func setLine(fd, baud int) error {
	if baud != 0 {
		return errors.New("setting the speed is only supported on Linux")
	}
	return nil
}
