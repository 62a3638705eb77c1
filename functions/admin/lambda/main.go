// Command lambda is the admin API on AWS Lambda over DynamoDB, behind the
// HTTP API's JWT authorizer (the function itself requires the admin claim).
package main

import (
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/sqsbus" // the function publishes to SQS
	"github.com/playplane/playplane/shared/fnenv"
)

// build is the function's one Build, over the AWS adapters (awsfn.Env).
var build = fnenv.Erase(admin.Build)

func main() { awsfn.Main(build) }
