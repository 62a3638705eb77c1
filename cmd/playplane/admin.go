package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/atomicfile"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/openapi"
)

// cliConfig is what the operator subcommands read besides Config.
type cliConfig struct {
	// Store is where import and export go: the runner's bolt file in
	// DATA_DIR (stop the runner first: one process holds it), or the cloud
	// store the functions use, configured by the same variables
	// (DYNAMODB_TABLE, DYNAMODB_ENDPOINT, AWS_REGION and the AWS
	// credentials; FIRESTORE_PROJECT_ID or GOOGLE_CLOUD_PROJECT,
	// FIRESTORE_DATABASE, FIRESTORE_COLLECTION_PREFIX, and
	// FIRESTORE_EMULATOR_HOST for the emulator).
	Store string `env:"STORE, default=bolt"`
	// AdminClaim names the JWT claim that makes a token an admin's
	// (auth.HasAdminClaim): "scope" holding playplane:admin, or any other
	// name holding true.
	AdminClaim string `env:"ADMIN_CLAIM, default=playplane_admin"`
}

// usage names the commands; no argument at all runs the server.
const usage = "usage: playplane [token|import|export|migrate|openapi|deadletters|redrive] ...; no argument serves"

// subcommand runs an operator subcommand named by args[0]; handled is
// false when args are empty (the runner then serves). Arguments that name
// no command are refused: a typo must not start the runner, which would
// seed an empty DATA_DIR and hold the bolt file.
func subcommand(ctx context.Context, cfg Config, args []string, stdout io.Writer) (handled bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	var cli cliConfig
	if err := envconfig.Process(ctx, &cli); err != nil {
		return true, fmt.Errorf("config: %w", err)
	}
	switch args[0] {
	case "token":
		return true, tokenCmd(cfg, cli, args[1:], stdout)
	case "import":
		return true, importCmd(ctx, cfg, cli, args[1:], stdout)
	case "export":
		return true, exportCmd(ctx, cfg, cli, args[1:], stdout)
	case "migrate":
		return true, migrateCmd(ctx, cfg, cli, args[1:], stdout)
	case "openapi":
		return true, openapiCmd(args[1:], stdout)
	case "deadletters":
		return true, deadLettersCmd(ctx, cfg, args[1:], stdout)
	case "redrive":
		return true, redriveCmd(ctx, cfg, args[1:], stdout)
	}
	return true, fmt.Errorf("unknown command %q; %s", args[0], usage)
}

// openapiCmd prints the API's OpenAPI document, the bytes GET
// /openapi.json serves: `make package` publishes it for the clouds
// (docs/openapi.md).
func openapiCmd(args []string, stdout io.Writer) error {
	if len(args) != 0 {
		return errors.New("usage: playplane openapi")
	}
	doc, err := openapi.Document()
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}

func tokenCmd(cfg Config, cli cliConfig, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	admin := fs.Bool("admin", false, "mint an admin token (claim ADMIN_CLAIM) for the operator NAME")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime of the token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: playplane token [--admin] [--ttl 24h] ACCOUNT|NAME")
	}
	var token string
	var err error
	if *admin {
		token, err = AdminToken(cfg, fs.Arg(0), cli.AdminClaim, *ttl)
	} else {
		token, err = DevToken(cfg, fs.Arg(0), *ttl)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// AdminToken mints an admin JWT with the dev key kept in cfg.DataDir.
func AdminToken(cfg Config, name, claim string, ttl time.Duration) (string, error) {
	secrets, err := loadSecrets(filepath.Join(cfg.DataDir, "dev-secrets.json"))
	if err != nil {
		return "", err
	}
	key, err := base64.StdEncoding.DecodeString(secrets.JWTKey)
	if err != nil {
		return "", fmt.Errorf("dev jwt key: %w", err)
	}
	return auth.MintAdminHS256(devKeyID, key, cfg.Issuer, cfg.Audience, name, claim, ttl, time.Now())
}

// adminStore is a store the operator subcommands write through.
type adminStore interface {
	catalogfile.Store
	Close() error
}

// openStore opens the store kind names, configured as the functions
// configure theirs.
func openStore(ctx context.Context, cfg Config, kind string) (adminStore, error) {
	switch kind {
	case "bolt":
		var opts []bolt.Option
		if !cfg.Sync {
			opts = append(opts, bolt.WithoutSync())
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		s, err := bolt.Open(filepath.Join(cfg.DataDir, "playplane.db"), opts...)
		if err != nil {
			return nil, fmt.Errorf("%w (is the runner using %s? stop it first)", err, cfg.DataDir)
		}
		return s, nil
	case "dynamodb":
		var dc dynamo.Config
		if err := envconfig.Process(ctx, &dc); err != nil {
			return nil, fmt.Errorf("store dynamodb: %w", err)
		}
		var region struct {
			Region string `env:"AWS_REGION, default=us-east-1"`
		}
		if err := envconfig.Process(ctx, &region); err != nil {
			return nil, err
		}
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region.Region))
		if err != nil {
			return nil, fmt.Errorf("store dynamodb: load AWS config: %w", err)
		}
		client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			if dc.Endpoint != "" {
				o.BaseEndpoint = aws.String(dc.Endpoint)
			}
		})
		return dynamo.New(ctx, dc, client)
	case "firestore":
		var fc firestore.Config
		if err := envconfig.Process(ctx, &fc); err != nil {
			return nil, fmt.Errorf("store firestore: %w", err)
		}
		return firestore.New(ctx, fc, nil)
	}
	return nil, fmt.Errorf("store %q: want bolt, dynamodb or firestore", kind)
}

