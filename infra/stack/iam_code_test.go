package stack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// adapterClient is how an adapter package holds its SDK client: the field
// the calls go through, and the IAM service prefix of the actions.
type adapterClient struct {
	dir     string // relative to the repository root
	field   string // s.db(), b.client(): the accessor (or field) the calls go through
	service string // dynamodb, sqs
	// notDeployed are the adapter's functions whose SDK calls the deployed
	// functions never make, each with the reason: the stacks create the
	// resources and hand over their addresses, and Lambda's event source
	// mappings (which use the actions awsfn grants on consumed queues)
	// receive, delete and delay messages instead of the adapter's loop.
	notDeployed map[string]string
}

var adapterClients = []adapterClient{
	{dir: "shared/dynamo", field: "db", service: "dynamodb", notDeployed: map[string]string{
		"CreateTable":    "local runs and tests create their table; the stack creates the real one",
		"batchWrite":     "CreateRecords' writes, which only `playplane import` makes, with the operator's credentials (docs/catalogue.md); no deployed function imports",
		"batchGetOnce":   "CreateRecords' reads of the records it creates, which only `playplane import` makes (docs/catalogue.md)",
		"MigrateListing": "`playplane migrate`, run once by an operator on a table of the layout before the list index (docs/catalogue.md)",
	}},
	{dir: "shared/sqs", field: "client", service: "sqs", notDeployed: map[string]string{
		"EnsureQueues":   "local runs and tests create their queues; the stack creates the real ones",
		"createQueue":    "called by EnsureQueues",
		"queueURL":       "resolves a queue by name only when SQS_QUEUE_URLS lacks it; the stack sets every topic's URL",
		"consume":        "the long-poll consumer of local runs; on Lambda the event source mapping receives",
		"deleteMessages": "the long-poll consumer's acks; on Lambda the event source mapping deletes",
		"delayMessages":  "the long-poll consumer's retries; on Lambda the event source mapping does it",
	}},
}

// actionOf is the IAM action authorizing an SDK operation: the batch
// variants of SQS operations are authorized by the single action.
func actionOf(service, op string) string {
	if service == "sqs" {
		op = strings.TrimSuffix(op, "Batch")
	}
	return service + ":" + op
}

// transactItemActions are the actions a TransactWriteItems item needs: the
// transaction has no action of its own.
var transactItemActions = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
	"Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
}

var paginatorOrWaiter = regexp.MustCompile(`^New(\w+)(Paginator|Waiter)$`)

// sdkCall is one operation an adapter calls, with where.
type sdkCall struct {
	action string
	fn     string // enclosing function
	pos    string
	index  bool // a Query naming an IndexName
}

// scanAdapter lists, as data, the SDK operations the adapter's non-test
// source calls through its client field.
func scanAdapter(t *testing.T, a adapterClient) []sdkCall {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", a.dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no source (%v)", a.dir, err)
	}
	isClient := func(e ast.Expr) bool {
		// The adapters make their client on first use (NewDeferred), so
		// calls go through an accessor, s.db(); a field, s.db, counts too.
		if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 0 {
			e = call.Fun
		}
		sel, ok := e.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == a.field
	}
	var calls, transact []sdkCall
	// Transactions are built in one function and sent in another, so their
	// item kinds are collected over the whole package.
	items := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					c := sdkCall{fn: fd.Name.Name, pos: fset.Position(n.Pos()).String()}
					switch {
					case isClient(sel.X):
						c.action = actionOf(a.service, sel.Sel.Name)
						c.index = len(n.Args) > 1 && namesIndex(n.Args[1])
					case slices.ContainsFunc(n.Args, isClient):
						m := paginatorOrWaiter.FindStringSubmatch(sel.Sel.Name)
						if m == nil {
							t.Errorf("%s: the client is passed to %s, which this scan does not understand", c.pos, sel.Sel.Name)
							return true
						}
						if m[2] == "Waiter" {
							c.action = a.service + ":Describe" + strings.TrimSuffix(m[1], "Exists")
						} else {
							c.action = actionOf(a.service, m[1])
						}
						c.index = len(n.Args) > 1 && namesIndex(n.Args[1])
					default:
						return true
					}
					if c.action == "dynamodb:TransactWriteItems" {
						transact = append(transact, c)
						return true
					}
					calls = append(calls, c)
				case *ast.CompositeLit:
					for _, kv := range transactItems(n) {
						if action, ok := transactItemActions[kv]; ok {
							items[action] = true
						}
					}
				}
				return true
			})
		}
	}
	for _, c := range transact {
		if len(items) == 0 {
			t.Errorf("%s: TransactWriteItems with items this scan cannot see", c.pos)
		}
		for _, action := range slices.Sorted(maps.Keys(items)) {
			calls = append(calls, sdkCall{action: action, fn: c.fn, pos: c.pos})
		}
	}
	return calls
}

// namesIndex says whether a request literal (&dynamodb.QueryInput{...})
// sets IndexName.
func namesIndex(e ast.Expr) bool {
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = u.X
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return false
	}
	for _, elt := range lit.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "IndexName" {
				return true
			}
		}
	}
	return false
}

// transactItems returns the field names set in a types.TransactWriteItem
// literal, or in the elided elements of a []types.TransactWriteItem.
func transactItems(lit *ast.CompositeLit) []string {
	typeName := func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.SelectorExpr:
			return e.Sel.Name
		case *ast.ArrayType:
			if sel, ok := e.Elt.(*ast.SelectorExpr); ok {
				return "[]" + sel.Sel.Name
			}
		}
		return ""
	}
	keys := func(l *ast.CompositeLit) []string {
		var out []string
		for _, elt := range l.Elts {
			if kv, ok := elt.(*ast.KeyValueExpr); ok {
				if id, ok := kv.Key.(*ast.Ident); ok {
					out = append(out, id.Name)
				}
			}
		}
		return out
	}
	switch typeName(lit.Type) {
	case "TransactWriteItem":
		return keys(lit)
	case "[]TransactWriteItem":
		var out []string
		for _, elt := range lit.Elts {
			if l, ok := elt.(*ast.CompositeLit); ok && l.Type == nil {
				out = append(out, keys(l)...)
			}
		}
		return out
	}
	return nil
}

