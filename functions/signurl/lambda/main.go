// Command lambda is signurl on AWS Lambda: it turns a playback token into
// CloudFront signed URLs and cookies, reading sessions from DynamoDB.
package main

import (
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/awsfn"
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // the function reads secrets named by ARN
	"github.com/playplane/playplane/shared/fnenv"
)

// build is the function's one Build, over the AWS adapters (awsfn.Env).
var build = fnenv.Erase(signurl.Build)

func main() { awsfn.Main(build) }
