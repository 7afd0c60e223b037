package k8s

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/testenv"
)

// profileMemory is the memory limit of a pod per profile: the compose
// stack's and the seed's 4/20/64/128 GB (the profile's DuckDB memory plus
// room for everything else). CPUs are the profile's DuckDB threads.
var profileMemory = map[string]string{"tiny": "4Gi", "small": "20Gi", "medium": "64Gi", "large": "128Gi"}

// overlays builds every overlay from a copy of this directory, the local
// one with the secrets its secrets.sh makes (never committed), and returns
// the objects by overlay name and the local secrets. Built once per run.
func overlays(t *testing.T) (map[string][]Object, map[string]string) {
	t.Helper()
	testenv.Tool(t, "kubectl")
	b := buildAll()
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.objs, b.secrets
}

type builtOverlays struct {
	objs    map[string][]Object
	secrets map[string]string
	err     error
}

var buildAll = sync.OnceValue(func() (b builtOverlays) {
	dir, err := os.MkdirTemp("", "rat-k8s-test-")
	if err != nil {
		return builtOverlays{err: err}
	}
	defer os.RemoveAll(dir)
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		return builtOverlays{err: err}
	}
	local := filepath.Join(dir, "overlays", "local")
	_ = os.Remove(filepath.Join(local, "secrets.env")) // a developer's own
	if out, err := exec.Command("sh", filepath.Join(local, "secrets.sh")).CombinedOutput(); err != nil {
		return builtOverlays{err: fmt.Errorf("overlays/local/secrets.sh: %v\n%s", err, out)}
	}
	if b.secrets, err = readEnv(filepath.Join(local, "secrets.env")); err != nil {
		return builtOverlays{err: err}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "overlays"))
	if err != nil {
		return builtOverlays{err: err}
	}
	b.objs = map[string][]Object{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		objs, err := Build(filepath.Join(dir, "overlays", e.Name()))
		if err != nil {
			return builtOverlays{err: fmt.Errorf("overlay %s: %w", e.Name(), err)}
		}
		b.objs[e.Name()] = objs
	}
	for _, want := range []string{"local", "production", "tiny", "small", "medium", "large", "spot", "ingress"} {
		if b.objs[want] == nil {
			return builtOverlays{err: fmt.Errorf("no overlay %s", want)}
		}
	}
	return b
})

func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

// isRat reports whether a container runs rat's image.
func isRat(c corev1.Container) bool { return strings.HasPrefix(c.Image, "ghcr.io/ratdata/rat:") }

// longRunning: Deployments and StatefulSets, whose containers need probes.
func longRunning(o Object) bool { return o.Kind == "Deployment" || o.Kind == "StatefulSet" }

// TestOverlaysBuildAndDecodeStrictly: kubectl kustomize builds every
// overlay and every object decodes into its k8s.io/api type with no
// unknown field; a misplaced field fails.
func TestOverlaysBuildAndDecodeStrictly(t *testing.T) {
	built, _ := overlays(t)
	for name, objs := range built {
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.Kind]++
		}
		if kinds["Deployment"] != 2 || kinds["Job"] < 1 || kinds["PodDisruptionBudget"] < 2 {
			t.Errorf("overlay %s: kinds %v: want the serve and worker Deployments, their PDBs and the migration Job", name, kinds)
		}
	}
	bad := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: c, image: i, livenessprobe: {}}]\n"
	if _, err := Decode([]byte(bad)); err == nil || !strings.Contains(err.Error(), "livenessprobe") {
		t.Errorf("an unknown field decoded: %v", err)
	}
}

// TestWorkloadInvariants: every container of every overlay has limits and
// requests, every long-running one its three probes; images are pinned;
// rat runs as a non-root user on a read-only root filesystem with /tmp and
// its workspace on emptyDirs; and the grace period covers the shutdown
// timeout given to rat serve and rat worker.
func TestWorkloadInvariants(t *testing.T) {
	built, _ := overlays(t)
	for name, objs := range built {
		for _, o := range objs {
			tpl, replicas, ok := PodSpec(o)
			if !ok {
				continue
			}
			where := fmt.Sprintf("overlay %s, %s %s", name, o.Kind, o.Name)
			spec := tpl.Spec
			if replicas < 1 {
				t.Errorf("%s: %d replicas", where, replicas)
			}
			for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
				where := where + ", container " + c.Name
				if !pinned(c.Image) {
					t.Errorf("%s: image %q is not pinned to a tag or digest (no :latest)", where, c.Image)
				}
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					lim, req := c.Resources.Limits[r], c.Resources.Requests[r]
					if lim.IsZero() || req.IsZero() {
						t.Errorf("%s: %s request %v, limit %v: set both", where, r, req.String(), lim.String())
					} else if req.Cmp(lim) > 0 {
						t.Errorf("%s: %s request %s above the limit %s", where, r, req.String(), lim.String())
					}
				}
				if longRunning(o) && (c.StartupProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe == nil) {
					t.Errorf("%s: startup, liveness and readiness probes are required", where)
				}
				if isRat(c) {
					checkRatContainer(t, where, spec, c)
				}
			}
		}
	}
}

