// Command flux-ssa is the "Flux" peer of plumb's apply benchmark
// (agent/benches/apply.rs): it drives github.com/fluxcd/pkg/ssa, the apply
// engine of Flux's kustomize-controller, the way kustomize-controller's
// reconciler does, and prints what three reconciles cost as JSON:
//
//  1. cold: the first reconcile of the objects (nothing in the cluster yet);
//  2. steady: the periodic reconcile with nothing changed (kustomize-controller
//     re-applies every spec.interval, whether or not Git moved);
//  3. changed: a reconcile after one object's data changed.
//
// For each it reports wall time and the API requests sent, counted by a
// wrapping http.RoundTripper (so client-side throttling shows in the time,
// and every GET, dry-run and write is counted).
//
// What is mirrored, from kustomize-controller (internal/controller/
// kustomization_controller.go, main.go, internal/features/features.go and
// internal/inventory/inventory.go) and fluxcd/pkg (runtime/client/client.go):
//
//   - client QPS/burst: runtime/client Options defaults (--kube-api-qps=50,
//     --kube-api-burst=100), and GetConfigOrDie's rule that disables
//     client-side throttling (QPS=-1, Burst=-1) when the API server has
//     Priority and Fairness enabled;
//   - ResourceManager: owner {Field: "kustomize-controller", Group:
//     "kustomize.toolkit.fluxcd.io"}, SetOwnerLabels with the Kustomization's
//     name and namespace, SetConcurrency(--concurrent-ssa, default 4);
//   - the status poller: DisableStatusPollerCache is on by default
//     (features.go), so the poller reads each object directly
//     (clusterreader.NewDirectClusterReader);
//   - apply(): normalize.UnstructuredList, ssa.DefaultApplyOptions with
//     Force=spec.force (default false), its ExclusionSelector,
//     IfNotPresentSelector and ForceSelector, and Cleanup of the kubectl
//     last-applied annotation, the deprecated fluxcd.io annotations and labels
//     and the kubectl / before-first-apply / kustomize-controller Update field
//     managers; then ApplyAllStaged;
//   - the inventory: the change set without skipped entries, diffed against
//     the previous inventory (object.ObjMetadataSet.Diff, as inventory.Diff);
//   - prune(): DeleteAll of the stale objects with background propagation,
//     Inclusions = the owner labels, Exclusions = prune/reconcile disabled;
//   - checkHealth() with spec.wait=true: WaitForSetWithContext of the whole
//     change set, Interval 5s, Timeout = spec.timeout (default: spec.interval),
//     FailFast on (DisableFailFastBehavior is off by default).
//
// Not mirrored (so Flux's real cost is somewhat higher than measured here):
// kustomize-controller also patches its Kustomization's status several times
// per reconcile, downloads the source artifact from source-controller, runs
// kustomize build and posts events. The inventory, which it keeps in the
// Kustomization's status, is kept here in memory and written once per
// reconcile as one ConfigMap (one request, standing in for the status patch).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/fluxcd/cli-utils/pkg/flowcontrol"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/clusterreader"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/normalize"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
)

const (
	// kustomize-controller's controllerName and its API group.
	controllerName = "kustomize-controller"
	kustomizeGroup = "kustomize.toolkit.fluxcd.io"
	// Values of kustomize-controller's API (api/v1): DisabledValue,
	// IgnoreValue, IfNotPresentValue, EnabledValue, MergeValue.
	disabledValue     = "disabled"
	ignoreValue       = "ignore"
	ifNotPresentValue = "IfNotPresent"
	enabledValue      = "enabled"
	mergeValue        = "merge"
)

// counter is an http.RoundTripper that counts the requests it sends, by kind.
type counter struct {
	next   http.RoundTripper
	mu     sync.Mutex
	byKind map[string]int
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := req.Method
	if req.URL.Query().Get("dryRun") != "" {
		kind += " dry-run"
	}
	c.mu.Lock()
	c.byKind[kind]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// take returns the counts since the last call and resets them.
func (c *counter) take() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, n := range c.byKind {
		total += n
	}
	byKind := c.byKind
	c.byKind = map[string]int{}
	return total, byKind
}

