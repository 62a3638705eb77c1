// Command lambda is heartbeat on AWS Lambda: the heartbeat and progress
// routes, which publish to the heartbeats queue, and the consumer of that
// queue, over DynamoDB.
package main

import (
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets named by ARN
	_ "github.com/playplane/playplane/shared/awsfn/sqsbus"    // the function publishes to SQS
	"github.com/playplane/playplane/shared/fnenv"
)

// build is the function's one Build, over the AWS adapters (awsfn.Env).
var build = fnenv.Erase(heartbeat.Build)

func main() { awsfn.Main(build) }
