package stack

import (
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// TestREADMENamesWhatTheStacksCreate: pulumi/README.md's "What each stack
// creates" names every index of the table and the payload of every
// scheduled job, so a deploying team reads the indexes its roles may
// query and the schedules it pays for from the catalogue, not from an
// earlier one.
func TestREADMENamesWhatTheStacksCreate(t *testing.T) {
	t.Parallel()
	readme := readFile(t, "../../pulumi/README.md")
	_, section, _ := strings.Cut(readme, "## What each stack creates")
	section, _, _ = strings.Cut(section, "\n## ")
	if section == "" {
		t.Fatal(`pulumi/README.md has no "What each stack creates" section`)
	}
	for _, idx := range catalog.DynamoTable.Indexes {
		if !strings.Contains(section, "`"+idx.Name+"`") {
			t.Errorf("the aws stack's description does not name index `%s`", idx.Name)
		}
	}
	for _, fn := range catalog.Functions {
		for _, job := range fn.Jobs {
			if !strings.Contains(section, "`"+job.Payload()+"`") {
				t.Errorf("the stacks' description does not name %s's job `%s`", fn.Name, job.Payload())
			}
		}
	}
}

// TestREADMEAlarmsHoldTheStacksPromQL: the README's Alarms paragraph
// quotes the PromQL of the GCP alert policies, so an operator can paste
// it into Metrics Explorer; it must be the query the stack deploys, not
// an earlier one.
func TestREADMEAlarmsHoldTheStacksPromQL(t *testing.T) {
	t.Parallel()
	readme := readFile(t, "../../README.md")
	_, section, _ := strings.Cut(readme, "**Alarms**")
	section, _, _ = strings.Cut(section, "\n\n")
	if section == "" {
		t.Fatal("README.md has no **Alarms** paragraph")
	}
	for _, tc := range []struct{ name, query string }{
		{name: "webhook lag", query: webhookLagPromQL()},
		{name: "title not signable", query: notSignablePromQL()},
	} {
		if !strings.Contains(section, "`"+tc.query+"`") {
			t.Errorf("README.md's Alarms paragraph does not quote the %s alert's PromQL `%s`", tc.name, tc.query)
		}
	}
}
