// Package compose holds no code: its test loads the compose files of this
// directory the way docker compose does (compose-go, with the schema check
// that refuses unknown keys) and checks what the stack relies on.
package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/ratdata/rat/internal/config"
)

// profileMemory is the memory of one rat container per profile, in GiB: the
// machine sizes of rat's design (4/20/64/128 GB).
var profileMemory = map[string]int64{"tiny": 4, "small": 20, "medium": 64, "large": 128}

// secretVars are the variables that hold secrets: empty in .env.example,
// never given a default in a compose file.
var secretVars = []string{"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "RAT_API_TOKEN", "RAT_METRICS_TOKEN", "CLICKHOUSE_PASSWORD"}

// exampleEnv reads .env.example, then gives every empty secret a recognisable
// test value (its name, lower case, prefixed with "secret-").
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.GetEnvFromFile(nil, []string{".env.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range secretVars {
		v, ok := env[name]
		if !ok {
			t.Fatalf(".env.example lacks %s", name)
		}
		if v != "" {
			t.Fatalf(".env.example gives the secret %s a value: leave it empty", name)
		}
		env[name] = "secret-" + strings.ToLower(name)
	}
	return env
}

func load(t *testing.T, env map[string]string, files ...string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(files,
		cli.WithName("rat-cmp-test"),
		cli.WithWorkingDirectory("."),
		cli.WithEnv(list),
		cli.WithInterpolation(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// combinations are the file sets README.md documents.
func combinations() [][]string {
	sets := [][]string{{"compose.yaml"}, {"compose.yaml", "compose.clickhouse.yaml"}, {"compose.single.yaml"}}
	for _, p := range config.ProfileNames() {
		sets = append(sets,
			[]string{"compose.yaml", "compose." + p + ".yaml"},
			[]string{"compose.yaml", "compose." + p + ".yaml", "compose.clickhouse.yaml"})
	}
	return sets
}

func TestComposeFiles(t *testing.T) {
	env := exampleEnv(t)
	for _, files := range combinations() {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			p, err := load(t, env, files...)
			if err != nil {
				t.Fatal(err)
			}
			checkProject(t, p, env)
		})
	}
}

// checkProject checks the invariants every combination keeps.
func checkProject(t *testing.T, p *types.Project, env map[string]string) {
	t.Helper()
	if len(p.Services) == 0 {
		t.Fatal("no services")
	}
	for name, s := range p.Services {
		// Pinned images: a tag, and not latest.
		ref := s.Image
		if i := strings.LastIndex(ref, "/"); i >= 0 {
			ref = ref[i+1:]
		}
		tag, ok := strings.CutPrefix(ref[strings.Index(ref+":", ":"):], ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("service %s: image %q is not pinned to a version tag", name, s.Image)
		}
		oneShot := s.Restart == types.RestartPolicyNo
		if !oneShot {
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("service %s: restart %q, want unless-stopped (or \"no\" for a one-shot)", name, s.Restart)
			}
			if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 {
				t.Errorf("service %s runs for long and has no health check", name)
			} else if strings.Contains(s.Image, "/rat:") && !slices.Equal(s.HealthCheck.Test[:2], []string{"CMD", "rat"}) {
				// rat's image has no shell: only the exec form can run.
				t.Errorf("service %s: health check %q, want [CMD rat health ...]", name, s.HealthCheck.Test)
			}
		}
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
				continue
			}
			want := types.ServiceConditionHealthy
			if target.Restart == types.RestartPolicyNo {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("service %s: depends_on %s with condition %q, want %q", name, dep, d.Condition, want)
			}
		}
		// Secrets come from the environment (.env), never from the files.
		for k, v := range s.Environment {
			if v == nil || *v == "" || !secretLike(k) {
				continue
			}
			if !slices.ContainsFunc(secretVars, func(n string) bool { return strings.Contains(*v, env[n]) }) {
				t.Errorf("service %s: %s=%q does not come from a secret variable", name, k, *v)
			}
		}
	}
	if w, ok := p.Services["worker"]; ok {
		if w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas != 3 {
			t.Error("worker: want deploy.replicas: 3")
		}
		if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) <= 30*time.Second {
			t.Errorf("worker stop_grace_period %v: want more than its --shutdown-timeout of 30s", w.StopGracePeriod)
		}
	}
}

// secretLike reports whether an environment key names a credential.
func secretLike(k string) bool {
	if k == "S3_ACCESS_KEY" { // a user name, like MINIO_ROOT_USER
		return false
	}
	for _, s := range []string{"PASSWORD", "SECRET", "TOKEN", "_KEY", "CATALOG_URL"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// TestProfileOverrides: each profile of rat has an override whose rat
// containers run that profile with its memory and its DuckDB threads as CPUs.
func TestProfileOverrides(t *testing.T) {
	env := exampleEnv(t)
	for _, name := range config.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			prof, err := config.LookupProfile(name)
			if err != nil {
				t.Fatal(err)
			}
			gib, ok := profileMemory[name]
			if !ok {
				t.Fatalf("profile %s has no container size in this test", name)
			}
			p, err := load(t, env, "compose.yaml", "compose."+name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			for _, svc := range []string{"serve", "worker"} {
				s := p.Services[svc]
				if got := s.Environment["RAT_PROFILE"]; got == nil || *got != name {
					t.Errorf("%s: RAT_PROFILE %v, want %s", svc, got, name)
				}
				lim := limits(t, s)
				if int64(lim.MemoryBytes) != gib<<30 {
					t.Errorf("%s: memory limit %d bytes, want %d GiB", svc, lim.MemoryBytes, gib)
				}
				if lim.NanoCPUs != types.NanoCPUs(prof.DuckDBThreads) {
					t.Errorf("%s: cpus %v, want %d (DuckDB threads of %s)", svc, lim.NanoCPUs, prof.DuckDBThreads, name)
				}
				if lim.MemoryBytes < types.UnitBytes(prof.DuckDBMemoryMB)<<20 {
					t.Errorf("%s: memory limit below DuckDB's %d MB", svc, prof.DuckDBMemoryMB)
				}
			}
			for _, s := range p.Services {
				if s.Restart != types.RestartPolicyNo {
					limits(t, s)
				}
			}
		})
	}
	// Without an override nothing is limited and rat picks its profile.
	p, err := load(t, env, "compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Services["worker"]; s.Deploy.Resources.Limits != nil {
		t.Errorf("compose.yaml alone limits the worker: %+v", s.Deploy.Resources.Limits)
	}
}

