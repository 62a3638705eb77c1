package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
	"github.com/playplane/playplane/shared/walbus"
)

// openJournal opens the bus journal of cfg.DataDir for an operator
// subcommand, with the store open first: the store's file lock is what
// keeps a running runner out (the journal takes none), so that only one
// process ever writes bus.wal. ok is false when the directory has no
// journal; close closes both.
func openJournal(ctx context.Context, cfg Config) (j *walbus.Journal, close func() error, ok bool, err error) {
	if _, err := os.Stat(busJournalPath(cfg)); errors.Is(err, os.ErrNotExist) {
		// A DATA_DIR that is not there is a mistyped one, not a runner
		// that never failed a message: say so, rather than list nothing.
		if _, err := os.Stat(cfg.DataDir); err != nil {
			return nil, nil, false, fmt.Errorf("no runner data directory at %s (DATA_DIR): %w", cfg.DataDir, err)
		}
		return nil, nil, false, nil // nothing to list: create no store in a directory the runner has not used
	}
	s, err := openStore(ctx, cfg, "bolt")
	if err != nil {
		return nil, nil, false, err
	}
	if j, err = openBusJournal(cfg); err != nil {
		return nil, nil, false, errors.Join(err, s.Close())
	}
	return j, func() error { return errors.Join(j.Close(), s.Close()) }, true, nil
}

// busJournalPath is where the local bus journals what it accepts, in the
// runner's data directory.
func busJournalPath(cfg Config) string { return filepath.Join(cfg.DataDir, "bus.wal") }

// openBusJournal opens the local bus's journal, fsynced unless cfg.Sync
// is off: the runner's and the dead-letter subcommands' one way in.
func openBusJournal(cfg Config) (*walbus.Journal, error) {
	var opts []walbus.Option
	if !cfg.Sync {
		opts = append(opts, walbus.WithoutSync())
	}
	return walbus.Open(busJournalPath(cfg), opts...)
}

// checkTopic refuses a name that is no topic of the bus.
func checkTopic(topic string) error {
	if topic != "" && !slices.Contains(events.Topics, topic) {
		return fmt.Errorf("no topic %q; the topics are %s", topic, strings.Join(events.Topics, ", "))
	}
	return nil
}

// deadLettersCmd lists the dead letters the runner's bus journal holds:
// messages whose consumer failed them on every attempt.
func deadLettersCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("deadletters", flag.ContinueOnError)
	topic := fs.String("topic", "", "only this topic's")
	data := fs.Bool("data", false, "print each message's body too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: playplane deadletters [--topic TOPIC] [--data]")
	}
	if err := checkTopic(*topic); err != nil {
		return err
	}
	j, closeAll, ok, err := openJournal(ctx, cfg)
	if err != nil {
		return err
	}
	type topicDead struct {
		name string
		msgs []playback.Message
	}
	var all []topicDead
	if ok {
		defer func() { err = errors.Join(err, closeAll()) }()
		if err := j.Load(func(name string, _, dead []playback.Message) {
			if len(dead) > 0 && (*topic == "" || name == *topic) {
				all = append(all, topicDead{name, dead})
			}
		}); err != nil {
			return err
		}
	}
	slices.SortFunc(all, func(a, b topicDead) int { return strings.Compare(a.name, b.name) })
	w := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tID\tPUBLISHED\tBYTES")
	for _, td := range all {
		for _, m := range td.msgs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", td.name, m.ID, m.PublishTime.UTC().Format(time.RFC3339), len(m.Data))
			if *data {
				fmt.Fprintf(w, "\t%q\n", m.Data)
			}
		}
	}
	return w.Flush()
}

// redriveCmd moves a topic's dead letters back to the bus journal's
// pending messages, durably; the runner delivers them at its next start
// under their ids, from their first attempt.
func redriveCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	topic := fs.String("topic", "", "the topic whose dead letters to deliver again")
	bus := fs.String("bus", "local", "local (the runner's DATA_DIR) or pubsub (PUBSUB_TOPICS or PUBSUB_PROJECT_ID and PUBSUB_TOPIC_PREFIX, as the functions)")
	sub := fs.String("subscription", "", "pubsub: the dead-letter subscription's id (default: the stacks', PREFIX-TOPIC-dlq)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *topic == "" || *bus != "local" && *bus != "pubsub" || *sub != "" && *bus != "pubsub" {
		return errors.New("usage: playplane redrive --topic TOPIC [--bus local|pubsub [--subscription ID]]")
	}
	if err := checkTopic(*topic); err != nil {
		return err
	}
	if *bus == "pubsub" {
		return redrivePubSub(ctx, *topic, *sub, stdout)
	}
	j, closeAll, ok, err := openJournal(ctx, cfg)
	if err != nil {
		return err
	}
	n := 0
	if ok {
		defer func() { err = errors.Join(err, closeAll()) }()
		if n, err = j.Redrive(ctx, *topic); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "%s: %d dead letter(s) moved back; the runner delivers them when it starts\n", *topic, n)
	return err
}

// redrivePubSub republishes a topic's dead letters from its Pub/Sub
// dead-letter subscription (pubsub.Bus.Redrive), configured as the
// functions configure their bus.
func redrivePubSub(ctx context.Context, topic, sub string, stdout io.Writer) (err error) {
	var pc pubsub.Config
	if err := envconfig.Process(ctx, &pc); err != nil {
		return fmt.Errorf("bus pubsub: %w", err)
	}
	if err := pubsub.ApplyTopicSpec(&pc, os.LookupEnv); err != nil {
		return fmt.Errorf("bus pubsub: %w", err)
	}
	b, err := pubsub.New(ctx, pc)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Close()) }()
	n, err := b.Redrive(ctx, topic, sub)
	if _, perr := fmt.Fprintf(stdout, "%s: %d dead letter(s) republished\n", topic, n); err == nil {
		err = perr
	}
	return err
}
