#!/bin/sh
# Regenerates schema.json and fieldspecs.yaml from the Go module cache:
#   sigs.k8s.io/kustomize/kyaml@v0.18.1 (the OpenAPI schema kustomize v5.5.0 embeds)
#   sigs.k8s.io/kustomize/api@v0.18.0   (kustomize v5.5.0's default field specs)
# Needs Go and the Go module proxy (`go mod download` fetches both modules).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/main.go" "$work/"
cd "$work"
cat > go.mod <<MOD
module plumb.dev/kustomize-schema-gen

go 1.22
MOD
go get sigs.k8s.io/kustomize/kyaml@v0.18.1 sigs.k8s.io/kustomize/api@v0.18.0 >/dev/null 2>&1
go mod tidy >/dev/null 2>&1
go run . > "$here/schema.json"
api=$(go mod download -json sigs.k8s.io/kustomize/api@v0.18.0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
python3 "$here/fieldspecs.py" "$api/internal/konfig/builtinpluginconsts" > "$here/fieldspecs.yaml"
