// Package k8s reads rat's Kubernetes manifests (this directory, kustomize)
// the way a cluster would: kubectl kustomize builds an overlay and every
// object is decoded strictly into its k8s.io/api type, so a misspelt or
// misplaced field is an error instead of being dropped. The tests of this
// package check the invariants of every overlay; kubeplay turns the local
// overlay into what podman kube play runs (deploy/test/k8s.sh).
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one object of a built overlay: its kind and name and the typed
// value (*appsv1.Deployment, *corev1.ConfigMap, *ScaledObject, ...).
type Object struct {
	Kind, Name, Namespace string
	Value                 any
}

// ScaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject that
// rat's manifests use; decoding it strictly refuses any other field.
type ScaledObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metaOnly          `json:"metadata"`
	Spec       ScaledObjectSpec  `json:"spec"`
	Status     map[string]string `json:"status,omitempty"`
}

type metaOnly struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ScaledObjectSpec is KEDA's spec, the fields rat sets.
type ScaledObjectSpec struct {
	ScaleTargetRef struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind,omitempty"`
		Name       string `json:"name"`
	} `json:"scaleTargetRef"`
	MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
	MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
	PollingInterval *int32 `json:"pollingInterval,omitempty"`
	CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
	Triggers        []struct {
		Type     string            `json:"type"`
		Metadata map[string]string `json:"metadata"`
	} `json:"triggers"`
}

// newValue returns a pointer to the type of apiVersion/kind.
func newValue(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, nil
	case "keda.sh/v1alpha1 ScaledObject":
		return &ScaledObject{}, nil
	}
	return nil, fmt.Errorf("kind %s %s is not one rat's manifests use: add it to newValue", apiVersion, kind)
}

// Build runs kubectl kustomize on dir and decodes its output with Decode.
func Build(dir string) ([]Object, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("kubectl", "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return Decode(out)
}

// Decode splits a multi-document YAML stream and decodes every document
// strictly (unknown or duplicate fields are errors) into its type.
func Decode(stream []byte) ([]Object, error) {
	var objs []Object
	for i, doc := range splitDocs(stream) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		v, err := newValue(head.APIVersion, head.Kind)
		if err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, head.Metadata.Name, err)
		}
		if err := decodeStrict(doc, v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, err)
		}
		objs = append(objs, Object{Kind: head.Kind, Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, Value: v})
	}
	if len(objs) == 0 {
		return nil, errors.New("no objects")
	}
	return objs, nil
}

// decodeStrict decodes one YAML document into v as the API server does:
// field names match case-sensitively, and unknown or duplicate fields are
// errors (sigs.k8s.io/json; encoding/json would accept "livenessprobe").
func decodeStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// splitDocs returns the non-empty documents of a YAML stream.
func splitDocs(stream []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(cur.Bytes())) > 0 {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for line := range bytes.Lines(stream) {
		if bytes.Equal(bytes.TrimRight(line, "\r\n"), []byte("---")) {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}

// PodSpec returns the pod template of a workload (Deployment, StatefulSet,
// Job) and its replica count (1 for a Job); ok is false for other kinds.
func PodSpec(o Object) (spec *corev1.PodTemplateSpec, replicas int32, ok bool) {
	switch v := o.Value.(type) {
	case *appsv1.Deployment:
		return &v.Spec.Template, replicasOf(v.Spec.Replicas), true
	case *appsv1.StatefulSet:
		return &v.Spec.Template, replicasOf(v.Spec.Replicas), true
	case *batchv1.Job:
		return &v.Spec.Template, 1, true
	}
	return nil, 0, false
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
