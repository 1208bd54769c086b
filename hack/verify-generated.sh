#!/usr/bin/env bash
# Regenerates deepcopy code and the CRDs and fails if they differ from the files in the tree,
# so the API and its generated artifacts never drift. The tree is left as it was.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
deepcopy=(api/v1alpha1/zz_generated.deepcopy.go api/internal.kro.run/v1alpha1/zz_generated.deepcopy.go)
cp -r --parents "${deepcopy[@]}" config/crd/bases "$tmp/"
restore() {
	rm -rf config/crd/bases
	cp -r "$tmp/config/crd/bases" config/crd/bases
	for f in "${deepcopy[@]}"; do cp "$tmp/$f" "$f"; done
	rm -rf "$tmp"
}
trap restore EXIT
rm -rf config/crd/bases
bin/controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
bin/controller-gen crd paths=./api/... output:crd:artifacts:config=config/crd/bases
status=0
for f in "${deepcopy[@]}"; do diff -u "$tmp/$f" "$f" || status=1; done
diff -ru "$tmp/config/crd/bases" config/crd/bases || status=1
if [ $status -ne 0 ]; then
	echo "generated files are out of date: run 'make generate' and commit the result" >&2
fi
exit $status
