package lambdatest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestTemplateFunctionsBuild checks every AWS::Serverless::Function against
// the Lambda packaging the issue fixes, that `make build-<id>` builds its
// CodeUri with exactly BuildFlags for linux/arm64, and that every main
// type-checks for linux/arm64 with those tags (typeCheck: the
// files an arm64, lambda.norpc, cgo-less build compiles, from source, ~18
// CPU-s under -race on a cold cache).
//
// Compiling and linking them for arm64 as shipped (Build) costs ~155 CPU-s
// on a cold cache, a whole second standard library and AWS SDK nothing
// else in the race build shares, for what type checking misses: errors of
// code generation and of the linker on arm64 alone. PLAYPLANE_SHIPPED_BUILD=1
// (make aws-test) builds them too, as make package and sam build do before
// any deploy.
func TestTemplateFunctionsBuild(t *testing.T) {
	t.Parallel()
	root := lambdatest.RepoRoot(t)
	tm := lambdatest.LoadTemplate(t)
	fns := tm.Functions()
	if len(fns) == 0 {
		t.Fatal("template.yaml has no functions")
	}
	shipped := os.Getenv("PLAYPLANE_SHIPPED_BUILD") == "1"
	codeURIs := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(fns)) {
		fn := fns[id]
		t.Run(id, func(t *testing.T) {
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			if got := str(fn.Handler); got != "bootstrap" {
				t.Errorf("Handler %q, want bootstrap", got)
			}
			if got := str(fn.Runtime); got != "provided.al2023" {
				t.Errorf("Runtime %q, want provided.al2023", got)
			}
			if !slices.Equal(fn.Architectures, []string{"arm64"}) {
				t.Errorf("Architectures %v, want [arm64]", fn.Architectures)
			}
			if md := fn.Metadata; md["BuildMethod"] != "makefile" || md["ContextPath"] != "." || md["ProjectRootDirectory"] != "." {
				t.Errorf("Metadata %v: sam build must run `make build-%s` at the repository root", md, id)
			}
			role, ok := lambdatest.RefTo(str(fn.Role))
			if typ, _ := tm.Resource(role); !ok || typ != "AWS::IAM::Role" {
				t.Errorf("Role %q is not one of the template's roles", str(fn.Role))
			}
			if fn.Policies != nil {
				t.Error("Policies would be attached to a role SAM makes; the function's own role holds its policy")
			}
			if fn.CodeUri == nil {
				t.Fatal("no CodeUri directory")
			}
			dir := filepath.ToSlash(filepath.Clean(*fn.CodeUri))
			// sam build runs `make build-<id>`: every Lambda has its
			// target, and it builds what typeCheck checks.
			artifacts := t.TempDir()
			cmd := exec.Command("make", "-s", "-n", "build-"+id, "ARTIFACTS_DIR="+artifacts, "GO=go")
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make -n build-%s: %v\n%s", id, err, out)
			}
			if got, want := strings.TrimSpace(string(out)), shippedCommand(artifacts+"/bootstrap", "./"+dir); got != want {
				t.Errorf("make build-%s runs\n\t%s\nwant (lambdatest.BuildFlags)\n\t%s", id, got, want)
			}
			if codeURIs[dir] {
				return // another Lambda of the function builds it
			}
			codeURIs[dir] = true
			if !shipped {
				return
			}
			bin := filepath.Join(t.TempDir(), "bootstrap")
			if err := lambdatest.Build(context.Background(), root, "./"+dir, bin, "arm64"); err != nil {
				t.Fatal(err)
			}
			if !isARM64ELF(t, bin) {
				t.Errorf("%s is not a linux/arm64 executable", bin)
			}
		})
	}
	// Every Lambda main is deployed.
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "lambda", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mains {
		dir, _ := filepath.Rel(root, filepath.Dir(m))
		if !codeURIs[filepath.ToSlash(dir)] {
			t.Errorf("%s has a Lambda main but no function in template.yaml", dir)
		}
	}
	pkgs := make([]string, 0, len(codeURIs))
	for _, dir := range slices.Sorted(maps.Keys(codeURIs)) {
		pkgs = append(pkgs, "./"+dir)
	}
	// The hybrid stack's Lambda mains (catalog.LambdaMain over Firestore)
	// are not in template.yaml but ship for arm64 all the same (make
	// package-aws).
	hybrids, err := filepath.Glob(filepath.Join(root, "functions", "*", "lambdahybrid", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hybrids) == 0 {
		t.Error("no functions/*/lambdahybrid main: the hybrid stack deploys one")
	}
	for _, m := range hybrids {
		dir, _ := filepath.Rel(root, filepath.Dir(m))
		pkg := "./" + filepath.ToSlash(dir)
		pkgs = append(pkgs, pkg)
		if shipped {
			bin := filepath.Join(t.TempDir(), "bootstrap")
			if err := lambdatest.Build(context.Background(), root, pkg, bin, "arm64"); err != nil {
				t.Error(err)
			} else if !isARM64ELF(t, bin) {
				t.Errorf("%s is not a linux/arm64 executable", bin)
			}
		}
	}
	if err := typeCheck(context.Background(), root, "arm64", pkgs...); err != nil {
		t.Error(err)
	}
}

