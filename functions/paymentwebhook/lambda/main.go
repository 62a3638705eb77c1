// Command lambda is paymentwebhook on AWS Lambda: the Stripe webhook, the
// stripe-events consumer, and the scheduled sweep and reconciliation.
package main

import (
	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets named by ARN
	_ "github.com/playplane/playplane/shared/awsfn/sqsbus"    // the function publishes to SQS
	"github.com/playplane/playplane/shared/fnenv"
)

// build is the function's one Build, over the AWS adapters (awsfn.Env).
var build = fnenv.Erase(paymentwebhook.Build)

func main() { awsfn.Main(build) }
