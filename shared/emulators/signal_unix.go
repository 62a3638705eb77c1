//go:build unix

package emulators

import (
	"os"
	"syscall"
)

const (
	terminateSignal = syscall.SIGTERM
	killSignal      = syscall.SIGKILL
)

// signalGroup signals the process group led by proc, which serverProcAttr made
// the server's own: it reaches the server and anything it forked, nothing else.
func signalGroup(proc *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-proc.Pid, sig)
}