// shippedCommand is Makefile.aws's LAMBDA_BUILD of pkg into out as make -n
// prints it, with lambdatest.BuildFlags.
func shippedCommand(out, pkg string) string {
	args := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "go", "build"}
	for _, f := range lambdatest.BuildFlags {
		if k, v, ok := strings.Cut(f, "="); ok && strings.Contains(v, " ") {
			f = k + "='" + v + "'"
		}
		args = append(args, f)
	}
	return strings.Join(append(args, "-o", out, pkg), " ")
}

func isARM64ELF(t *testing.T, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// ELF magic, then e_machine (little endian) at 18: EM_AARCH64 = 183.
	return len(b) > 20 && string(b[:4]) == "\x7fELF" && b[18] == 183 && b[19] == 0
}

// TestTemplateRoutes checks the HTTP API routes: each on the template's
// HTTP API, in payload format 2.0, unique, and guarded by a declared
// authorizer when it names one. (Each main's TestTemplate checks that its
// mux serves its routes.)
func TestTemplateRoutes(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	seen := map[string]string{}
	for _, id := range slices.Sorted(maps.Keys(tm.Functions())) {
		for _, r := range tm.Routes(id) {
			where := id + "." + r.Event
			typ, api := tm.Resource(r.API)
			if typ != "AWS::Serverless::HttpApi" {
				t.Errorf("%s: ApiId %q is not an AWS::Serverless::HttpApi of the template", where, r.API)
				continue
			}
			if r.PayloadFormat != "2.0" {
				t.Errorf("%s: PayloadFormatVersion %q, want 2.0 (the events shared/lambdahttp reads)", where, r.PayloadFormat)
			}
			if !regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) /v1(/[a-z0-9_-]+|/\{[a-z_]+\})+$`).MatchString(r.Key()) {
				t.Errorf("%s: route %q", where, r.Key())
			}
			if other, dup := seen[r.Key()]; dup {
				t.Errorf("%s: route %s is also %s", where, r.Key(), other)
			}
			seen[r.Key()] = where
			if r.Authorizer != "" {
				auth, _ := api["Auth"].(map[string]any)
				authorizers, _ := auth["Authorizers"].(map[string]any)
				authorizer, _ := authorizers[r.Authorizer].(map[string]any)
				if _, ok := authorizer["JwtConfiguration"]; !ok {
					t.Errorf("%s: authorizer %q is not a JWT authorizer of %s", where, r.Authorizer, r.API)
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no routes")
	}
}

// TestTemplateQueues checks that every queue has a dead-letter queue, that
// every consumer reports per-record failures, and that queues outlast their
// consumer's retries.
func TestTemplateQueues(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	queues := tm.Queues()
	if len(queues) == 0 {
		t.Fatal("no queues")
	}
	dlqs := map[string]string{} // DLQ → its source queue
	for _, id := range slices.Sorted(maps.Keys(queues)) {
		redrive := queues[id].RedrivePolicy
		if redrive == nil {
			continue
		}
		dlq, _ := lambdatest.RefTo(redrive["deadLetterTargetArn"])
		if _, isQueue := queues[dlq]; !isQueue || !strings.HasPrefix(fmt.Sprint(redrive["deadLetterTargetArn"]), "getatt:") {
			t.Errorf("%s: deadLetterTargetArn %v is not the Arn of a queue of the template", id, redrive["deadLetterTargetArn"])
			continue
		}
		if n, _ := redrive["maxReceiveCount"].(float64); n < 1 || n > 10 {
			t.Errorf("%s: maxReceiveCount %v not in 1..10", id, redrive["maxReceiveCount"])
		}
		if other, dup := dlqs[dlq]; dup {
			t.Errorf("%s and %s share the dead-letter queue %s", id, other, dlq)
		}
		dlqs[dlq] = id
	}
	for _, id := range slices.Sorted(maps.Keys(queues)) {
		q := queues[id]
		source, isDLQ := dlqs[id]
		switch {
		case isDLQ && q.RedrivePolicy != nil:
			t.Errorf("%s is a dead-letter queue with a redrive policy of its own", id)
		case isDLQ && (q.MessageRetentionPeriod == nil || *q.MessageRetentionPeriod != 1209600):
			t.Errorf("%s: a dead-letter queue keeps messages 14 days (1209600 s), has %v", id, q.MessageRetentionPeriod)
		case isDLQ:
			allow := q.RedriveAllowPolicy
			if allow["redrivePermission"] != "byQueue" || !strings.Contains(fmt.Sprint(allow["sourceQueueArns"]), "-"+queueSuffix(tm, source)) {
				t.Errorf("%s: RedriveAllowPolicy %v should admit only %s", id, q.RedriveAllowPolicy, source)
			}
		case q.RedrivePolicy == nil:
			t.Errorf("%s has no RedrivePolicy to a dead-letter queue", id)
		}
	}

	consumers := map[string][]string{} // queue → functions
	fns := tm.Functions()
	for _, id := range slices.Sorted(maps.Keys(fns)) {
		for _, tr := range tm.Triggers(id) {
			where := id + "." + tr.Event
			q, ok := queues[tr.Queue]
			if !ok {
				t.Errorf("%s: Queue is not a queue of the template", where)
				continue
			}
			consumers[tr.Queue] = append(consumers[tr.Queue], id)
			if q.RedrivePolicy == nil {
				t.Errorf("%s: consumes %s, which has no dead-letter queue", where, tr.Queue)
			}
			if !slices.Contains(tr.ResponseTypes, "ReportBatchItemFailures") {
				t.Errorf("%s: FunctionResponseTypes %v lacks ReportBatchItemFailures", where, tr.ResponseTypes)
			}
			if timeout := fns[id].Timeout; timeout == nil || q.VisibilityTimeout == nil || *q.VisibilityTimeout < 6**timeout {
				t.Errorf("%s: %s's VisibilityTimeout should be at least six times the function's Timeout", where, tr.Queue)
			}
			if !roleAllows(t, tm, id, "sqs:ReceiveMessage", "getatt:"+tr.Queue+".Arn") || !roleAllows(t, tm, id, "sqs:DeleteMessage", "getatt:"+tr.Queue+".Arn") {
				t.Errorf("%s: the role of %s may not receive and delete from %s", where, id, tr.Queue)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(queues)) {
		if _, isDLQ := dlqs[id]; !isDLQ && len(consumers[id]) != 1 {
			t.Errorf("queue %s has consumers %v, want exactly one", id, consumers[id])
		}
	}
}

// queueSuffix is the part of a queue's name after the stack name.
func queueSuffix(tm *lambdatest.Template, id string) string {
	q := tm.Queues()[id]
	if q == nil || q.QueueName == nil {
		return id
	}
	return strings.TrimPrefix(*q.QueueName, "sub:${AWS::StackName}-")
}

type statement struct {
	Sid      string
	Effect   string
	Action   any
	Resource any
}

func (s statement) list(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

// roleStatements returns the inline policy statements of role roleID.
func roleStatements(t *testing.T, tm *lambdatest.Template, roleID string) []statement {
	t.Helper()
	role := tm.Roles()[roleID]
	if role == nil {
		return nil
	}
	var out []statement
	for _, p := range role.Policies {
		raw, err := json.Marshal(p.PolicyDocument["Statement"])
		if err != nil {
			t.Fatal(err)
		}
		var stmts []statement
		if err := json.Unmarshal(raw, &stmts); err != nil {
			t.Fatalf("%s: %v", roleID, err)
		}
		out = append(out, stmts...)
	}
	return out
}

func roleAllows(t *testing.T, tm *lambdatest.Template, fnID, action, resource string) bool {
	t.Helper()
	_, props := tm.Resource(fnID)
	role, _ := lambdatest.RefTo(props["Role"])
	for _, s := range roleStatements(t, tm, role) {
		if s.Effect == "Allow" && slices.Contains(s.list(s.Action), action) && slices.Contains(s.list(s.Resource), resource) {
			return true
		}
	}
	return false
}

// TestTemplatePolicies checks least privilege: each role is assumable by
// Lambda only, has no managed policies, and allows named actions on named
// resources, never "*" or "service:*" and never on every resource.
func TestTemplatePolicies(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	roles := tm.Roles()
	if len(roles) == 0 {
		t.Fatal("no roles")
	}
	for _, id := range slices.Sorted(maps.Keys(roles)) {
		r := roles[id]
		if len(r.ManagedPolicyArns) > 0 {
			t.Errorf("%s: managed policies %v grant more than the function needs", id, r.ManagedPolicyArns)
		}
		trust, _ := json.Marshal(r.AssumeRolePolicyDocument)
		if !strings.Contains(string(trust), `"Service":"lambda.amazonaws.com"`) || strings.Contains(string(trust), `"AWS"`) {
			t.Errorf("%s: trust policy %s should admit only lambda.amazonaws.com", id, trust)
		}
		stmts := roleStatements(t, tm, id)
		if len(stmts) == 0 {
			t.Errorf("%s has no statements", id)
		}
		for _, s := range stmts {
			where := id + "." + s.Sid
			if s.Effect != "Allow" {
				t.Errorf("%s: Effect %q", where, s.Effect)
			}
			for _, a := range s.list(s.Action) {
				if a == "*" || strings.HasSuffix(a, ":*") || !regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z]+$`).MatchString(a) {
					t.Errorf("%s: action %q is not one named action", where, a)
				}
			}
			resources := s.list(s.Resource)
			if len(resources) == 0 {
				t.Errorf("%s: no resource", where)
			}
			for _, res := range resources {
				if res == "*" || strings.HasSuffix(res, ":*") && !strings.HasPrefix(res, "getatt:") || strings.Contains(res, "/*") {
					t.Errorf("%s: resource %q is a wildcard", where, res)
				}
			}
		}
	}
}

