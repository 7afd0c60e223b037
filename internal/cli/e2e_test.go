package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ratdata/rat/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ratBinary builds cmd/rat once per test run, so tests can run it as a user
// would: in its own process, killable.
func ratBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "rat-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rat")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/rat")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ratUser runs rat commands in a directory with a given environment.
type ratUser struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newUser(t *testing.T, cluster bool) *ratUser {
	t.Helper()
	u := &ratUser{t: t, bin: ratBinary(t), dir: t.TempDir()}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RAT_") || strings.HasPrefix(name, "S3_") || name == "ICEBERG_WAREHOUSE" {
			continue // the machine's settings must not leak in
		}
		u.env = append(u.env, kv)
	}
	if cluster {
		s3 := testenv.S3(t)
		pg := testenv.Postgres(t)
		u.env = append(u.env,
			"RAT_CATALOG_URL="+pg,
			"ICEBERG_WAREHOUSE=s3://"+s3.Bucket+"/"+s3.Prefix,
			"S3_ENDPOINT="+s3.Endpoint, "S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey, "S3_REGION="+s3.Region)
	}
	return u
}

func (u *ratUser) cmd(args ...string) *exec.Cmd {
	c := exec.Command(u.bin, args...)
	c.Dir = u.dir
	c.Env = append(u.env, "RAT_PROFILE=tiny")
	return c
}

// run returns stdout, stderr and the exit code.
func (u *ratUser) run(args ...string) (string, string, int) {
	u.t.Helper()
	return u.runEnv(nil, args...)
}

