//go:build !unix

package emulators

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

const parentDeathSignal = false

const (
	terminateSignal = syscall.Signal(0)
	killSignal      = syscall.Signal(0)
)

func serverProcAttr() *syscall.SysProcAttr { return nil }

func startInOwnGroup(*exec.Cmd) error {
	return errors.New("local emulators need a Unix system (bash, process groups); GOOS=" + runtime.GOOS)
}

func signalGroup(proc *os.Process, _ syscall.Signal) error {
	return proc.Kill()
}