// secretVar names variables that hold secrets.
var secretVar = regexp.MustCompile(`SECRET|PRIVATE_KEY|API_KEY|SIGNING_KEY|HMAC_KEY|TOKEN_KEYS|PASSWORD`)

// TestTemplateSecrets checks that no secret value reaches a function's
// configuration, where lambda:GetFunctionConfiguration shows it (as a
// {{resolve:secretsmanager}} dynamic reference would put it): each secret
// variable is <NAME>_SECRET_ARN, a reference to a parameter that must be a
// Secrets Manager ARN, which shared/awsfn reads at run time, and the
// function's role may read exactly that secret.
func TestTemplateSecrets(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	params, _ := tm.Raw["Parameters"].(map[string]any)
	checked := 0
	for _, id := range slices.Sorted(maps.Keys(tm.Functions())) {
		env := tm.Env(id)
		for name, v := range env {
			if !secretVar.MatchString(name) {
				continue
			}
			checked++
			if _, named := env[awsfn.SecretARNs[name]]; named && v == "" {
				// Declared empty for `sam local invoke --env-vars`
				// (TestEnvJSONReachesTheFunctions); on AWS the secret gives it.
				continue
			}
			secret, ok := strings.CutSuffix(name, "_SECRET_ARN")
			if !ok || awsfn.SecretARNs[secret] != name {
				t.Errorf("%s: %s = %q holds a secret value; pass <NAME>_SECRET_ARN (awsfn.SecretARNs)", id, name, v)
				continue
			}
			if !roleAllows(t, tm, id, "secretsmanager:GetSecretValue", v) {
				t.Errorf("%s: its role may not read %s (%s)", id, name, v)
			}
			values := []string{v}
			if inner, ok := strings.CutPrefix(v, "if:["); ok {
				// if:[Condition then else]: both branches must be safe.
				values = strings.Fields(strings.TrimSuffix(inner, "]"))[1:]
			}
			for _, value := range values {
				param, isRef := strings.CutPrefix(value, "ref:")
				p, _ := params[param].(map[string]any)
				pattern, _ := p["AllowedPattern"].(string)
				switch {
				case value == "<nil>":
				case isRef && strings.HasPrefix(pattern, "arn:aws") && strings.Contains(pattern, ":secretsmanager:"):
				default:
					t.Errorf("%s: %s = %q is not a parameter that must be a Secrets Manager ARN", id, name, value)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no secret variables found: the pattern is stale")
	}
}

// TestTemplateTableMatchesTheStore creates the table the dynamo adapter
// makes for tests and local runs on DynamoDB Local and checks that the
// template's table has the same keys, index and TTL attribute.
func TestTemplateTableMatchesTheStore(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	tables := tm.Tables()
	if len(tables) != 1 {
		t.Fatalf("want one table, have %v", slices.Sorted(maps.Keys(tables)))
	}
	p := tables[slices.Sorted(maps.Keys(tables))[0]]

	endpoint := emulators.DynamoDB(t)
	cfg := lambdatest.LocalAWS()
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	name := playback.NewID("tmplcheck")
	store, err := dynamo.New(context.Background(), dynamo.Config{Table: name}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	desc, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := db.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}

	keys := func(ks []types.KeySchemaElement) string {
		var parts []string
		for _, k := range ks {
			parts = append(parts, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		return strings.Join(parts, ", ")
	}
	tmplKeys := func(ks []lambdatest.KeyElement) string {
		var parts []string
		for _, k := range ks {
			parts = append(parts, k.AttributeName+" "+k.KeyType)
		}
		return strings.Join(parts, ", ")
	}
	if got, want := tmplKeys(p.KeySchema), keys(desc.Table.KeySchema); got != want {
		t.Errorf("template key schema %s, the store's %s", got, want)
	}
	var attrs, wantAttrs []string
	for _, a := range p.AttributeDefinitions {
		attrs = append(attrs, a.AttributeName+" "+a.AttributeType)
	}
	for _, a := range desc.Table.AttributeDefinitions {
		wantAttrs = append(wantAttrs, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	slices.Sort(attrs)
	slices.Sort(wantAttrs)
	if !slices.Equal(attrs, wantAttrs) {
		t.Errorf("template attributes %v, the store's %v", attrs, wantAttrs)
	}
	var indexes, wantIndexes []string
	for _, i := range p.GlobalSecondaryIndexes {
		indexes = append(indexes, i.IndexName+": "+tmplKeys(i.KeySchema)+" "+i.Projection.ProjectionType)
	}
	for _, i := range desc.Table.GlobalSecondaryIndexes {
		wantIndexes = append(wantIndexes, aws.ToString(i.IndexName)+": "+keys(i.KeySchema)+" "+string(i.Projection.ProjectionType))
	}
	slices.Sort(indexes)
	slices.Sort(wantIndexes)
	if !slices.Equal(indexes, wantIndexes) {
		t.Errorf("template indexes %v, the store's %v", indexes, wantIndexes)
	}
	if d := ttl.TimeToLiveDescription; d == nil || !p.TimeToLiveSpecification.Enabled ||
		p.TimeToLiveSpecification.AttributeName != aws.ToString(d.AttributeName) {
		t.Errorf("template TTL %+v, the store's %+v", p.TimeToLiveSpecification, d)
	}
	if p.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode %q", p.BillingMode)
	}
}

// TestTemplateCORS checks that the HTTP API answers browsers with the
// policy httpx.CORS applies elsewhere, over the origins the deployer names.
func TestTemplateCORS(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	param, _ := tm.Raw["Parameters"].(map[string]any)["CORSAllowedOrigins"].(map[string]any)
	if param["Type"] != "CommaDelimitedList" {
		t.Errorf("parameter CORSAllowedOrigins: %v, want a CommaDelimitedList", param)
	}
	_, api := tm.Resource("HttpApi")
	cors, _ := api["CorsConfiguration"].(map[string]any)
	if cors == nil {
		t.Fatalf("HttpApi has no CorsConfiguration: %v", api)
	}
	if cors["AllowOrigins"] != "ref:CORSAllowedOrigins" {
		t.Errorf("AllowOrigins %v, want the CORSAllowedOrigins parameter", cors["AllowOrigins"])
	}
	list := func(key string) []string {
		var out []string
		for _, v := range cors[key].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for key, want := range map[string][]string{
		"AllowHeaders":  httpx.CORSAllowHeaders,
		"ExposeHeaders": httpx.CORSExposeHeaders,
		"AllowMethods":  httpx.CORSAllowMethods,
	} {
		if got := list(key); !slices.Equal(got, want) {
			t.Errorf("%s %v, want %v", key, got, want)
		}
	}
	if maxAge, _ := cors["MaxAge"].(float64); int(maxAge) != httpx.CORSMaxAge {
		t.Errorf("MaxAge %v, want %d", cors["MaxAge"], httpx.CORSMaxAge)
	}
	if c, ok := cors["AllowCredentials"]; ok && c != false {
		t.Errorf("AllowCredentials %v: the API reads no cookies", c)
	}
	// Every browser-facing route's method is allowed; which routes browsers
	// call is the catalogue's to say (operators' and server-to-server routes
	// get no CORS).
	browser := map[string]bool{}
	for _, fn := range catalog.Functions {
		for _, r := range fn.Routes {
			browser[r.Key()] = r.BrowserFacing()
		}
	}
	for _, id := range slices.Sorted(maps.Keys(tm.Functions())) {
		for _, r := range tm.Routes(id) {
			if browser[r.Key()] && !slices.Contains(httpx.CORSAllowMethods, r.Method) {
				t.Errorf("%s: route %s uses a method CORS does not allow", id, r.Key())
			}
		}
	}
}

// TestTemplateTableIsProtected: the table holds every account, lease and
// inbox event. The stack keeps it when deleted or replaced (Retain), and
// DynamoDB refuses DeleteTable from anyone else while deletion protection
// is on (before, it was off), with point-in-time recovery for the rest.
func TestTemplateTableIsProtected(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	tables := tm.Tables()
	if len(tables) != 1 {
		t.Fatalf("want one table, have %v", slices.Sorted(maps.Keys(tables)))
	}
	id := slices.Sorted(maps.Keys(tables))[0]
	r, _ := tm.Raw["Resources"].(map[string]any)[id].(map[string]any)
	if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("%s: DeletionPolicy %v, UpdateReplacePolicy %v, want Retain", id, r["DeletionPolicy"], r["UpdateReplacePolicy"])
	}
	_, props := tm.Resource(id)
	if got := props["DeletionProtectionEnabled"]; got != true {
		t.Errorf("%s: DeletionProtectionEnabled %v, want true", id, got)
	}
	pitr, _ := props["PointInTimeRecoverySpecification"].(map[string]any)
	if got := pitr["PointInTimeRecoveryEnabled"]; got != true {
		t.Errorf("%s: PointInTimeRecoveryEnabled %v, want true", id, got)
	}
}

// TestEnvJSONReachesTheFunctions holds events/aws/env.json to what `sam
// local invoke --env-vars` does with it: SAM CLI sets only the variables
// the template declares for the function (samcli's
// EnvironmentVariables.resolve walks the template's variables and takes
// an override for each), so a name the template does not declare never
// reaches the function. A secret's value given here must also blank the
// variable naming its secret: unset, SAM renders the template's reference
// to the ARN parameter as a non-empty string, and awsfn would ask Secrets
// Manager for it instead of taking the value.
func TestEnvJSONReachesTheFunctions(t *testing.T) {
	t.Parallel()
	tm := lambdatest.LoadTemplate(t)
	var sections map[string]map[string]string
	if err := json.Unmarshal(lambdatest.Sample(t, "env.json"), &sections); err != nil {
		t.Fatalf("events/aws/env.json: %v", err)
	}
	fns := tm.Functions()
	declared := map[string]bool{} // by any function
	for id := range fns {
		for name := range tm.Env(id) {
			declared[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sections["Parameters"])) {
		if !declared[name] {
			t.Errorf("env.json Parameters sets %s, which no function of template.yaml declares: sam local invoke never passes it", name)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(sections)) {
		if id == "Parameters" {
			continue
		}
		if _, ok := fns[id]; !ok {
			t.Errorf("env.json has a section for %s, no function of template.yaml", id)
			continue
		}
		env := tm.Env(id)
		for _, name := range slices.Sorted(maps.Keys(sections[id])) {
			if _, ok := env[name]; !ok {
				t.Errorf("env.json sets %s for %s, which template.yaml does not declare for it: sam local invoke never passes it", name, id)
			}
		}
		given := maps.Clone(sections["Parameters"])
		maps.Copy(given, sections[id])
		for secret, arnVar := range awsfn.SecretARNs {
			_, hasValue := given[secret]
			arn, hasARN := given[arnVar]
			if _, declares := env[arnVar]; hasValue && declares && (!hasARN || arn != "") {
				t.Errorf("env.json gives %s its %s but leaves %s to SAM's rendering of the template's reference: awsfn would read Secrets Manager", id, secret, arnVar)
			}
		}
	}
}
