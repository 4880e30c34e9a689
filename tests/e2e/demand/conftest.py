"""Hidden demand and PDBs through the real Kubernetes backend: the sandbox API server on
127.0.0.1 (Workloads are stored as a plain kueue.x-k8s.io/v1beta1 resource, nothing admits
them); the backend talks to it over HTTP with the official client. Nothing is faked."""
