package emulators

import (
	"fmt"

	"cloud.google.com/go/pubsub/v2/pstest"
)

// newPubSubServer starts the official in-process Pub/Sub fake on loopback.
// pstest panics when it cannot listen; that becomes an error here.
func newPubSubServer() (srv *pstest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			srv, err = nil, fmt.Errorf("emulators.Start %s: %v", PubSubService, r)
		}
	}()
	return pstest.NewServerWithAddress("127.0.0.1:0"), nil
}