// pinned: a tag other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	return colon > slash && image[colon+1:] != "latest" && image[colon+1:] != ""
}

func checkRatContainer(t *testing.T, where string, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: the pod must run as a non-root user (runAsNonRoot, runAsUser)", where)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: want readOnlyRootFilesystem and no privilege escalation", where)
	}
	emptyDirs := map[string]bool{}
	for _, v := range spec.Volumes {
		if v.EmptyDir != nil {
			emptyDirs[v.Name] = true
		}
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if emptyDirs[m.Name] {
			mounted[m.MountPath] = true
		}
	}
	if !mounted["/tmp"] || !mounted[c.WorkingDir] || c.WorkingDir == "" {
		t.Errorf("%s: /tmp and the working directory %q (the workspace: .rat/cache and .rat/tmp) must be writable emptyDirs", where, c.WorkingDir)
	}
	if len(c.Args) == 0 || (c.Args[0] != "serve" && c.Args[0] != "worker") {
		return
	}
	timeout := 30 * time.Second // rat's default --shutdown-timeout
	for i, a := range c.Args {
		v, ok := strings.CutPrefix(a, "--shutdown-timeout=")
		if a == "--shutdown-timeout" && i+1 < len(c.Args) {
			v, ok = c.Args[i+1], true
		}
		if ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: --shutdown-timeout %q: %v", where, v, err)
			}
			timeout = d
		}
	}
	grace := 30 * time.Second // Kubernetes' default
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if grace < timeout+5*time.Second {
		t.Errorf("%s: terminationGracePeriodSeconds %s: want at least --shutdown-timeout %s plus 5s to close", where, grace, timeout)
	}
}

// TestPDBsMatchPods: every PodDisruptionBudget selects the pods of exactly
// one workload, and every workload with more than one replica has one.
func TestPDBsMatchPods(t *testing.T) {
	built, _ := overlays(t)
	for name, objs := range built {
		covered := map[string]bool{}
		for _, o := range objs {
			pdb, ok := o.Value.(*policyv1.PodDisruptionBudget)
			if !ok {
				continue
			}
			sel, err := metav1LabelSelector(pdb)
			if err != nil {
				t.Fatalf("overlay %s: PDB %s: %v", name, o.Name, err)
			}
			var matched []string
			for _, w := range objs {
				tpl, _, ok := PodSpec(w)
				if ok && w.Kind != "Job" && w.Namespace == o.Namespace && sel.Matches(labels.Set(tpl.Labels)) {
					matched = append(matched, w.Name)
					covered[w.Kind+"/"+w.Name] = true
				}
			}
			if len(matched) != 1 {
				t.Errorf("overlay %s: PDB %s selects the pods of %v: want exactly one workload", name, o.Name, matched)
			}
		}
		for _, w := range objs {
			if _, replicas, ok := PodSpec(w); ok && w.Kind != "Job" && replicas > 1 && !covered[w.Kind+"/"+w.Name] {
				t.Errorf("overlay %s: %s %s has %d replicas and no PodDisruptionBudget", name, w.Kind, w.Name, replicas)
			}
		}
	}
}

func metav1LabelSelector(pdb *policyv1.PodDisruptionBudget) (labels.Selector, error) {
	if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 {
		return nil, fmt.Errorf("no selector")
	}
	return labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels), nil
}

// secretName matches environment variables that carry a secret.
var secretName = regexp.MustCompile(`(?i)(password|secret|token|access_key|catalog_url)`)

