// Command kubeplay turns a built overlay of rat's Kubernetes manifests
// (kubectl kustomize deploy/k8s/overlays/local) into Pods that podman kube
// play (4.3) runs, for deploy/test/k8s.sh. Podman has no Services,
// StatefulSets, Jobs or PodDisruptionBudgets and mishandles Secrets, so:
//
//   - every Deployment, StatefulSet and Job becomes its Pods, named PREFIX +
//     the Kubernetes pod name without "rat-" (rat-minio-2 → rat-k8s-minio-2),
//     each its own hostname; podman's DNS answers those names on the network
//     the pods join;
//   - the host of a URL that names a Service (http://rat-minio:9000) becomes
//     the first pod behind it, and a StatefulSet's pods named through its
//     headless Service (rat-minio-{0...3}.rat-minio-hl) their podman names,
//     in environment values and arguments;
//   - envFrom and valueFrom are resolved to plain values from the overlay's
//     ConfigMaps and Secrets (the test's own generated secrets);
//   - ConfigMap volumes, emptyDirs and volume claims become host directories
//     under OUT/volumes, subPath mounts single files;
//   - probes and resources are dropped (podman would run httpGet probes with
//     curl inside the image, and the test's machines refuse cgroup limits);
//     k8s.sh checks health itself. Everything else is kept: images (after
//     -image), commands, args, working directory, security context.
//
// It writes OUT/data.yaml (StatefulSets), OUT/jobs.yaml and OUT/apps.yaml
// (Deployments), to be played in that order.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ratdata/rat/deploy/k8s"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "kubeplay:", err)
		os.Exit(1)
	}
}

// converter holds what the pods are made from.
type converter struct {
	prefix      string
	images      map[string]string // image name without tag → replacement
	maxReplicas int
	out         string
	configMaps  map[string]map[string]string
	secrets     map[string]map[string][]byte
	rewrites    []rewrite
	services    map[string]string // Service name → the pod that answers for it
}

type rewrite struct {
	re   *regexp.Regexp
	with string
}

type pod struct {
	stage string // data, jobs, apps
	name  string
	src   *corev1.PodTemplateSpec
	kind  string
	// claims are a StatefulSet's volumeClaimTemplates: a host directory
	// each, like an emptyDir that outlives the pod.
	claims []string
}

func run(args []string, stdin io.Reader) error {
	fs := flag.NewFlagSet("kubeplay", flag.ContinueOnError)
	in := fs.String("in", "-", "the built overlay (kubectl kustomize output); - for stdin")
	out := fs.String("out", "", "directory to write data.yaml, jobs.yaml, apps.yaml and volumes/ into (required)")
	prefix := fs.String("prefix", "rat-k8s-", "prefix of every pod name, replacing a leading rat-")
	maxReplicas := fs.Int("max-replicas", 0, "at most this many pods per Deployment (0: as many as it asks for)")
	var images, skip listFlag
	fs.Var(&images, "image", "NAME=IMAGE: run IMAGE wherever an image named NAME (any tag) is used; repeatable")
	fs.Var(&skip, "skip", "a workload (Deployment, StatefulSet or Job name) to leave out; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: kubeplay -out DIR [-in FILE] [-image NAME=IMAGE]... [-skip NAME]... [-max-replicas N]")
	}
	var data []byte
	var err error
	if *in == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 64<<20))
	} else {
		data, err = os.ReadFile(*in)
	}
	if err != nil {
		return err
	}
	objs, err := k8s.Decode(data)
	if err != nil {
		return err
	}
	c := &converter{prefix: *prefix, images: map[string]string{}, maxReplicas: *maxReplicas, out: *out,
		configMaps: map[string]map[string]string{}, secrets: map[string]map[string][]byte{}, services: map[string]string{}}
	for _, im := range images {
		name, img, ok := strings.Cut(im, "=")
		if !ok || name == "" || img == "" {
			return fmt.Errorf("-image %q: want NAME=IMAGE", im)
		}
		c.images[name] = img
	}
	return c.convert(objs, skip)
}

// podName is the pod's name under podman: PREFIX + the name without rat-.
func (c *converter) podName(name string) string { return c.prefix + strings.TrimPrefix(name, "rat-") }

