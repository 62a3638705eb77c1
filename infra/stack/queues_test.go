package stack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
)

func TestEveryQueueHasADeadLetterQueue(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		switch d.layout.Bus {
		case catalog.BusSQS:
			d.checkSQS(t)
		case catalog.BusPubSub:
			d.checkPubSub(t)
			if n := len(d.mock.OfType("aws:sqs/queue:Queue")); n > 0 {
				t.Errorf("a pubsub stack created %d SQS queues", n)
			}
		}
	})
}

func (d *deployment) checkSQS(t *testing.T) {
	queues := d.mock.OfType("aws:sqs/queue:Queue")
	deadLetterArns := map[string]int{} // DLQ ARN -> queues redriving to it
	for _, q := range queues {
		if q.InStr("tags", "role") == "dead-letter" {
			deadLetterArns[q.Str("arn")] += 0
		}
	}
	topics := 0
	for _, q := range queues {
		if q.InStr("tags", "role") == "dead-letter" {
			continue
		}
		topics++
		var redrive struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(q.InStr("redrivePolicy")), &redrive); err != nil {
			t.Errorf("queue %s has no redrive policy: %v", q.Str("name"), err)
			continue
		}
		if _, ok := deadLetterArns[redrive.DeadLetterTargetArn]; !ok {
			t.Errorf("queue %s redrives to %q, which is no dead-letter queue", q.Str("name"), redrive.DeadLetterTargetArn)
		}
		deadLetterArns[redrive.DeadLetterTargetArn]++
		if redrive.MaxReceiveCount != catalog.MaxDeliveryAttempts {
			t.Errorf("queue %s max receive count %d", q.Str("name"), redrive.MaxReceiveCount)
		}
	}
	if topics != len(catalog.Topics) {
		t.Errorf("%d topic queues, want %d", topics, len(catalog.Topics))
	}
	// Named as shared/sqs's EnsureQueues names them and its Subscribe finds
	// a topic's dead letters (its tests hold it to catalog.DeadLetterName).
	for _, topic := range catalog.Topics {
		name := d.prefix() + "-" + topic.Name
		q, dlq := d.one(t, "aws:sqs/queue:Queue", name), d.one(t, "aws:sqs/queue:Queue", catalog.DeadLetterName(name))
		if dlq.InStr("tags", "role") != "dead-letter" || !strings.Contains(q.InStr("redrivePolicy"), `"`+dlq.Str("arn")+`"`) {
			t.Errorf("queue %s does not dead-letter to the queue %s", name, catalog.DeadLetterName(name))
		}
	}
	for arn, n := range deadLetterArns {
		if n != 1 {
			t.Errorf("dead-letter queue %s serves %d queues, want 1", arn, n)
		}
	}
	// Each consumer reads its queue with partial-batch reporting, and the
	// queue hides a message long enough for the consumer to finish.
	mappings := d.mock.OfType("aws:lambda/eventSourceMapping:EventSourceMapping")
	wantMappings := 0
	for _, fn := range catalog.Functions {
		for _, c := range fn.Consumes {
			wantMappings++
			q := d.one(t, "aws:sqs/queue:Queue", d.prefix()+"-"+c.Topic)
			lambda := d.lambda(t, fn.Name+"-"+c.Topic)
			d.checkTrigger(t, lambda, catalog.TriggerQueue, c.Topic)
			found := 0
			for _, m := range mappings {
				if m.InStr("eventSourceArn") != q.Str("arn") {
					continue
				}
				found++
				if m.InStr("functionName") != lambda.Str("arn") {
					t.Errorf("queue %s feeds %q, want %s's consumer Lambda %s", c.Topic, m.InStr("functionName"), fn.Name, lambda.Str("arn"))
				}
				if got := stringsOf(m.In("functionResponseTypes")); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
					t.Errorf("mapping of %s reports %v", c.Topic, got)
				}
			}
			if found != 1 {
				t.Errorf("queue %s has %d event source mappings, want 1", c.Topic, found)
			}
			// Six times the consumer's timeout, as Lambda advises and
			// template.yaml (deploygen) sets it: longer only delays the
			// retry of a message the consumer handed back.
			if v, _ := q.In("visibilityTimeoutSeconds").(float64); v != float64(6*fn.TimeoutSeconds) {
				t.Errorf("queue %s visibility %v, want 6 x %d s", c.Topic, v, fn.TimeoutSeconds)
			}
		}
	}
	if len(mappings) != wantMappings {
		t.Errorf("%d event source mappings, want %d", len(mappings), wantMappings)
	}
}