// TestNoSecretLiterals: no overlay writes a secret into a manifest.
// Containers take secrets only from Secret references; only the local
// overlay has a Secret object, generated from the secrets.env its
// secrets.sh makes on the user's machine (the values the test made), and
// no ConfigMap carries a secret-looking key.
func TestNoSecretLiterals(t *testing.T) {
	built, secrets := overlays(t)
	for name, objs := range built {
		for _, o := range objs {
			switch v := o.Value.(type) {
			case *corev1.Secret:
				if name != "local" {
					t.Errorf("overlay %s has Secret %s: secrets are created in the cluster, not committed", name, o.Name)
					continue
				}
				if len(v.Data) != len(secrets) || len(v.StringData) != 0 {
					t.Errorf("local Secret %s: keys %v, want those of secrets.env", o.Name, slices.Sorted(mapKeys(v.Data)))
				}
				for k, val := range v.Data {
					if secrets[k] == "" || string(val) != secrets[k] {
						t.Errorf("local Secret %s: %s does not come from secrets.env", o.Name, k)
					}
				}
			case *corev1.ConfigMap:
				for k := range v.Data {
					if secretName.MatchString(k) {
						t.Errorf("overlay %s: ConfigMap %s has %s: put it in the Secret", name, o.Name, k)
					}
				}
			}
			tpl, _, ok := PodSpec(o)
			if !ok {
				continue
			}
			for _, c := range append(slices.Clone(tpl.Spec.InitContainers), tpl.Spec.Containers...) {
				for _, e := range c.Env {
					if secretName.MatchString(e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
						t.Errorf("overlay %s, %s %s, container %s: %s must come from a secretKeyRef", name, o.Kind, o.Name, c.Name, e.Name)
					}
				}
			}
		}
	}
	// Nothing committed holds a value of a secret the generator made.
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "secrets.env" {
			return err
		}
		data, err := os.ReadFile(path)
		for k, v := range secrets {
			if strings.Contains(string(data), v) {
				t.Errorf("%s holds the value of %s", path, k)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSpotOnlyOnWorkers: tolerations and node affinity appear on the
// worker pods of the spot overlay and nowhere else.
func TestSpotOnlyOnWorkers(t *testing.T) {
	built, _ := overlays(t)
	for name, objs := range built {
		for _, o := range objs {
			tpl, _, ok := PodSpec(o)
			if !ok {
				continue
			}
			spot := len(tpl.Spec.Tolerations) > 0 || (tpl.Spec.Affinity != nil && tpl.Spec.Affinity.NodeAffinity != nil)
			want := name == "spot" && o.Name == "rat-worker"
			if spot != want {
				t.Errorf("overlay %s, %s %s: spot scheduling %v, want %v (workers of the spot overlay only)", name, o.Kind, o.Name, spot, want)
			}
			if want && tpl.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
				t.Errorf("overlay spot: workers must prefer spot nodes, not require them")
			}
		}
	}
}

// TestProfiles: each profile overlay sets RAT_PROFILE and sizes serve and
// the workers for it: its memory and the profile's DuckDB threads as CPUs.
func TestProfiles(t *testing.T) {
	built, _ := overlays(t)
	for _, name := range config.ProfileNames() {
		p, err := config.LookupProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		objs := built[name]
		if objs == nil {
			t.Errorf("no overlay for profile %s", name)
			continue
		}
		if got := envOf(objs)["RAT_PROFILE"]; got != name {
			t.Errorf("overlay %s: RAT_PROFILE=%q", name, got)
		}
		for _, o := range objs {
			d, ok := o.Value.(*appsv1.Deployment)
			if !ok {
				continue
			}
			lim := d.Spec.Template.Spec.Containers[0].Resources.Limits
			if mem := lim[corev1.ResourceMemory]; mem.Cmp(resource.MustParse(profileMemory[name])) != 0 {
				t.Errorf("overlay %s, %s: memory limit %s, want %s", name, o.Name, mem.String(), profileMemory[name])
			}
			if cpu := lim[corev1.ResourceCPU]; cpu.Cmp(*resource.NewQuantity(int64(p.DuckDBThreads), resource.DecimalSI)) != 0 {
				t.Errorf("overlay %s, %s: CPU limit %s, want the profile's %d DuckDB threads", name, o.Name, cpu.String(), p.DuckDBThreads)
			}
			if mem := lim[corev1.ResourceMemory]; mem.Value() < int64(p.DuckDBMemoryMB)<<20 {
				t.Errorf("overlay %s, %s: memory limit %s below the profile's DuckDB memory", name, o.Name, mem.String())
			}
		}
	}
}

// envOf is the rat-env ConfigMap of an overlay.
func envOf(objs []Object) map[string]string {
	for _, o := range objs {
		if cm, ok := o.Value.(*corev1.ConfigMap); ok && strings.HasPrefix(o.Name, "rat-env") {
			return cm.Data
		}
	}
	return nil
}

// TestReferencesResolve: every ConfigMap and Secret a pod names exists in
// the overlay (the local one) or is the Secret rat the README tells you to
// create; pipelines mapped with items cover every key of their ConfigMap;
// the Ingress routes to the serve Service through Traefik with TLS; KEDA
// scales the worker Deployment on rat's queue-depth metric.
func TestReferencesResolve(t *testing.T) {
	built, _ := overlays(t)
	metric, err := os.ReadFile("../../internal/metrics/scrape.go")
	if err != nil {
		t.Fatal(err)
	}
	for name, objs := range built {
		byName := map[string]Object{}
		for _, o := range objs {
			byName[o.Kind+"/"+o.Name] = o
		}
		for _, o := range objs {
			if tpl, _, ok := PodSpec(o); ok {
				checkRefs(t, name, o, tpl.Spec, byName)
			}
			switch v := o.Value.(type) {
			case *networkingv1.Ingress:
				if v.Spec.IngressClassName == nil || *v.Spec.IngressClassName != "traefik" || len(v.Spec.TLS) == 0 {
					t.Errorf("overlay %s: Ingress %s: want class traefik and TLS", name, o.Name)
				}
				for _, r := range v.Spec.Rules {
					for _, p := range r.HTTP.Paths {
						if _, ok := byName["Service/"+p.Backend.Service.Name]; !ok {
							t.Errorf("overlay %s: Ingress %s routes to a missing Service %s", name, o.Name, p.Backend.Service.Name)
						}
					}
				}
			case *ScaledObject:
				if _, ok := byName["Deployment/"+v.Spec.ScaleTargetRef.Name]; !ok || v.Spec.ScaleTargetRef.Name != "rat-worker" {
					t.Errorf("overlay %s: ScaledObject scales %q, want the rat-worker Deployment", name, v.Spec.ScaleTargetRef.Name)
				}
				for _, tr := range v.Spec.Triggers {
					m := regexp.MustCompile(`rat_[a-z_]+`).FindString(tr.Metadata["query"])
					if tr.Type != "prometheus" || m == "" || !strings.Contains(string(metric), `"`+m+`"`) || tr.Metadata["threshold"] == "" || tr.Metadata["serverAddress"] == "" {
						t.Errorf("overlay %s: trigger %+v: want a prometheus query on a metric of internal/metrics, a threshold and a server", name, tr)
					}
				}
			}
		}
	}
	if _, ok := findKind(built["production"], "ScaledObject"); !ok {
		t.Errorf("overlay production: no ScaledObject for the workers")
	}
	if _, ok := findKind(built["ingress"], "Ingress"); !ok {
		t.Errorf("overlay ingress: no Ingress")
	}
}

func findKind(objs []Object, kind string) (Object, bool) {
	for _, o := range objs {
		if o.Kind == kind {
			return o, true
		}
	}
	return Object{}, false
}

func checkRefs(t *testing.T, overlay string, o Object, spec corev1.PodSpec, byName map[string]Object) {
	t.Helper()
	secret := func(name string, optional *bool) {
		if _, ok := byName["Secret/"+name]; ok || (overlay != "local" && name == "rat") || (optional != nil && *optional) {
			return
		}
		t.Errorf("overlay %s, %s %s: Secret %s does not exist", overlay, o.Kind, o.Name, name)
	}
	for _, c := range spec.Containers {
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				if _, ok := byName["ConfigMap/"+e.ConfigMapRef.Name]; !ok {
					t.Errorf("overlay %s, %s %s: ConfigMap %s does not exist", overlay, o.Kind, o.Name, e.ConfigMapRef.Name)
				}
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				secret(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional)
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm, ok := byName["ConfigMap/"+v.ConfigMap.Name]
		if !ok {
			t.Errorf("overlay %s, %s %s: volume %s: ConfigMap %s does not exist", overlay, o.Kind, o.Name, v.Name, v.ConfigMap.Name)
			continue
		}
		data := cm.Value.(*corev1.ConfigMap).Data
		if len(v.ConfigMap.Items) == 0 {
			for k := range data {
				if strings.Contains(k, "__") {
					t.Errorf("overlay %s, %s %s: key %s of ConfigMap %s is a path: map it with items", overlay, o.Kind, o.Name, k, cm.Name)
				}
			}
			continue
		}
		mapped := map[string]bool{}
		for _, it := range v.ConfigMap.Items {
			if _, ok := data[it.Key]; !ok {
				t.Errorf("overlay %s, %s %s: volume %s maps the missing key %s", overlay, o.Kind, o.Name, v.Name, it.Key)
			}
			if it.Path != strings.ReplaceAll(it.Key, "__", "/") {
				t.Errorf("overlay %s, %s %s: key %s goes to %s, want %s", overlay, o.Kind, o.Name, it.Key, it.Path, strings.ReplaceAll(it.Key, "__", "/"))
			}
			mapped[it.Key] = true
		}
		for k := range data {
			if !mapped[k] {
				t.Errorf("overlay %s, %s %s: key %s of ConfigMap %s is not mapped by the volume's items: the pods would not see it", overlay, o.Kind, o.Name, k, cm.Name)
			}
		}
	}
}
