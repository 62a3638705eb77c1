package emulators

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// parentDeathSignal: the kernel kills our servers when this process dies, even
// by SIGKILL or a test timeout, so an idle server may outlive its last user
// for a linger period without risking an orphan.
const parentDeathSignal = true

func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Pdeathsig fires when the thread that forked the child exits, not the
// process. Go may retire threads, so every server is forked from one
// goroutine locked to a thread that lives as long as the process.
var forker struct {
	once     sync.Once
	requests chan forkRequest
}

type forkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startInOwnGroup(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		forker.requests = make(chan forkRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not exit
			for req := range forker.requests {
				req.done <- req.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	forker.requests <- forkRequest{cmd: cmd, done: done}
	return <-done
}
