#!/usr/bin/env bash
# Runs the Kubernetes runtime's scenario against a real cluster (never in CI: no Kubernetes API
# server can be installed on the project's machines):
#   KUBECONFIG=~/.kube/config scripts/e2e-kubernetes.sh
# It starts a workspace (owner ConfigMap, Secret, PersistentVolumeClaim, Pod), runs tasks in it
# through exec, restarts it on its kept volume, re-applies it, deletes it, and checks that an
# unpullable image is an image pull failure. Optional settings:
#   CORDIUM_E2E_NAMESPACE       namespace to use (default: default); must exist
#   CORDIUM_E2E_STORAGE_CLASS   StorageClass of the volumes (default: the cluster's default)
#   CORDIUM_E2E_IMAGE           image with /bin/sh (default: docker.io/library/busybox:1.36)
#   CORDIUM_E2E_SNAPSHOTS=1     also snapshot the volume and restore it into a new workspace
#                               (needs the CSI snapshot CRDs and controller, and a CSI driver)
#   CORDIUM_E2E_SNAPSHOT_CLASS  VolumeSnapshotClass (default: the driver's default)
# Every object it creates is labelled app.kubernetes.io/managed-by=cordium and deleted at the end;
# after a failure some may remain: kubectl delete all,pvc,secret,configmap -l app.kubernetes.io/managed-by=cordium
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KUBECONFIG:-}" ]; then
  echo "KUBECONFIG is not set: point it at the kubeconfig of the cluster to test against" >&2
  exit 2
fi
for file in ${KUBECONFIG//:/ }; do
  [ -r "$file" ] || { echo "KUBECONFIG names $file, which cannot be read" >&2; exit 2; }
done
export KUBECONFIG
exec cargo run -p cordium-kubernetes --example e2e "$@"
