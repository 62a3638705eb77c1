//go:build unix && !linux

package emulators

import (
	"os/exec"
	"syscall"
)

// parentDeathSignal: outside Linux nothing kills our servers if this process
// dies, so idle servers stop at once instead of lingering.
const parentDeathSignal = false

func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func startInOwnGroup(cmd *exec.Cmd) error {
	return cmd.Start()
}
