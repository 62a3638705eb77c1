// Command lambda is pickedge on AWS Lambda: edge ranking and steering
// manifests for a playback token, edge health reports queued on SQS and
// their consumer, over DynamoDB.
package main

import (
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets named by ARN
	_ "github.com/playplane/playplane/shared/awsfn/sqsbus"    // the function publishes to SQS
	"github.com/playplane/playplane/shared/fnenv"
)

// build is the function's one Build, over the AWS adapters (awsfn.Env).
var build = fnenv.Erase(pickedge.Build)

func main() { awsfn.Main(build) }