// runEnv is run with variables added to the environment.
func (u *ratUser) runEnv(env []string, args ...string) (string, string, int) {
	u.t.Helper()
	c := u.cmd(args...)
	c.Env = append(c.Env, env...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		u.t.Fatalf("rat %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (u *ratUser) ok(args ...string) string {
	u.t.Helper()
	out, errs, code := u.run(args...)
	if code != 0 {
		u.t.Fatalf("rat %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// fails runs a command that must fail with exactly one line on stderr
// containing want, and returns that line.
func (u *ratUser) fails(want string, args ...string) string {
	u.t.Helper()
	out, errs, code := u.run(args...)
	if code == 0 {
		u.t.Fatalf("rat %s: succeeded, want failure\nstdout: %s", strings.Join(args, " "), out)
	}
	lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "rat: ") {
		u.t.Fatalf("rat %s: stderr should be one line starting with 'rat: ', got %q", strings.Join(args, " "), errs)
	}
	if !strings.Contains(lines[0], want) {
		u.t.Fatalf("rat %s: error %q does not mention %q", strings.Join(args, " "), lines[0], want)
	}
	return lines[0]
}

func (u *ratUser) write(name, content string) string {
	u.t.Helper()
	p := filepath.Join(u.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		u.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		u.t.Fatal(err)
	}
	return p
}

// count returns SELECT count(*) of a table through rat query.
func (u *ratUser) count(table string, extra ...string) string {
	u.t.Helper()
	args := append([]string{"query", "SELECT count(*) AS n FROM " + table, "--format", "csv"}, extra...)
	out := u.ok(args...)
	return strings.TrimSpace(strings.TrimPrefix(out, "n\n"))
}

// commits returns the number of commits reachable from main.
func (u *ratUser) commits() int {
	u.t.Helper()
	var log []json.RawMessage
	if err := json.Unmarshal([]byte(u.ok("log", "--json", "-n", "0")), &log); err != nil {
		u.t.Fatal(err)
	}
	return len(log)
}

// setups runs fn on the embedded default and on Postgres + MinIO, in parallel.
func setups(t *testing.T, fn func(t *testing.T, u *ratUser)) {
	for _, cluster := range []bool{false, true} {
		name := "local"
		if cluster {
			name = "postgres+minio"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newUser(t, cluster))
		})
	}
}

func TestNewUserScenario(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("sales.csv", "id,region,amount\n1,north,10.5\n2,south,20\n3,north,5\n")
		u.write("more.csv", "id,region,amount\n4,east,7.5\n5,west,1\n")
		if out := u.ok("load", "sales.csv", "--into", "bronze.sales"); !strings.Contains(out, "loaded 3 rows into bronze.sales") {
			t.Fatalf("load output: %s", out)
		}
		if n := u.count("bronze.sales"); n != "3" {
			t.Fatalf("count = %s, want 3", n)
		}
		u.ok("branch", "create", "dev")
		u.ok("load", "more.csv", "--into", "bronze.sales", "--branch", "dev")
		if dev, main := u.count("bronze.sales", "--branch", "dev"), u.count("bronze.sales"); dev != "5" || main != "3" {
			t.Fatalf("dev = %s, main = %s; want 5 and 3", dev, main)
		}
		if out := u.ok("diff", "main", "dev"); !strings.Contains(out, "bronze.sales") || !strings.Contains(out, "+2") {
			t.Fatalf("diff: %s", out)
		}
		u.ok("merge", "dev")
		if n := u.count("bronze.sales"); n != "5" {
			t.Fatalf("after merge main has %s rows, want 5", n)
		}
		log := u.ok("log")
		if strings.Count(log, "load ") < 2 || !strings.Contains(log, "initial commit") {
			t.Fatalf("log misses commits:\n%s", log)
		}
		var info struct {
			Snapshots []struct {
				ID   int64 `json:"id"`
				Rows int64 `json:"total_rows"`
			} `json:"snapshots"`
		}
		if err := json.Unmarshal([]byte(u.ok("describe", "bronze.sales", "--json")), &info); err != nil {
			t.Fatal(err)
		}
		if len(info.Snapshots) != 2 {
			t.Fatalf("snapshots = %+v, want 2", info.Snapshots)
		}
		first := fmt.Sprint(info.Snapshots[0].ID)
		if n := u.count("bronze.sales", "--at", first); n != "3" {
			t.Fatalf("--at the first snapshot: %s rows, want 3", n)
		}
		if out := u.ok("query", "SELECT region, sum(amount) AS total FROM bronze.sales GROUP BY region ORDER BY region", "--format", "json"); !strings.Contains(out, `"region":"east"`) {
			t.Fatalf("json output: %s", out)
		}
		if out := u.ok("tables", "--json"); !strings.Contains(out, `"rows": 5`) {
			t.Fatalf("tables: %s", out)
		}
		u.ok("tag", "create", "v1")
		if n := u.count("bronze.sales", "--branch", "v1"); n != "5" {
			t.Fatalf("tag v1 reads %s rows", n)
		}
		u.fails("tags are read-only", "load", "more.csv", "--into", "bronze.sales", "--branch", "v1")
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("sales.csv", "id,region\n1,north\n")
	u.ok("load", "sales.csv", "--into", "bronze.sales")
	before := u.commits()
	u.write("bad.csv", "id,region\n1,north\n2,south,extra\n")
	line := u.fails("bad.csv:3", "load", "bad.csv", "--into", "bronze.sales")
	if !strings.Contains(line, "fields") {
		t.Errorf("malformed CSV error should say what is wrong: %s", line)
	}
	u.fails("not found", "load", "missing.csv", "--into", "bronze.sales")
	u.fails("bronze.slaes not found on branch main: did you mean bronze.sales?", "query", "SELECT * FROM bronze.slaes")
	u.fails("table bronze.nope not found", "describe", "bronze.nope")
	u.fails("not valid", "branch", "create", "bad..name")
	u.fails("not valid", "load", "sales.csv", "--into", "bronze.sales", "--branch", "bad name")
	u.fails(`"nope" not found`, "load", "sales.csv", "--into", "bronze.sales", "--branch", "nope")
	u.fails("layer.name", "load", "sales.csv", "--into", "sales")
	u.fails("read-only", "query", "DROP TABLE bronze.sales")
	// rat's own names: the _rat layer and the run/, ingest/ branch prefixes.
	u.fails("table _rat.landing_files is read-only", "load", "sales.csv", "--into", "_rat.landing_files")
	u.fails("table _rat.landing_files is read-only", "ingest", "sales.csv", "--into", "_rat.landing_files")
	u.fails(`branch name "run/mine" is reserved`, "branch", "create", "run/mine")
	u.fails(`tag name "ingest/v1" is reserved`, "tag", "create", "ingest/v1")
	u.fails("--evolve", "load", u.write("wide.csv", "id,region,extra\n9,x,y\n"), "--into", "bronze.sales")
	u.write("workspace.yaml", "name: demo\nresources:\n  profle: small\n")
	line = u.fails("workspace.yaml:3", "tables")
	if !strings.Contains(line, `profle"`) || !strings.Contains(line, `profile"?`) {
		t.Errorf("unknown key error should name the key and suggest: %s", line)
	}
	os.Remove(filepath.Join(u.dir, "workspace.yaml"))
	u.env = append(u.env, "RAT_PROFLE=tiny")
	u.fails("RAT_PROFLE", "tables")
	u.env = u.env[:len(u.env)-1]
	if after := u.commits(); after != before {
		t.Fatalf("bad input committed: %d commits before, %d after", before, after)
	}
	if n := u.count("bronze.sales"); n != "1" {
		t.Fatalf("table changed: %s rows", n)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.env = append(u.env, "S3_SECRET_KEY=topsecret-123", "RAT_API_TOKEN=tok-456", "RAT_CATALOG_URL=postgres://rat:pgpass-789@127.0.0.1:1/db")
	for _, args := range [][]string{{"config"}, {"config", "--json"}} {
		out := u.ok(args...)
		for _, secret := range []string{"topsecret-123", "tok-456", "pgpass-789"} {
			if strings.Contains(out, secret) {
				t.Fatalf("rat %v printed a secret:\n%s", args, out)
			}
		}
		if !strings.Contains(out, "env S3_SECRET_KEY") {
			t.Fatalf("rat %v should name the secret's source:\n%s", args, out)
		}
	}
	// A failing connection must not print the password either.
	_, errs, code := u.run("tables")
	if code == 0 || strings.Contains(errs, "pgpass-789") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
