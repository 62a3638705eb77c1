package lambdatest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/awsfn/lambdatest"
)

// formsTemplate writes each rendered form once. The renderings are
// goformation v7.14.9's with the handlers lambdatest gave it (checked
// side by side on this document and on template.yaml before it was
// removed), but for Fn::Not and Fn::Equals, which it evaluated.
const formsTemplate = `
Parameters:
  WithDefault: {Type: String, Default: dflt}
  Num: {Type: Number, Default: 30}
  Empty: {Type: String, Default: ""}
  NoDefault: {Type: String}
Conditions:
  C: !Not [!Equals [!Ref NoDefault, ""]]
Resources:
  R:
    Type: Some::Thing
    Properties:
      refDefault: !Ref WithDefault
      refNumber: !Ref Num
      refEmpty: !Ref Empty
      refParam: !Ref NoDefault
      refNoValue: !Ref AWS::NoValue
      refResource: !Ref Other
      refLong: {Ref: Other}
      getAtt: !GetAtt A.Arn
      getAttList: !GetAtt [A, Arn]
      getAttLong: {"Fn::GetAtt": [A, Arn]}
      getAttLongString: {"Fn::GetAtt": A.Arn}
      sub: !Sub "x-${AWS::StackName}"
      subList: !Sub ["x-${a}-${b}", {a: !Ref Other, b: !GetAtt A.Arn}]
      subLong: {"Fn::Sub": "y-${A}"}
      subBlock: !Sub
        - "z-${v}"
        - v: !If [C, !Ref Num, "no"]
      if: !If [C, !Ref NoDefault, !Ref AWS::NoValue]
      ifLong: {"Fn::If": [C, ENABLED, DISABLED]}
      ifEmptyDefault: !If [C, !Ref Empty, !Ref AWS::NoValue]
      nested: [!Ref Other, !If [C, 1, 2.5], {x: !Sub "${A}"}]
      integer: 1209600
      float: 0.01
      bool: true
      date: "2010-09-09"
      nothing: ~
      anchored: &a !Ref Other
      alias: *a
`

func TestParseTemplateRendersIntrinsics(t *testing.T) {
	t.Parallel()
	tm, err := lambdatest.ParseTemplate([]byte(formsTemplate))
	if err != nil {
		t.Fatal(err)
	}
	_, props := tm.Resource("R")
	if got, want := tm.Raw["Conditions"].(map[string]any)["C"], "not:[equals:[ref:NoDefault ]]"; got != want {
		t.Errorf("Conditions.C = %#v, want %#v", got, want)
	}
	for _, c := range []struct {
		name string
		want any
	}{
		{"refDefault", "dflt"},
		{"refNumber", 30.0},
		{"refEmpty", ""},
		{"refParam", "ref:NoDefault"},
		{"refNoValue", nil},
		{"refResource", "ref:Other"},
		{"refLong", "ref:Other"},
		{"getAtt", "getatt:A.Arn"},
		{"getAttList", "getatt:A.Arn"},
		{"getAttLong", "getatt:A.Arn"},
		{"getAttLongString", "getatt:A.Arn"},
		{"sub", "sub:x-${AWS::StackName}"},
		{"subList", "sub:[x-${a}-${b} map[a:ref:Other b:getatt:A.Arn]]"},
		{"subLong", "sub:y-${A}"},
		{"subBlock", "sub:[z-${v} map[v:if:[C 30 no]]]"},
		{"if", "if:[C ref:NoDefault <nil>]"},
		{"ifLong", "if:[C ENABLED DISABLED]"},
		{"ifEmptyDefault", "if:[C  <nil>]"},
		{"nested", []any{"ref:Other", "if:[C 1 2.5]", map[string]any{"x": "sub:${A}"}}},
		{"integer", 1209600.0},
		{"float", 0.01},
		{"bool", true},
		{"date", "2010-09-09"},
		{"nothing", nil},
		{"anchored", "ref:Other"},
		{"alias", "ref:Other"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := props[c.name]
			if !ok {
				t.Fatalf("%s missing from %v", c.name, props)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s = %#v, want %#v", c.name, got, c.want)
			}
		})
	}
}

