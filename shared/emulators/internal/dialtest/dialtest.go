// Package dialtest tells, for the emulators' lifecycle tests, whether a
// server is listening. It is test support: only tests import it
// (TestOnlyTestsImportIt).
package dialtest

import (
	"net"
	"time"
)

// AcceptedEvery reports whether hostPort accepted every one of n dials.
// One accepted dial to a closed port proves nothing: the kernel may pick the
// port itself as the dial's source (a TCP self-connect), or another test's
// listener may have been given the freed port; neither repeats on every try.
func AcceptedEvery(hostPort string, n int) bool {
	for range n {
		if !Dials(hostPort) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// Dials reports whether hostPort accepted one TCP connection within a
// second.
func Dials(hostPort string) bool {
	conn, err := net.DialTimeout("tcp", hostPort, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
