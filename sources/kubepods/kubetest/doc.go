// Package kubetest is a Kubernetes API server for tests: it answers pod
// lists (GET /api/v1/pods and /api/v1/namespaces/NS/pods) from the pods a
// test puts in it, with the field and label selectors the kubernetes
// source sends. Its answers have the JSON shape of k8s.io/api/core/v1's
// PodList and of k8s.io/apimachinery's metav1.Status for errors. Tests
// only: the binary never imports it.
package kubetest
