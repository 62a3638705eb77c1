package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
)

// stackFile is a parsed Pulumi.<stack>.yaml.
type stackFile struct {
	Stack  string
	Config map[string]any `yaml:"config"`
}

func stackFiles(t *testing.T) []stackFile {
	t.Helper()
	paths, err := filepath.Glob("Pulumi.*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []stackFile
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f := stackFile{Stack: strings.TrimSuffix(strings.TrimPrefix(path, "Pulumi."), ".yaml")}
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		files = append(files, f)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Stack)
	}
	if !slices.Equal(names, []string{"aws", "gcp", "hybrid"}) {
		t.Fatalf("stack files %v, want aws, gcp and hybrid", names)
	}
	return files
}

// Secrets belong in `pulumi config set --secret` (stored as secure: values),
// never as plain text in a stack file.
func TestStackFilesHoldNoPlainSecrets(t *testing.T) {
	t.Parallel()
	secretKeys := map[string]bool{}
	for _, s := range catalog.Secrets {
		secretKeys["playplane:"+s.ConfigKey] = true
	}
	for _, f := range stackFiles(t) {
		t.Run(f.Stack, func(t *testing.T) {
			t.Parallel()
			for key, value := range f.Config {
				if secretKeys[key] {
					m, ok := value.(map[string]any)
					if _, secure := m["secure"]; !ok || !secure {
						t.Errorf("%s is a secret but holds a plain value", key)
					}
					continue
				}
				s, _ := value.(string)
				for _, marker := range []string{"PRIVATE KEY", "sk_live_", "sk_test_", "whsec_", "rk_live_"} {
					if strings.Contains(s, marker) {
						t.Errorf("%s holds what looks like a secret (%s)", key, marker)
					}
				}
			}
		})
	}
}

// Every stack file, plus the secrets an operator sets, is a complete
// configuration: the program deploys it (under mocks) and exports the
// endpoints.
func TestEveryStackFileDeploysAndExportsItsEndpoints(t *testing.T) {
	t.Parallel()
	for _, f := range stackFiles(t) {
		t.Run(f.Stack, func(t *testing.T) {
			t.Parallel()
			outputs, mock := deployStackFile(t, f, nil)

			want := map[string][]string{
				"aws": {"alarmTopicArn", "awsApiUrl", "cdnBaseUrl", "cloudfrontKeyPairId", "dynamoTable", "qoeAthenaTable", "qoeFirehoseStream",
					"queueUrls", "routes", "videoBucket"},
				"gcp": {"cdnBaseUrl", "gcpApiUrl", "loadBalancerIp", "pubsubTopics", "qoeBigQueryTable", "routes", "videoBucket"},
				"hybrid": {"alarmTopicArn", "awsApiUrl", "cdnBaseUrl", "gcpApiUrl", "loadBalancerIp", "pubsubTopics", "qoeBigQueryTable", "routes",
					"workloadIdentityProvider"},
			}[f.Stack]
			for _, name := range want {
				if v, ok := outputs[name]; !ok || v == "" {
					t.Errorf("output %s missing", name)
				}
			}
			routes, _ := outputs["routes"].(map[string]string)
			for _, fn := range catalog.Functions {
				for _, r := range fn.Routes {
					if !strings.HasPrefix(routes[r.Key()], "https://") || !strings.HasSuffix(routes[r.Key()], r.Path) {
						t.Errorf("route %s exported as %q", r.Key(), routes[r.Key()])
					}
				}
			}
			// Code paths are relative to this directory: make package
			// writes ../dist.
			for _, fn := range mock.OfType("aws:lambda/function:Function") {
				if code := fn.InStr("code"); !strings.HasPrefix(code, "../dist/") {
					t.Errorf("%s code from %q", fn.Name, code)
				}
			}
		})
	}
}

// deployStackFile runs the program under mocks on the stack file's config,
// the secrets an operator sets, and extra (which wins), and returns the
// exported outputs and what the mock monitor recorded.
func deployStackFile(t *testing.T, f stackFile, extra map[string]string) (map[string]any, *pulumimock.Monitor) {
	t.Helper()
	config := map[string]string{}
	for key, value := range f.Config {
		s, ok := value.(string)
		if !ok {
			t.Fatalf("%s: %s is not a string", f.Stack, key)
		}
		config[key] = s
	}
	if config["playplane:layout"] != f.Stack {
		t.Errorf("stack %s has layout %q", f.Stack, config["playplane:layout"])
	}
	var secretKeys []string
	for _, s := range catalog.Secrets {
		config["playplane:"+s.ConfigKey] = "test-" + s.ConfigKey
		secretKeys = append(secretKeys, "playplane:"+s.ConfigKey)
	}
	for key, value := range extra {
		config[key] = value
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	outputs := map[string]any{}
	export := func(name string, value pulumi.Input) {
		wg.Add(1)
		pulumi.ToOutput(value).ApplyT(func(v any) any {
			defer wg.Done()
			mu.Lock()
			outputs[name] = v
			mu.Unlock()
			return v
		})
	}
	mock := pulumimock.New(config["gcp:project"])
	err := pulumi.RunErr(func(ctx *pulumi.Context) error { return realMain(ctx, export) },
		pulumi.WithMocks("playplane", f.Stack, mock),
		func(info *pulumi.RunInfo) { info.Config, info.ConfigSecretKeys = config, secretKeys })
	if err != nil {
		t.Fatalf("deploy %s: %v", f.Stack, err)
	}
	wg.Wait()
	return outputs, mock
}