// Measure is what one reconcile cost.
type Measure struct {
	Seconds  float64        `json:"seconds"`
	Requests int            `json:"requests"`
	ByKind   map[string]int `json:"requests_by_kind"`
	Applied  int            `json:"objects_changed"`
	Pruned   int            `json:"objects_pruned"`
}

// Report is the program's output.
type Report struct {
	Objects    int     `json:"objects"`
	QPS        float32 `json:"client_qps"`
	Burst      int     `json:"client_burst"`
	Concurrent int     `json:"concurrent_ssa"`
	Wait       bool    `json:"wait"`
	Cold       Measure `json:"cold"`
	Steady     Measure `json:"steady"`
	Changed    Measure `json:"one_changed"`
}

// reconciler holds what kustomize-controller keeps between reconciles of one
// Kustomization: its client, poller and last inventory.
type reconciler struct {
	client        client.Client
	poller        *polling.StatusPoller
	name          string
	namespace     string
	concurrentSSA int
	wait          bool
	timeout       time.Duration
	inventory     object.ObjMetadataSet
	versions      map[object.ObjMetadata]string
}

func main() {
	var (
		objectsPath = flag.String("objects", "", "multi-document YAML file of the objects to apply")
		kubeconfig  = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
		namespace   = flag.String("namespace", "flux-bench", "the Kustomization's namespace, also its targetNamespace for objects without one")
		name        = flag.String("name", "bench", "the Kustomization's name")
		// kustomize-controller's --kube-api-qps / --kube-api-burst defaults (fluxcd/pkg runtime/client).
		qps   = flag.Float64("kube-api-qps", 50, "client QPS (kustomize-controller default)")
		burst = flag.Int("kube-api-burst", 100, "client burst (kustomize-controller default)")
		// kustomize-controller's --concurrent-ssa default.
		concurrentSSA = flag.Int("concurrent-ssa", 4, "concurrent server-side apply operations (kustomize-controller default)")
		wait          = flag.Bool("wait", true, "spec.wait: health-check every applied object after apply")
		interval      = flag.Duration("interval", 10*time.Minute, "spec.interval; the health-check timeout defaults to it")
	)
	flag.Parse()
	if err := run(*objectsPath, *kubeconfig, *namespace, *name, float32(*qps), *burst, *concurrentSSA, *wait, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "flux-ssa:", err)
		os.Exit(1)
	}
}

