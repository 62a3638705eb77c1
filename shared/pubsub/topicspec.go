package pubsub

import (
	"fmt"
	"strings"

	"github.com/playplane/playplane/functions/catalog"
)

// ParseTopicSpec reads the PUBSUB_TOPICS form "topic:projects/P/topics/ID,..."
// (what the Pulumi stacks set) and returns the one project and the one topic
// prefix (ID = prefix + topic) every entry shares, i.e. Config.ProjectID and
// Config.TopicPrefix.
func ParseTopicSpec(spec string) (project, prefix string, err error) {
	first := true
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		topic, name, ok := strings.Cut(entry, ":")
		parts := strings.Split(name, "/")
		if !ok || topic == "" || len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "topics" {
			return "", "", fmt.Errorf("entry %q: want topic:projects/PROJECT/topics/ID", entry)
		}
		p, id := parts[1], parts[3]
		pre, ok := strings.CutSuffix(id, topic)
		if !ok {
			return "", "", fmt.Errorf("entry %q: topic id %q does not end in the topic name %q", entry, id, topic)
		}
		if first {
			project, prefix, first = p, pre, false
			continue
		}
		if p != project || pre != prefix {
			return "", "", fmt.Errorf("entry %q: every topic must be in project %q with prefix %q", entry, project, prefix)
		}
	}
	return project, prefix, nil
}

// EnvTopics is the variable the Pulumi stacks set to ParseTopicSpec's form.
const EnvTopics = catalog.EnvPubSubTopics

// ApplyTopicSpec sets cfg's project and topic prefix from PUBSUB_TOPICS,
// when lookup has it. PUBSUB_PROJECT_ID or PUBSUB_TOPIC_PREFIX set as well
// must agree with it.
func ApplyTopicSpec(cfg *Config, lookup func(string) (string, bool)) error {
	spec, _ := lookup(EnvTopics)
	if spec == "" {
		return nil
	}
	project, prefix, err := ParseTopicSpec(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvTopics, err)
	}
	if explicit, _ := lookup("PUBSUB_PROJECT_ID"); explicit != "" && explicit != project {
		return fmt.Errorf("PUBSUB_PROJECT_ID %q, but %s names project %q", explicit, EnvTopics, project)
	}
	if explicit, _ := lookup("PUBSUB_TOPIC_PREFIX"); explicit != "" && explicit != prefix {
		return fmt.Errorf("PUBSUB_TOPIC_PREFIX %q, but %s implies %q", explicit, EnvTopics, prefix)
	}
	cfg.ProjectID, cfg.TopicPrefix = project, prefix
	return nil
}