// resource is a template of one resource of type typ with properties props
// (YAML, indented by six spaces).
func resource(typ, props string) string {
	return "Parameters:\n  Num: {Type: Number, Default: 30}\nResources:\n  X:\n    Type: " + typ + "\n    Properties:\n" + props
}

func TestParseTemplateRefuses(t *testing.T) {
	t.Parallel()
	fn := "AWS::Serverless::Function"
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"unknown short form", resource("T", "      A: !Join [\"\", [a, b]]\n"), "line 7: tag !Join"},
		{"FindInMap", resource("T", "      A: !FindInMap [M, k, v]\n"), "tag !FindInMap"},
		{"Select", resource("T", "      A: !Select [0, [a]]\n"), "tag !Select"},
		{"Base64", resource("T", "      A: !Base64 x\n"), "tag !Base64"},
		{"Condition", resource("T", "      A: !Condition C\n"), "tag !Condition"},
		{"ImportValue", resource("T", "      A: !ImportValue x\n"), "tag !ImportValue"},
		{"custom tag", resource("T", "      A: !Whatever x\n"), "tag !Whatever"},
		{"tag on a key", resource("T", "      !Ref A: x\n"), ""},
		{"short form of a mapping", resource("T", "      A: !Sub {a: b}\n"), "takes a scalar or a list"},
		{"unknown long form", resource("T", "      A: {\"Fn::Join\": [\"\", [a]]}\n"), "Resources.X.Properties.A: Fn::Join is not"},
		{"long form beside other keys", resource("T", "      A: {Ref: B, C: D}\n"), "Ref beside other keys"},
		{"Ref of a list", resource("T", "      A: !Ref [B]\n"), "Ref of [B]"},
		{"GetAtt without attribute", resource("T", "      A: !GetAtt B\n"), "Fn::GetAtt of B"},
		{"GetAtt of three", resource("T", "      A: !GetAtt [B, C, D]\n"), "Fn::GetAtt of"},
		{"If of two", resource("T", "      A: !If [C, a]\n"), "Fn::If of"},
		{"Sub with a list of vars", resource("T", "      A: !Sub [a, [b]]\n"), "Fn::Sub of"},
		{"Not of two", resource("T", "      A: !Not [a, b]\n"), "Fn::Not of"},
		{"Equals of one", resource("T", "      A: !Equals [a]\n"), "Fn::Equals of"},
		{"Globals", "Globals:\n  Function:\n    Timeout: 3\n" + resource("T", "      A: b\n"), "Globals"},
		{"no Type", "Resources:\n  X:\n    Properties: {}\n", "Resources.X has no Type"},
		{"unknown resource attribute", "Resources:\n  X:\n    Type: T\n    Propertes: {}\n", "Propertes is not a resource attribute"},
		{"Function Timeout a string", resource(fn, "      Timeout: thirty\n"), "Function.Timeout"},
		{"Function Timeout fractional", resource(fn, "      Timeout: 2.5\n"), "Function.Timeout"},
		{"Function MemorySize a Ref", resource(fn, "      MemorySize: !Ref Other\n"), "Function.MemorySize"},
		{"Function CodeUri an S3 location", resource(fn, "      CodeUri: {Bucket: b, Key: k}\n"), "Function.CodeUri"},
		{"Function Architectures a string", resource(fn, "      Architectures: arm64\n"), "Function.Architectures"},
		{"Function Metadata a list", "Resources:\n  X:\n    Type: " + fn + "\n    Metadata: [a]\n", "Metadata is not a mapping"},
		{"Queue QueueName a number", resource("AWS::SQS::Queue", "      QueueName: 5\n"), "Queue.QueueName"},
		{"Queue RedrivePolicy a string", resource("AWS::SQS::Queue", "      RedrivePolicy: '{\"maxReceiveCount\": 5}'\n"), "Queue.RedrivePolicy"},
		{"Queue VisibilityTimeout a string", resource("AWS::SQS::Queue", "      VisibilityTimeout: \"60\"\n"), "Queue.VisibilityTimeout"},
		{"Role ManagedPolicyArns a string", resource("AWS::IAM::Role", "      ManagedPolicyArns: arn\n"), "Role.ManagedPolicyArns"},
		{"Role Policies a mapping", resource("AWS::IAM::Role", "      Policies: {PolicyName: p}\n"), "Role.Policies"},
		{"Role PolicyDocument a string", resource("AWS::IAM::Role", "      Policies: [{PolicyName: p, PolicyDocument: d}]\n"), "PolicyDocument"},
		{"Table KeySchema a string", resource("AWS::DynamoDB::Table", "      KeySchema: pk\n"), "Table.KeySchema"},
		{"Table TTL Enabled a string", resource("AWS::DynamoDB::Table", "      TimeToLiveSpecification: {AttributeName: ttl, Enabled: yes}\n"), "Enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := lambdatest.ParseTemplate([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
		})
	}
}