func run(objectsPath, kubeconfig, namespace, name string, qps float32, burst, concurrentSSA int, wait bool, interval time.Duration) error {
	ctx := context.Background()
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	// fluxcd/pkg runtime/client GetConfigOrDie: no client-side rate limit
	// when the server has Priority and Fairness, the flags otherwise.
	if enabled, err := flowcontrol.IsEnabled(ctx, config); err == nil && enabled {
		config.QPS, config.Burst = -1, -1
	} else {
		config.QPS, config.Burst = qps, burst
	}
	requests := &counter{byKind: map[string]int{}}
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		requests.next = next
		return requests
	})
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(config, httpClient)
	if err != nil {
		return err
	}
	kubeClient, err := client.New(config, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return err
	}
	// main.go: DisableStatusPollerCache (on by default) selects the direct
	// cluster reader; getClientAndPoller builds the poller from the client.
	poller := polling.NewStatusPoller(kubeClient, mapper, polling.Options{
		ClusterReaderFactory: engine.ClusterReaderFactoryFunc(clusterreader.NewDirectClusterReader),
	})
	r := &reconciler{
		client: kubeClient, poller: poller, name: name, namespace: namespace,
		concurrentSSA: concurrentSSA, wait: wait, timeout: interval,
		versions: map[object.ObjMetadata]string{},
	}

	text, err := os.ReadFile(objectsPath)
	if err != nil {
		return fmt.Errorf("objects %s: %w", objectsPath, err)
	}
	requests.take() // the flow-control probe is the controller's start-up, not a reconcile
	report := Report{QPS: config.QPS, Burst: config.Burst, Concurrent: concurrentSSA, Wait: wait}

	measure := func(label string, build func() ([]*unstructured.Unstructured, error)) (Measure, error) {
		started := time.Now()
		// kustomize-controller reads the build output anew on every reconcile.
		objects, err := build()
		if err != nil {
			return Measure{}, err
		}
		report.Objects = len(objects)
		applied, pruned, err := r.reconcile(ctx, objects)
		if err != nil {
			return Measure{}, fmt.Errorf("%s reconcile: %w", label, err)
		}
		total, byKind := requests.take()
		return Measure{Seconds: time.Since(started).Seconds(), Requests: total, ByKind: byKind, Applied: applied, Pruned: pruned}, nil
	}
	read := func(text string) func() ([]*unstructured.Unstructured, error) {
		return func() ([]*unstructured.Unstructured, error) {
			return ssautil.ReadObjects(strings.NewReader(text))
		}
	}
	if report.Cold, err = measure("cold", read(string(text))); err != nil {
		return err
	}
	if report.Steady, err = measure("steady", read(string(text))); err != nil {
		return err
	}
	changeOne := func() ([]*unstructured.Unstructured, error) {
		objects, err := ssautil.ReadObjects(strings.NewReader(string(text)))
		if err != nil || len(objects) == 0 {
			return objects, err
		}
		// One object changed in Git: a new annotation on the first one.
		annotations := objects[0].GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations["bench/changed"] = "yes"
		objects[0].SetAnnotations(annotations)
		return objects, nil
	}
	if report.Changed, err = measure("one-changed", changeOne); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(report)
}

// reconcile is kustomize-controller's reconcile() from the parsed build
// output on: apply, inventory, prune, health. It returns how many objects
// were created or configured and how many were pruned.
func (r *reconciler) reconcile(ctx context.Context, objects []*unstructured.Unstructured) (int, int, error) {
	// kustomize's targetNamespace, for objects that have none.
	for _, o := range objects {
		if o.GetNamespace() == "" {
			o.SetNamespace(r.namespace)
		}
	}
	manager := ssa.NewResourceManager(r.client, r.poller, ssa.Owner{Field: controllerName, Group: kustomizeGroup})
	manager.SetOwnerLabels(objects, r.name, r.namespace)
	manager.SetConcurrency(r.concurrentSSA)

	changeSetWithSkipped, err := r.apply(ctx, manager, objects)
	if err != nil {
		return 0, 0, err
	}
	changeSet := ssa.NewChangeSet()
	skipped := object.ObjMetadataSet{}
	applied := 0
	for _, entry := range changeSetWithSkipped.Entries {
		switch entry.Action {
		case ssa.SkippedAction:
			skipped = append(skipped, entry.ObjMetadata)
			continue
		case ssa.CreatedAction, ssa.ConfiguredAction:
			applied++
		}
		changeSet.Add(entry)
	}

	// inventory.AddChangeSet + inventory.Diff: stale = old - new.
	newInventory := object.ObjMetadataSet{}
	versions := map[object.ObjMetadata]string{}
	for _, entry := range changeSet.Entries {
		newInventory = append(newInventory, entry.ObjMetadata)
		versions[entry.ObjMetadata] = entry.GroupVersion
	}
	stale := r.staleObjects(newInventory, skipped)
	oldVersions := r.versions
	r.inventory, r.versions = newInventory, versions
	if err := r.writeInventory(ctx); err != nil {
		return 0, 0, err
	}

	pruned, err := r.prune(ctx, manager, stale, oldVersions)
	if err != nil {
		return 0, 0, err
	}

	if r.wait {
		// checkHealth with spec.wait: the whole change set, every reconcile.
		if err := manager.WaitForSetWithContext(ctx, changeSet.ToObjMetadataSet(), ssa.WaitOptions{
			Interval: 5 * time.Second,
			Timeout:  r.timeout,
			FailFast: true,
		}); err != nil {
			return 0, 0, fmt.Errorf("health check failed: %w", err)
		}
	}
	return applied, pruned, nil
}

