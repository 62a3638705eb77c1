package paymentwebhook

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDeployREADMECreatesTheEndpointTheFunctionDecodes: a deployed
// endpoint created in the account's default API version has every event
// refused (400 api_version_mismatch), and one that leaves out an event the
// function acts on never sends it. pulumi/README.md's endpoint command
// must ask for the version the function decodes and every handled type.
func TestDeployREADMECreatesTheEndpointTheFunctionDecodes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../pulumi/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "**The Stripe webhook endpoint.**")
	if !ok {
		t.Fatal("pulumi/README.md has no Stripe webhook endpoint paragraph")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	if !strings.Contains(section, "api_version="+APIVersion+" ") {
		t.Errorf("pulumi/README.md's endpoint command does not ask for api_version=%s (APIVersion)", APIVersion)
	}
	var listed []string
	for _, m := range regexp.MustCompile(`enabled_events\[\]=([a-z_.]+)`).FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	for typ := range handledTypes {
		if !slices.Contains(listed, typ) {
			t.Errorf("pulumi/README.md's endpoint command does not enable %s, a type the function acts on", typ)
		}
	}
	for _, typ := range listed {
		if !handledTypes[typ] {
			t.Errorf("pulumi/README.md's endpoint command enables %s, which the function ignores", typ)
		}
	}
}
