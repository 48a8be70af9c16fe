//! The Kubernetes runtime's tests, in one binary (each binary links kube and k8s-openapi):
//!
//! - `objects`: golden files of the generated objects, their round trip through the
//!   k8s-openapi types, and their strict validation against the Kubernetes 1.33 JSON Schemas
//!   (kubernetes-validate) and the VolumeSnapshot CRD's schema (check-jsonschema);
//! - `exec`: the exec wrapper, run by a real `/bin/sh`, and exit codes from exec statuses;
//! - `reconcile`: the runtime against a scripted mock API server (tower-test);
//! - `stream`: a terminal session (exec websocket, resize channel, signals) against a fake
//!   API server on loopback.
//!
//! The same scenario against a real cluster is `examples/e2e.rs`, run by
//! `scripts/e2e-kubernetes.sh` when `KUBECONFIG` names one.

mod exec;
mod objects;
mod reconcile;
mod stream;
mod support;