// deployedActions are the IAM actions the deployed functions' adapter code
// needs, by service, and whether any of it queries an index.
func deployedActions(t *testing.T) (map[string][]string, []string) {
	t.Helper()
	out := map[string][]string{}
	var indexQueries []string
	for _, a := range adapterClients {
		seen := map[string]bool{}
		for _, c := range scanAdapter(t, a) {
			if _, skip := a.notDeployed[c.fn]; skip {
				continue
			}
			if c.index {
				indexQueries = append(indexQueries, c.fn)
			}
			if !seen[c.action] {
				seen[c.action] = true
				out[a.service] = append(out[a.service], c.action)
			}
		}
		slices.Sort(out[a.service])
		// A stale exemption would hide a call of a renamed function.
		for fn := range a.notDeployed {
			if !slices.ContainsFunc(scanAdapter(t, a), func(c sdkCall) bool { return c.fn == fn }) {
				t.Errorf("%s: %s is exempt but makes no SDK call", a.dir, fn)
			}
		}
	}
	return out, indexQueries
}

// The scan must find what the adapters call, or the comparison below could
// pass on an empty list.
func TestAdapterScanFindsTheCallsItMustFind(t *testing.T) {
	t.Parallel()
	actions, indexQueries := deployedActions(t)
	for _, want := range []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"} {
		if !slices.Contains(actions["dynamodb"], want) {
			t.Errorf("scan of shared/dynamo misses %s: %v", want, actions["dynamodb"])
		}
	}
	if !slices.Equal(actions["sqs"], []string{"sqs:SendMessage"}) {
		t.Errorf("deployed SQS calls %v, want only publishing", actions["sqs"])
	}
	slices.Sort(indexQueries)
	if !slices.Equal(indexQueries, []string{"CountActiveLeases", "CountParkedEvents", "ListParkedKeys", "ListPendingEvents", "ListRecords"}) {
		t.Errorf("index queries in %v, want CountActiveLeases, CountParkedEvents, ListParkedKeys, ListPendingEvents and ListRecords", indexQueries)
	}
}

// The policies grant exactly the DynamoDB and SQS actions the adapters
// call (BatchGetItem or BatchWriteItem, which nothing calls, are refused),
// read-only functions only the read ones, and the index ARN only to the
// functions whose catalogue entry queries it.
func TestGrantedActionsAreWhatTheAdaptersCall(t *testing.T) {
	t.Parallel()
	called, _ := deployedActions(t)
	reads := []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem"}
	d := deployed(t, "aws")
	table := d.one(t, "aws:dynamodb/table:Table", d.prefix())
	for _, fn := range catalog.Functions {
		got := grants(t, d.one(t, "aws:iam/rolePolicy:RolePolicy", d.prefix()+"-"+fn.Name).InStr("policy"))
		want := called["dynamodb"]
		if fn.Store == catalog.StoreReadOnly {
			want = slices.DeleteFunc(slices.Clone(want), func(a string) bool { return !slices.Contains(reads, a) })
		}
		if !slices.Equal(got[table.Str("arn")], want) {
			t.Errorf("%s may %v on the table, the adapter calls %v", fn.Name, got[table.Str("arn")], want)
		}
		for _, idx := range catalog.DynamoTable.Indexes {
			arn := table.Str("arn") + "/index/" + idx.Name
			switch {
			case slices.Contains(fn.StoreIndexes, idx.Name) && !slices.Equal(got[arn], []string{"dynamodb:Query"}):
				t.Errorf("%s may %v on index %s, want Query", fn.Name, got[arn], idx.Name)
			case !slices.Contains(fn.StoreIndexes, idx.Name) && got[arn] != nil:
				t.Errorf("%s may %v on index %s, which it never queries", fn.Name, got[arn], idx.Name)
			}
		}
		for _, topic := range fn.Publishes {
			q := d.one(t, "aws:sqs/queue:Queue", d.prefix()+"-"+topic)
			want := slices.Clone(called["sqs"])
			if fn.ConsumesFrom(topic) {
				// What Lambda's event source mapping needs on a queue it
				// reads (awsfn grants it; the adapter's own loop is not used).
				want = append(want, "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
				slices.Sort(want)
			}
			if !slices.Equal(got[q.Str("arn")], want) {
				t.Errorf("%s may %v on %s, want %v (the adapter calls %v)", fn.Name, got[q.Str("arn")], topic, want, called["sqs"])
			}
		}
	}
}

// A function's catalogue entry lists an index exactly when its code calls
// the store method that queries it.
func TestCatalogueIndexesAreTheOnesTheFunctionsQuery(t *testing.T) {
	t.Parallel()
	_, indexQueries := deployedActions(t)
	for _, fn := range catalog.Functions {
		paths, _ := filepath.Glob(filepath.Join("..", "..", "functions", fn.Name, "*.go"))
		var queries bool
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src := readFile(t, path)
			for _, method := range indexQueries {
				if strings.Contains(src, "."+method+"(") {
					queries = true
				}
			}
		}
		if got := len(fn.StoreIndexes) > 0; got != queries {
			t.Errorf("%s lists indexes %v, but its code queries one: %v", fn.Name, fn.StoreIndexes, queries)
		}
	}
	if len(catalog.DynamoTable.Indexes) == 0 {
		t.Error("no index to check")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
