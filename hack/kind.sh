#!/usr/bin/env bash
# For users with Docker: a kind cluster running Octopus from this checkout's image and chart.
# It cannot run on the development machine (no container engine there); the local platform
# (`npm run up`) is the supported way to try Octopus without Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER:-octopus}"
tag="${IMAGE_TAG:-dev}"
image="docker.io/library/octopus:${tag}"

for tool in docker kind helm kubectl; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is required" >&2; exit 1; }
done

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster"
docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"
# The chart schedules Octopus on nodes labelled as servers (global.nodeSelector).
kubectl --context "kind-$cluster" label nodes --all octopus.openi.pcl.cn/node=server --overwrite
helm upgrade --install octopus charts/octopus \
  --kube-context "kind-$cluster" --namespace octopus-system --create-namespace \
  --set global.image.repository.address=docker.io \
  --set global.image.repository.pathname=library/octopus \
  --set global.image.tag="$tag" \
  --set global.image.pullPolicy=IfNotPresent \
  --wait
kubectl --context "kind-$cluster" -n octopus-system get pods
echo "Octopus is installed. Try: kubectl --context kind-$cluster apply -f examples/00-admin/"