func limits(t *testing.T, s types.ServiceConfig) *types.Resource {
	t.Helper()
	if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0 || s.Deploy.Resources.Limits.NanoCPUs == 0 {
		t.Fatalf("service %s has no memory and cpu limits", s.Name)
	}
	return s.Deploy.Resources.Limits
}

// TestComposeRefusals: what docker compose must refuse, it does.
func TestComposeRefusals(t *testing.T) {
	raw := exampleEnv(t)
	t.Run("missing secret", func(t *testing.T) {
		env := maps(raw)
		env["POSTGRES_PASSWORD"] = ""
		_, err := load(t, env, "compose.yaml")
		if err == nil || !strings.Contains(err.Error(), "set POSTGRES_PASSWORD in .env") {
			t.Fatalf("err = %v, want the missing POSTGRES_PASSWORD named", err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		dir := t.TempDir()
		data, err := os.ReadFile("compose.yaml")
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(string(data), "    deploy:\n      replicas: 3\n", "    deploy:\n      replicas: 3\n    replica: 3\n", 1)
		if bad == string(data) {
			t.Fatal("compose.yaml has no worker deploy.replicas block to spoil")
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = load(t, raw, filepath.Join(dir, "compose.yaml"))
		if err == nil || !strings.Contains(err.Error(), "replica") {
			t.Fatalf("err = %v, want the unknown key refused", err)
		}
	})
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)(:?[-?]([^}]*))?\}`)

// TestEnvExample: .env.example lists every variable the files use, with the
// files' own defaults, and no secret has a default anywhere.
func TestEnvExample(t *testing.T) {
	env, err := dotenv.GetEnvFromFile(nil, []string{".env.example"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("compose*.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("compose files: %v %v", files, err)
	}
	used := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range varRef.FindAllStringSubmatch(string(data), -1) {
			name, op, def := m[1], m[2], m[3]
			used[name] = true
			if _, ok := env[name]; !ok {
				t.Errorf("%s uses ${%s}, which .env.example does not list", f, name)
			}
			if strings.HasSuffix(op, "-") && def != env[name] {
				t.Errorf("%s: ${%s} defaults to %q, .env.example to %q", f, name, def, env[name])
			}
			if slices.Contains(secretVars, name) && strings.HasSuffix(op, "-") {
				t.Errorf("%s: the secret %s has a default", f, name)
			}
		}
	}
	for name := range env {
		if !used[name] && name != "RAT_PROFILE" {
			t.Errorf(".env.example lists %s, which no compose file uses", name)
		}
	}
}

// TestTraefikRoute: Traefik's file provider sends the web entry point to rat
// serve's service name and listen port.
func TestTraefikRoute(t *testing.T) {
	env := exampleEnv(t)
	p, err := load(t, env, "compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var dyn struct {
		HTTP struct {
			Routers map[string]struct {
				EntryPoints []string `yaml:"entryPoints"`
				Service     string   `yaml:"service"`
			} `yaml:"routers"`
			Services map[string]struct {
				LoadBalancer struct {
					Servers []struct {
						URL string `yaml:"url"`
					} `yaml:"servers"`
					HealthCheck struct {
						Path string `yaml:"path"`
					} `yaml:"healthCheck"`
				} `yaml:"loadBalancer"`
			} `yaml:"services"`
		} `yaml:"http"`
	}
	data, err := os.ReadFile("traefik.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &dyn); err != nil {
		t.Fatal(err)
	}
	tr := p.Services["traefik"]
	serve := p.Services["serve"]
	listen := serve.Command[slices.Index(serve.Command, "--listen")+1]
	_, port, _ := strings.Cut(listen, ":")
	want := fmt.Sprintf("http://serve:%s", port)
	if len(dyn.HTTP.Routers) == 0 {
		t.Fatal("traefik.yaml has no router")
	}
	for name, r := range dyn.HTTP.Routers {
		for _, ep := range r.EntryPoints {
			if !slices.Contains(tr.Command, "--entrypoints."+ep+".address=:8000") {
				t.Errorf("router %s: entry point %s is not Traefik's :8000 (%v)", name, ep, tr.Command)
			}
		}
		svc, ok := dyn.HTTP.Services[r.Service]
		if !ok || len(svc.LoadBalancer.Servers) == 0 {
			t.Fatalf("router %s: service %q has no servers", name, r.Service)
		}
		for _, s := range svc.LoadBalancer.Servers {
			if s.URL != want {
				t.Errorf("router %s: server %s, want %s", name, s.URL, want)
			}
		}
		if svc.LoadBalancer.HealthCheck.Path != "/health/ready" {
			t.Errorf("router %s: health check %q, want /health/ready", name, svc.LoadBalancer.HealthCheck.Path)
		}
	}
	if len(tr.Ports) != 1 || tr.Ports[0].Target != 8000 || tr.Ports[0].Published != env["RAT_HTTP_PORT"] {
		t.Errorf("traefik ports %+v: want RAT_HTTP_PORT published to 8000", tr.Ports)
	}
}
