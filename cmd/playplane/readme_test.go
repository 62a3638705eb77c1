package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/paymentwebhook"
)

// readmeCurls returns the curl commands of the first sh block under the
// README heading section, in order, each with its continuation lines joined
// and the expected status its trailing comment names (0: none named).
func readmeCurls(t *testing.T, section string) (cmds [][]string, want []int) {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "\n## "+section+"\n")
	if !ok {
		t.Fatalf("README has no %q section", section)
	}
	_, block, ok := strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatalf("README section %q has no sh block", section)
	}
	block, _, _ = strings.Cut(block, "```")
	var line string
	for _, l := range strings.Split(block, "\n") {
		if strings.HasSuffix(strings.TrimRight(l, " "), `\`) {
			line += strings.TrimSuffix(strings.TrimRight(l, " "), `\`) + " "
			continue
		}
		line += l
		words, comment := shellWords(t, line)
		line = ""
		if len(words) == 0 || words[0] != "curl" {
			continue
		}
		code, _ := strconv.Atoi(strings.Fields(comment + " x")[0])
		cmds, want = append(cmds, words), append(want, code)
	}
	return cmds, want
}

// shellWords splits a command line as sh would for the README's curls
// (single and double quotes, no escapes), and returns the comment after
// an unquoted '#'.
func shellWords(t *testing.T, line string) (words []string, comment string) {
	t.Helper()
	var w strings.Builder
	in, quote := false, rune(0)
	for i, c := range line {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '#' && !in:
			return words, strings.TrimSpace(line[i+1:])
		case c == ' ' || c == '\t':
			if in {
				words, in = append(words, w.String()), false
				w.Reset()
			}
		default:
			w.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if in {
		words = append(words, w.String())
	}
	return words, ""
}

// TestREADMECatalogueExamplesRunAsWritten runs the curls of the README's
// "Bring your own catalogue" block in order against a runner started as
// that block starts it (SEED=false, nothing imported but an export of the
// empty store): each must answer the status its comment names, else a
// 2xx. A user copies them as they stand; a step the block leaves out (a
// record an example relies on) fails here, not in the user's shell.
func TestREADMECatalogueExamplesRunAsWritten(t *testing.T) {
	run, _ := startEmpty(t)
	admin := run.adminToken()
	// czf.json: a coverage zone file of the user's own, as docs/catalogue.md shows one.
	files := map[string]string{"czf.json": `{"coverageZones":{"fra":{"network":["10.0.0.0/8"]}}}`}
	cmds, want := readmeCurls(t, "Bring your own catalogue")
	if len(cmds) == 0 {
		t.Fatal("no curl in the README's catalogue block")
	}
	for i, words := range cmds {
		method, url, body := "GET", "", ""
		headers := http.Header{}
		for j := 1; j < len(words); j++ {
			switch words[j] {
			case "-s":
			case "-X":
				j++
				method = words[j]
			case "-H":
				j++
				k, v, _ := strings.Cut(strings.ReplaceAll(words[j], "$ADMIN", admin), ":")
				headers.Set(k, strings.TrimSpace(v))
			case "--json":
				j++
				body = words[j]
				headers.Set("Content-Type", "application/json")
				if method == "GET" {
					method = "POST"
				}
			case "--data-binary":
				j++
				f, ok := files[strings.TrimPrefix(words[j], "@")]
				if !ok {
					t.Fatalf("curl %d: no stand-in for %q", i, words[j])
				}
				body = f
			default:
				if !strings.HasPrefix(words[j], "localhost:8080/") {
					t.Fatalf("curl %d: argument %q this test does not know", i, words[j])
				}
				url = run.srv.URL + strings.TrimPrefix(words[j], "localhost:8080")
			}
		}
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = headers
		resp, err := run.api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want[i] != 0 && resp.StatusCode != want[i] || want[i] == 0 && resp.StatusCode/100 != 2 {
			t.Errorf("README catalogue curl %d (%s %s): %d, README says %d (0: a 2xx): %s",
				i, method, strings.TrimPrefix(url, run.srv.URL), resp.StatusCode, want[i], got)
		}
	}
}

// TestImportProblemsPrintOnePerLine: docs/catalogue.md promises that a bad
// file's problems are listed with their line and pointer, e.g. `line 9:
// /titles/1/rating: minimum: got -1, want 0`. An operator reads them in a
// terminal, so each is a line of its own on stderr, not an escaped "\n"
// inside one JSON log record.
func TestImportProblemsPrintOnePerLine(t *testing.T) {
	t.Parallel()
	bin := buildRunner(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(file, []byte(`{
 "plans": [{"id":"p","name":"P","max_streams":1,"max_devices":5,"max_quality":"XL"}],
 "titles": [
  {"id":"t","name":"T","rating":-1,"asset_path":"/titles/t/","manifest":"m.m3u8"}
 ]
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "import", file)
	cmd.Env = append(os.Environ(), "DATA_DIR="+filepath.Join(dir, "data"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("import of a bad file: %v, want exit status 1; stderr %q", err, stderr.String())
	}
	lines := strings.Split(stderr.String(), "\n")
	for _, want := range []string{
		"  line 2: /plans/0/max_quality: ",
		"  line 4: /titles/0/rating: minimum: got -1, want 0",
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("no stderr line starting %q: %q", want, stderr.String())
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
}

// TestREADMEErrorReasonsAreTheCodes: the README's Errors section names the
// reasons a client meets; each must be a reason the code answers (a string
// constant of a non-test Go file), so a renamed reason cannot leave the
// README naming one no answer carries.
func TestREADMEErrorReasonsAreTheCodes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(raw), "`reason` names the\nrule that failed (")
	if !ok {
		t.Fatal("README's Errors section no longer introduces its reasons as this test reads them")
	}
	list, _, _ = strings.Cut(list, "; a play's 403 reasons")
	var names []string
	for i, part := range strings.Split(list, "`") {
		if i%2 == 1 && part != "" && strings.Trim(part, "abcdefghijklmnopqrstuvwxyz_") == "" {
			names = append(names, part)
		}
	}
	if len(names) < 5 {
		t.Fatalf("read %d reasons from the README: %q", len(names), names)
	}
	var code strings.Builder
	for _, root := range []string{"../../shared", "../../functions"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			code.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if !strings.Contains(code.String(), `"`+name+`"`) {
			t.Errorf("README names reason %q, which no Go source under shared/ or functions/ answers", name)
		}
	}
}

// TestREADMENamesTheStripeAPIVersion: the webhook refuses every event of
// another Stripe API version than the one it decodes (400
// api_version_mismatch), and Stripe sends an endpoint's events in the
// version the endpoint was created with (`stripe listen`: the account's
// default). A user who sets up the endpoint from the README's Payments
// paragraph must read there which version to ask for.
func TestREADMENamesTheStripeAPIVersion(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, para, ok := strings.Cut(string(raw), "**Payments locally.**")
	if !ok {
		t.Fatal("README has no Payments locally paragraph")
	}
	para, _, _ = strings.Cut(para, "\n\n")
	if !strings.Contains(para, "`"+paymentwebhook.APIVersion+"`") {
		t.Errorf("README's Payments locally paragraph does not name the Stripe API version the webhook decodes, %s (paymentwebhook.APIVersion)", paymentwebhook.APIVersion)
	}
}