// apply mirrors KustomizationReconciler.apply with a default Kustomization
// spec (no force, no commonMetadata, no disallowed field managers).
func (r *reconciler) apply(ctx context.Context, manager *ssa.ResourceManager, objects []*unstructured.Unstructured) (*ssa.ChangeSet, error) {
	if err := normalize.UnstructuredList(objects); err != nil {
		return nil, err
	}
	applyOpts := ssa.DefaultApplyOptions()
	applyOpts.Force = false // spec.force defaults to false
	applyOpts.ExclusionSelector = map[string]string{
		kustomizeGroup + "/reconcile": disabledValue,
		kustomizeGroup + "/ssa":       ignoreValue,
	}
	applyOpts.IfNotPresentSelector = map[string]string{
		kustomizeGroup + "/ssa": ifNotPresentValue,
	}
	applyOpts.ForceSelector = map[string]string{
		kustomizeGroup + "/force": enabledValue,
	}
	applyOpts.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{
			corev1.LastAppliedConfigAnnotation,
			"kustomize.toolkit.fluxcd.io/checksum",
			"fluxcd.io/sync-checksum",
		},
		Labels: []string{"fluxcd.io/sync-gc-mark"},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationApply},
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: controllerName, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
		Exclusions: map[string]string{kustomizeGroup + "/ssa": mergeValue},
	}
	if len(objects) == 0 {
		return ssa.NewChangeSet(), nil
	}
	return manager.ApplyAllStaged(ctx, objects, applyOpts)
}

// staleObjects is inventory.Diff: what the last inventory had and the new
// one does not (skipped objects stay out of the prune).
func (r *reconciler) staleObjects(newInventory, skipped object.ObjMetadataSet) object.ObjMetadataSet {
	return r.inventory.Diff(newInventory).Diff(skipped)
}

// prune mirrors KustomizationReconciler.prune with spec.prune=true.
func (r *reconciler) prune(ctx context.Context, manager *ssa.ResourceManager, stale object.ObjMetadataSet, versions map[object.ObjMetadata]string) (int, error) {
	if len(stale) == 0 {
		return 0, nil
	}
	objects := make([]*unstructured.Unstructured, 0, len(stale))
	for _, id := range stale {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: id.GroupKind.Group, Kind: id.GroupKind.Kind, Version: versions[id]})
		u.SetName(id.Name)
		u.SetNamespace(id.Namespace)
		objects = append(objects, u)
	}
	sort.Sort(ssa.SortableUnstructureds(objects))
	changeSet, err := manager.DeleteAll(ctx, objects, ssa.DeleteOptions{
		PropagationPolicy: metav1.DeletePropagationBackground,
		Inclusions:        manager.GetOwnerLabels(r.name, r.namespace),
		Exclusions: map[string]string{
			kustomizeGroup + "/prune":     disabledValue,
			kustomizeGroup + "/reconcile": disabledValue,
		},
	})
	if err != nil {
		return 0, err
	}
	return len(changeSet.Entries), nil
}

// writeInventory stands in for the Kustomization status patch that holds
// status.inventory: one server-side apply of a ConfigMap listing the entries.
func (r *reconciler) writeInventory(ctx context.Context) error {
	entries := make([]string, 0, len(r.inventory))
	for _, id := range r.inventory {
		entries = append(entries, id.String()+"_"+r.versions[id])
	}
	sort.Strings(entries)
	inventory := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": "flux-inventory-" + r.name, "namespace": r.namespace},
		"data":       map[string]any{"entries": strings.Join(entries, "\n")},
	}}
	return r.client.Patch(ctx, inventory, client.Apply, client.ForceOwnership, client.FieldOwner("gotk-"+controllerName))
}