func defaultActor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

func importCmd(ctx context.Context, cfg Config, cli cliConfig, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	store := fs.String("store", cli.Store, "bolt, dynamodb or firestore (env STORE)")
	dryRun := fs.Bool("dry-run", false, "print what would change and write nothing")
	actor := fs.String("actor", defaultActor(), "who the audit records name")
	parallel := fs.Int("parallel", 1, "change sets in flight (a few help a cloud store's round trips)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: playplane import [--store bolt|dynamodb|firestore] [--dry-run] FILE")
	}
	name := fs.Arg(0)
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	// The whole file is checked before a store is even opened.
	f, err := catalogfile.Parse(name, data)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, cfg, *store)
	if err != nil {
		return err
	}
	defer s.Close()
	plan, err := catalogfile.Diff(ctx, s, f)
	if err != nil {
		return err
	}
	if err := catalogfile.PrintDiff(stdout, plan); err != nil {
		return err
	}
	// An unchanged file still ends the sessions of its accounts that may
	// not play and links their customers: importing again retries an end
	// or a link that failed (or that a killed import never made).
	if *dryRun || plan.Empty() && len(plan.EndSessions) == 0 && len(plan.Links) == 0 {
		return nil
	}
	rep, err := catalogfile.ApplyParallel(ctx, s, plan, *actor, time.Now, *parallel)
	if err != nil {
		return fmt.Errorf("import %s: %w (what was written stays; importing again resumes)", name, err)
	}
	_, err = fmt.Fprintf(stdout, "applied in %d change set(s)%s\n", rep.Sets, czNote(rep))
	return err
}

func czNote(rep catalogfile.Report) string {
	if rep.CoverageZones == 0 {
		return ""
	}
	return fmt.Sprintf(", coverage zones version %d", rep.CoverageZones)
}

func exportCmd(ctx context.Context, cfg Config, cli cliConfig, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	store := fs.String("store", cli.Store, "bolt, dynamodb or firestore (env STORE)")
	accounts := fs.Bool("accounts", false, "include the accounts' settings")
	out := fs.String("o", "", "write to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: playplane export [--store bolt|dynamodb|firestore] [--accounts] [-o FILE]")
	}
	s, err := openStore(ctx, cfg, *store)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := catalogfile.Export(ctx, s, *accounts)
	if err != nil {
		return err
	}
	if *out == "" {
		return catalogfile.Encode(stdout, f)
	}
	// Encoded whole and put in place by a rename: an export that fails
	// (the encoding, a full disk, a kill) leaves the last one as it was.
	var buf bytes.Buffer
	if err := catalogfile.Encode(&buf, f); err != nil {
		return fmt.Errorf("export: %w (%s left as it was)", err, *out)
	}
	return atomicfile.Create(*out, buf.Bytes())
}

// listingMigrator is a store with a one-off migration of its listing
// (dynamo: the "list" index replaced the LIST#<kind> items).
type listingMigrator interface {
	MigrateListing(ctx context.Context) (int, error)
}

// graceMigrator is a store with a one-off indexing of the accounts a
// release before its grace listing wrote (ListGracePending; dynamo and
// firestore: bolt indexes them when it opens the file).
type graceMigrator interface {
	MigrateGrace(ctx context.Context) (int, error)
}

// migrateCmd brings a store written by an earlier version to the current
// layout; run once after upgrading, before importing or exporting.
// Idempotent: a store with nothing left to move answers 0.
func migrateCmd(ctx context.Context, cfg Config, cli cliConfig, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	store := fs.String("store", cli.Store, "bolt, dynamodb or firestore (env STORE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: playplane migrate [--store bolt|dynamodb|firestore]")
	}
	s, err := openStore(ctx, cfg, *store)
	if err != nil {
		return err
	}
	defer s.Close()
	lm, listing := s.(listingMigrator)
	gm, grace := s.(graceMigrator)
	if !listing && !grace {
		_, err := fmt.Fprintf(stdout, "%s: nothing to migrate\n", *store)
		return err
	}
	// The listing first: the grace migration walks it.
	if listing {
		n, err := lm.MigrateListing(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w (what was moved stays; running it again moves the rest)", *store, err)
		}
		if _, err := fmt.Fprintf(stdout, "%s: %d record(s) moved to the list index\n", *store, n); err != nil {
			return err
		}
	}
	if grace {
		n, err := gm.MigrateGrace(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w (what was indexed stays; running it again indexes the rest)", *store, err)
		}
		if _, err := fmt.Fprintf(stdout, "%s: %d past_due account(s) added to the grace listing\n", *store, n); err != nil {
			return err
		}
	}
	return nil
}