func TestParseTemplateTypes(t *testing.T) {
	t.Parallel()
	tm, err := lambdatest.ParseTemplate([]byte(`
Parameters:
  Num: {Type: Number, Default: 30}
Resources:
  F:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile}
    Properties:
      CodeUri: functions/x/lambda
      Handler: bootstrap
      Role: !GetAtt R.Arn
      Architectures: [arm64]
      MemorySize: !Ref Num
      Timeout: !Ref AWS::NoValue
      SomethingNew: {any: [shape]}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-t"
      RedrivePolicy: {deadLetterTargetArn: !GetAtt D.Arn, maxReceiveCount: 5}
  R:
    Type: AWS::IAM::Role
    Properties:
      Policies: [{PolicyName: p, PolicyDocument: {Statement: []}}]
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  L:
    Type: AWS::Logs::LogGroup
    Properties: {RetentionInDays: !Ref Num}
`))
	if err != nil {
		t.Fatal(err)
	}
	f := tm.Functions()["F"]
	if f == nil || *f.CodeUri != "functions/x/lambda" || *f.Handler != "bootstrap" || *f.Role != "getatt:R.Arn" ||
		!reflect.DeepEqual(f.Architectures, []string{"arm64"}) || *f.MemorySize != 30 || f.Timeout != nil ||
		f.Runtime != nil || f.Policies != nil || f.Metadata["BuildMethod"] != "makefile" {
		t.Errorf("function %+v", f)
	}
	q := tm.Queues()["Q"]
	if q == nil || *q.QueueName != "sub:${AWS::StackName}-t" || q.RedrivePolicy["deadLetterTargetArn"] != "getatt:D.Arn" ||
		q.RedrivePolicy["maxReceiveCount"] != 5.0 || q.VisibilityTimeout != nil || q.RedriveAllowPolicy != nil {
		t.Errorf("queue %+v", q)
	}
	if r := tm.Roles()["R"]; r == nil || len(r.Policies) != 1 || r.Policies[0].PolicyName != "p" || r.Policies[0].PolicyDocument == nil {
		t.Errorf("role %+v", r)
	}
	if tb := tm.Tables()["T"]; tb == nil || !reflect.DeepEqual(tb.KeySchema, []lambdatest.KeyElement{{AttributeName: "pk", KeyType: "HASH"}}) {
		t.Errorf("table %+v", tb)
	}
	if typ, props := tm.Resource("L"); typ != "AWS::Logs::LogGroup" || props["RetentionInDays"] != 30.0 {
		t.Errorf("log group %s %v", typ, props)
	}
	if len(tm.Functions()) != 1 || len(tm.Queues()) != 1 || len(tm.Roles()) != 1 || len(tm.Tables()) != 1 {
		t.Errorf("%d functions, %d queues, %d roles, %d tables", len(tm.Functions()), len(tm.Queues()), len(tm.Roles()), len(tm.Tables()))
	}
}