func (c *converter) convert(objs []k8s.Object, skip []string) error {
	var pods []pod
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.ConfigMap:
			c.configMaps[o.Name] = v.Data
		case *corev1.Secret:
			c.secrets[o.Name] = v.Data
		}
		tpl, replicas, ok := k8s.PodSpec(o)
		if !ok || slices.Contains(skip, o.Name) {
			continue
		}
		switch o.Kind {
		case "Job":
			pods = append(pods, pod{stage: "jobs", name: c.podName(o.Name), src: tpl, kind: o.Kind})
		case "StatefulSet":
			sts := o.Value.(*appsv1.StatefulSet)
			var claims []string
			for _, vc := range sts.Spec.VolumeClaimTemplates {
				claims = append(claims, vc.Name)
			}
			for i := range replicas {
				pods = append(pods, pod{stage: "data", name: fmt.Sprintf("%s-%d", c.podName(o.Name), i), src: tpl, kind: o.Kind, claims: claims})
			}
			// rat-minio-{0...3}.rat-minio-hl and rat-minio-0.rat-minio-hl
			// name the pods themselves.
			c.rewrites = append(c.rewrites, rewrite{
				re:   regexp.MustCompile(`\b` + regexp.QuoteMeta(o.Name) + `-(\{[0-9.]+\}|[0-9]+)\.` + regexp.QuoteMeta(sts.Spec.ServiceName) + `\b`),
				with: c.podName(o.Name) + "-$1",
			})
		case "Deployment":
			if c.maxReplicas > 0 {
				replicas = min(replicas, int32(c.maxReplicas))
			}
			for i := range replicas {
				pods = append(pods, pod{stage: "apps", name: fmt.Sprintf("%s-%d", c.podName(o.Name), i), src: tpl, kind: o.Kind})
			}
		}
	}
	// A Service's name answers as the first pod it selects.
	for _, o := range objs {
		svc, ok := o.Value.(*corev1.Service)
		if !ok || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, p := range pods {
			if p.kind != "Job" && sel.Matches(labels.Set(p.src.Labels)) {
				c.services[o.Name] = p.name
				break
			}
		}
	}
	stages := map[string]*bytes.Buffer{"data": {}, "jobs": {}, "apps": {}}
	for _, p := range pods {
		out, err := c.pod(p)
		if err != nil {
			return fmt.Errorf("pod %s: %w", p.name, err)
		}
		b, err := yaml.Marshal(out)
		if err != nil {
			return err
		}
		buf := stages[p.stage]
		if buf.Len() > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	for stage, buf := range stages {
		if err := os.WriteFile(filepath.Join(c.out, stage+".yaml"), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// rewriteHosts applies the StatefulSet host rewrites to s and, when s is a
// URL whose host is a Service, names the pod behind it instead.
func (c *converter) rewriteHosts(s string) string {
	for _, r := range c.rewrites {
		s = r.re.ReplaceAllString(s, r.with)
	}
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || !slices.Contains([]string{"http", "https", "postgres", "postgresql"}, u.Scheme) {
		return s // s3://bucket/... names a bucket, not a host
	}
	if p, ok := c.services[u.Hostname()]; ok {
		if port := u.Port(); port != "" {
			p = net.JoinHostPort(p, port)
		}
		u.Host = p
		return u.String()
	}
	return s
}

// image maps an image through -image.
func (c *converter) image(img string) string {
	name := img
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		name = img[:i]
	}
	if r, ok := c.images[name]; ok {
		return r
	}
	return img
}

func (c *converter) pod(p pod) (*corev1.Pod, error) {
	spec := *p.src.Spec.DeepCopy()
	for _, cl := range p.claims {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: cl, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	vols, err := c.volumes(p.name, spec.Volumes)
	if err != nil {
		return nil, err
	}
	spec.Volumes = nil
	spec.Hostname = p.name
	spec.AutomountServiceAccountToken = nil
	if p.kind != "Job" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext != nil {
		spec.SecurityContext.SeccompProfile = nil
	}
	for _, list := range []*[]corev1.Container{&spec.InitContainers, &spec.Containers} {
		for i := range *list {
			ct := &(*list)[i]
			ct.Image = c.image(ct.Image)
			ct.StartupProbe, ct.LivenessProbe, ct.ReadinessProbe = nil, nil, nil
			ct.Resources = corev1.ResourceRequirements{}
			ct.Ports = nil
			for j := range ct.Args {
				ct.Args[j] = c.rewriteHosts(ct.Args[j])
			}
			for j := range ct.Command {
				ct.Command[j] = c.rewriteHosts(ct.Command[j])
			}
			env, err := c.env(ct)
			if err != nil {
				return nil, fmt.Errorf("container %s: %w", ct.Name, err)
			}
			ct.Env, ct.EnvFrom = env, nil
			var mounts []corev1.VolumeMount
			for _, m := range ct.VolumeMounts {
				v, ok := vols[m.Name]
				if !ok {
					return nil, fmt.Errorf("container %s mounts an unknown volume %s", ct.Name, m.Name)
				}
				if m.SubPath != "" {
					// One file (or directory) of the volume, as a volume of its own.
					name := fmt.Sprintf("%s-sub%d", m.Name, len(spec.Volumes))
					path := filepath.Join(v.HostPath.Path, m.SubPath)
					typ := corev1.HostPathFile
					if st, err := os.Stat(path); err == nil && st.IsDir() {
						typ = corev1.HostPathDirectory
					}
					spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &typ}}})
					m.Name, m.SubPath = name, ""
				} else if !slices.ContainsFunc(spec.Volumes, func(x corev1.Volume) bool { return x.Name == m.Name }) {
					spec.Volumes = append(spec.Volumes, v)
				}
				mounts = append(mounts, m)
			}
			ct.VolumeMounts = mounts
		}
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: p.src.Labels},
		Spec:       spec,
	}, nil
}

