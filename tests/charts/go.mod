// Public Helm charts for plumb's chart conformance tests, pinned as the Go
// modules they ship in (go.sum verifies their bytes). Nothing here is
// built: tests/setup.sh downloads the modules into Go's module cache and
// agent/tests/corpus reads each chart from there (tests/charts/<chart>/chart.json).
module plumb.dev/tests/charts

go 1.26.6

require (
	github.com/cert-manager/cert-manager v1.21.2
	github.com/external-secrets/external-secrets v1.3.2
	github.com/kyverno/kyverno v1.19.1
	github.com/open-policy-agent/gatekeeper/v3 v3.23.1
	go.universe.tf/metallb v0.15.2
	sigs.k8s.io/descheduler v0.36.0
	sigs.k8s.io/external-dns v0.20.0
	sigs.k8s.io/kueue v0.17.0
)
