package emulators

import (
	"context"
	"fmt"
	"net/http"
)

// probeStripeMock asks the port for stripe-mock by name. An open port alone
// does not say whose it is: stripe-mock reads its OpenAPI document before it
// binds, so while it is still loading, a port some other process was given
// meanwhile would pass a dial, and our stripe-mock would then exit on a
// bind error with the tests already talking to a stranger. That stranger
// may be another stripe-mock (another test's), so waitReady also asks for
// our server's own word that it listens there (stripeMockListening).
func probeStripeMock(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.Header.Get("Stripe-Mock-Version") == "" {
		return fmt.Errorf("%s answered %s without a Stripe-Mock-Version header: not stripe-mock", endpoint, resp.Status)
	}
	return nil
}

// stripeMockListening is the line stripe-mock writes once it has bound its
// HTTP port; infra/local/with-emulators.sh waits for the same line. Both
// are held to the real stripe-mock's output (TestTwoStripeMocksAtOnce,
// TestWithEmulatorsScript).
func stripeMockListening(port int) string {
	return fmt.Sprintf("Listening for HTTP at address: 127.0.0.1:%d\n", port)
}