// env resolves envFrom and valueFrom into plain values, hosts rewritten.
func (c *converter) env(ct *corev1.Container) ([]corev1.EnvVar, error) {
	var env []corev1.EnvVar
	for _, from := range ct.EnvFrom {
		if from.ConfigMapRef == nil {
			return nil, fmt.Errorf("envFrom other than a ConfigMap")
		}
		data, ok := c.configMaps[from.ConfigMapRef.Name]
		if !ok {
			return nil, fmt.Errorf("no ConfigMap %s", from.ConfigMapRef.Name)
		}
		for _, k := range slices.Sorted(mapKeys(data)) {
			env = append(env, corev1.EnvVar{Name: from.Prefix + k, Value: c.rewriteHosts(data[k])})
		}
	}
	for _, e := range ct.Env {
		if vf := e.ValueFrom; vf != nil {
			var val string
			var found bool
			var optional *bool
			switch {
			case vf.SecretKeyRef != nil:
				var b []byte
				b, found = c.secrets[vf.SecretKeyRef.Name][vf.SecretKeyRef.Key]
				val, optional = string(b), vf.SecretKeyRef.Optional
			case vf.ConfigMapKeyRef != nil:
				val, found = c.configMaps[vf.ConfigMapKeyRef.Name][vf.ConfigMapKeyRef.Key]
				optional = vf.ConfigMapKeyRef.Optional
			default:
				return nil, fmt.Errorf("%s: only secretKeyRef and configMapKeyRef are resolved", e.Name)
			}
			if !found {
				if optional != nil && *optional {
					continue
				}
				return nil, fmt.Errorf("%s: the referenced key does not exist", e.Name)
			}
			e = corev1.EnvVar{Name: e.Name, Value: val}
		}
		e.Value = c.rewriteHosts(e.Value)
		// A later entry wins, as in Kubernetes.
		env = slices.DeleteFunc(env, func(x corev1.EnvVar) bool { return x.Name == e.Name })
		env = append(env, e)
	}
	return env, nil
}

// volumes makes a host directory for each volume of pod name: ConfigMap
// contents written out, emptyDirs and claims empty (mode 1777, so any user
// the pod runs as may write).
func (c *converter) volumes(name string, vols []corev1.Volume) (map[string]corev1.Volume, error) {
	out := map[string]corev1.Volume{}
	dirType := corev1.HostPathDirectory
	for _, v := range vols {
		dir, err := filepath.Abs(filepath.Join(c.out, "volumes", name, v.Name))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		switch {
		case v.ConfigMap != nil:
			data, ok := c.configMaps[v.ConfigMap.Name]
			if !ok {
				return nil, fmt.Errorf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
			}
			files := map[string]string{}
			if len(v.ConfigMap.Items) == 0 {
				for k, val := range data {
					files[k] = val
				}
			}
			for _, it := range v.ConfigMap.Items {
				files[it.Path] = data[it.Key]
			}
			for p, val := range files {
				f := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					return nil, err
				}
				if err := os.WriteFile(f, []byte(val), 0o644); err != nil {
					return nil, err
				}
			}
		case v.EmptyDir != nil:
			if err := os.Chmod(dir, 0o1777); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("volume %s: only ConfigMap and emptyDir volumes and claim templates are converted", v.Name)
		}
		out[v.Name] = corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType}}}
	}
	return out, nil
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
