package emulators_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/playplane/playplane/shared/emulators"
)

// A test that needs DynamoDB asks for it; tests in the same binary share
// one server, which stops after the last of them ends.
func ExampleDynamoDB() {
	_ = func(t *testing.T) {
		endpoint := emulators.DynamoDB(t)
		_ = endpoint // dynamodb.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1", Credentials: any static pair}
	}
}

// A package can hold one server for its whole run from TestMain, and the
// local runner does the same from main; emulators.DynamoDB(t) inside the
// tests then joins that server.
func ExampleStart() {
	_ = func(m *testing.M) {
		endpoint, stop, err := emulators.Start(context.Background(), emulators.DynamoDBService)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Setenv("DYNAMODB_ENDPOINT", endpoint)
		code := m.Run()
		stop()
		os.Exit(code)
	}
}