func (d *deployment) checkPubSub(t *testing.T) {
	topicIDs := map[string]string{} // id -> role label
	for _, topic := range d.mock.OfType("gcp:pubsub/topic:Topic") {
		topicIDs[topic.ID] = topic.InStr("labels", "role")
	}
	subscriptionsOf := map[string]int{}
	for _, s := range d.mock.OfType("gcp:pubsub/subscription:Subscription") {
		topicID := s.InStr("topic")
		subscriptionsOf[topicID]++
		if s.InStr("labels", "role") == "dead-letter" {
			if topicIDs[topicID] != "dead-letter" {
				t.Errorf("dead-letter subscription %s reads topic %s", s.Str("name"), topicID)
			}
			continue
		}
		policy := mapOf(s.In("deadLetterPolicy"))
		target, _ := policy["deadLetterTopic"].(string)
		if topicIDs[target] != "dead-letter" {
			t.Errorf("subscription %s dead-letters to %q, which is no dead-letter topic", s.Str("name"), target)
		}
		if policy["maxDeliveryAttempts"] != float64(catalog.MaxDeliveryAttempts) {
			t.Errorf("subscription %s max delivery attempts %v", s.Str("name"), policy["maxDeliveryAttempts"])
		}
		// The Pub/Sub service agent must be able to forward and ack.
		agent := "serviceAccount:service-987654321098@gcp-sa-pubsub.iam.gserviceaccount.com"
		if !d.hasBinding("gcp:pubsub/topicIAMMember:TopicIAMMember", "topic", target, "roles/pubsub.publisher", agent) {
			t.Errorf("service agent cannot publish to %s", target)
		}
		if !d.hasBinding("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember", "subscription", s.Str("name"), "roles/pubsub.subscriber", agent) {
			t.Errorf("service agent cannot ack on %s", s.Str("name"))
		}
	}
	for id, role := range topicIDs {
		if subscriptionsOf[id] == 0 {
			t.Errorf("topic %s (%s) has no subscription: what is published is lost", id, role)
		}
	}
	// The dead letters are where shared/pubsub's Redrive (`playplane
	// redrive --bus pubsub`) and its Subscribe of T+"-dlq" look for them:
	// a subscription named as the dead-letter topic (its tests hold it to
	// catalog.DeadLetterName), of that topic.
	for _, topic := range catalog.Topics {
		deadLetter := catalog.DeadLetterName(d.prefix() + "-" + topic.Name)
		keeper := d.one(t, "gcp:pubsub/subscription:Subscription", deadLetter)
		if want := "projects/" + testProject + "/topics/" + deadLetter; keeper.InStr("topic") != want || topicIDs[want] != "dead-letter" {
			t.Errorf("subscription %s reads %q, want the dead-letter topic %s", deadLetter, keeper.InStr("topic"), want)
		}
	}
	// Each consumer gets pushes of its topic, authenticated as its own
	// service account, which is the only invoker of the consumer.
	for _, fn := range catalog.Functions {
		for _, c := range fn.Consumes {
			s := d.one(t, "gcp:pubsub/subscription:Subscription", d.prefix()+"-"+fn.Name+"-"+c.Topic)
			consumer := d.one(t, "gcp:cloudfunctionsv2/function:Function", d.prefix()+"-"+fn.Name+"-"+c.Topic)
			if s.InStr("topic") != "projects/"+testProject+"/topics/"+d.prefix()+"-"+c.Topic {
				t.Errorf("%s subscribes to %q", fn.Name, s.InStr("topic"))
			}
			// The Functions Framework reads the topic of a raw push body off
			// the request path; the token's audience is the function itself.
			// Both name the run.app URI: an internal-only function refuses
			// pushes to its cloudfunctions.net url, which is not internal.
			uri, _ := consumer.Out("serviceConfig", "uri").(string)
			if uri != pulumimock.RunURI(consumer.Str("name")) || uri == consumer.Str("url") {
				t.Fatalf("%s consumer uri %q", fn.Name, uri)
			}
			push := mapOf(s.In("pushConfig"))
			oidc := mapOf(push["oidcToken"])
			endpoint := uri + "/projects/" + testProject + "/topics/" + d.prefix() + "-" + c.Topic
			if push["pushEndpoint"] != endpoint {
				t.Errorf("%s pushes to %v, want %s", fn.Name, push["pushEndpoint"], endpoint)
			}
			if oidc["serviceAccountEmail"] != d.serviceAccountEmail(fn.Name) || oidc["audience"] != uri {
				t.Errorf("%s push token %v", fn.Name, oidc)
			}
			var invokers []string
			for _, m := range d.mock.OfType("gcp:cloudrunv2/serviceIamMember:ServiceIamMember") {
				if m.InStr("name") == consumer.Str("name") {
					invokers = append(invokers, m.InStr("member"))
				}
			}
			if !slices.Equal(invokers, []string{"serviceAccount:" + d.serviceAccountEmail(fn.Name)}) {
				t.Errorf("%s consumer invokers %v", fn.Name, invokers)
			}
		}
	}
}

func (d *deployment) hasBinding(token, field, target, role, member string) bool {
	for _, b := range d.mock.OfType(token) {
		if b.InStr(field) == target && b.InStr("role") == role && b.InStr("member") == member {
			return true
		}
	}
	return false
}

// TestNoSubscriptionExpires: Pub/Sub deletes a subscription that has seen
// no activity for its expiration policy's ttl, 31 days when the policy is
// left unset (pubsub v1 Subscription.expiration_policy); a policy with an
// empty ttl never expires. A quiet month must not delete a consumer's
// push subscription, a dead-letter keeper or the QoE warehouse's BigQuery
// subscription: what is published afterwards would reach nobody.
func TestNoSubscriptionExpires(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		for _, s := range d.mock.OfType("gcp:pubsub/subscription:Subscription") {
			if s.In("expirationPolicy") == nil || s.InStr("expirationPolicy", "ttl") != "" {
				t.Errorf("subscription %s has expiration policy %v, want one with an empty ttl (never expires)",
					s.InStr("name"), s.In("expirationPolicy"))
			}
		}
	})
}
