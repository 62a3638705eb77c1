// Command lambda is authorizeplay on AWS Lambda: its HTTP API routes and its
// entitlement-changed consumer over DynamoDB, verified by the HTTP API's JWT
// authorizer.
package main

import (
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets named by ARN
	"github.com/playplane/playplane/shared/fnenv"
)

// build is the function's one Build, over the AWS adapters (awsfn.Env).
var build = fnenv.Erase(authorizeplay.Build)

func main() { awsfn.Main(build) }
