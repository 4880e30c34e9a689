"""The kubectl battery: commands an operator or a CI script runs, in the order they run them.

Each `Cmd` is one kubectl invocation against a sandbox with a control-plane node and three
workers; later commands use what earlier ones created (namespace `battery`). `expect` are
substrings of stdout (or of stdout + stderr when `rc` is not 0); stderr must be empty unless
`warns`. `known` marks a command the sandbox cannot serve, with the reason (docs/sandbox.md
lists them), for every kubectl or only those whose test id contains `known_in`; those run as
strict xfails, so one that starts passing is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NS = "battery"


@dataclass(frozen=True)
class Cmd:
    args: str  # kubectl arguments, split on whitespace unless `argv` is given
    expect: tuple[str, ...] = ()
    stdin: str | None = None
    rc: int = 0
    warns: bool = False
    known: str | None = None
    known_in: str = ""  # e.g. "v1.32": `known` applies to that kubectl only
    argv: tuple[str, ...] = field(default=())

    def command(self) -> list[str]:
        return list(self.argv) if self.argv else self.args.split()

    @property
    def id(self) -> str:
        return " ".join(self.command())[:80]


STATEFULSET = f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {NS}}}
spec:
  serviceName: db
  replicas: 2
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
      - name: db
        image: postgres:16
        resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}
"""

DAEMONSET = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {NS}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers: [{{name: agent, image: busybox, command: [sleep, infinity]}}]
"""

CONFIG_V1 = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {NS}}}
data: {{level: info}}
"""

CONFIG_V2 = CONFIG_V1.replace("level: info", "level: debug, extra: 'yes'")

SSA = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: ssa, namespace: {NS}}}
data: {{owner: ci}}
"""

DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: api, namespace: {NS}, labels: {{app: api}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
      - name: api
        image: registry.example/api:1.0
        ports: [{{containerPort: 8080}}]
        resources: {{limits: {{cpu: 250m, memory: 256Mi}}}}
"""

STORAGE = f"""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {{storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: sandbox.example/local
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: pv-1}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: /data/pv-1}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {NS}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
"""

HPA = f"""
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: api, namespace: {NS}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: api}}
  minReplicas: 2
  maxReplicas: 4
"""

RBAC = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader, namespace: {NS}}}
rules: [{{apiGroups: [""], resources: [pods], verbs: [get, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: reader, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}
subjects: [{{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}}]
"""

_WEB = f"deployment/web -n {NS}"

COMMANDS: list[Cmd] = [
    # ---- the cluster and what it serves
    # kubectl newer than 1.33 warns (stderr) about the version skew, as with a real 1.32 server.
    Cmd("version", ("Client Version:", "Server Version: v1.32"), warns=True),
    Cmd("cluster-info", ("Kubernetes control plane is running at",)),
    Cmd("api-versions", ("apps/v1", "batch/v1", "storage.k8s.io/v1")),
    Cmd("api-resources", ("deployments", "statefulsets", "persistentvolumeclaims")),
    Cmd("api-resources --namespaced=false -o name", ("nodes", "storageclasses.storage.k8s.io")),
    Cmd("api-resources --api-group=apps -o wide", ("daemonsets", "VERBS")),
    Cmd("get --raw /healthz", ("ok",)),
    Cmd("get --raw /readyz", ("ok",)),
    Cmd("get --raw /metrics", ("apiserver_request_total",)),
    Cmd("get --raw /api/v1/namespaces/default", ('"name":"default"',)),
    Cmd("get componentstatuses", ("scheduler", "Healthy")),
    Cmd("explain pods", ("KIND:", "Pod", "spec")),
    Cmd("explain deployment.spec.template.spec.containers", ("resources", "image")),
    Cmd("explain services.spec.ports", ("targetPort",)),
    Cmd("explain jobs.spec --recursive", ("backoffLimit", "template")),
    Cmd("auth can-i create deployments", ("yes",)),
    Cmd("auth can-i delete nodes --all-namespaces", ("yes",)),
    Cmd("auth can-i list pods --as=alice", ("yes",)),
    Cmd("auth can-i --list", ("*.*",)),
    Cmd("auth whoami", ("Username", "kubernetes-admin")),
    Cmd("auth whoami -o json", ('"kind": "SelfSubjectReview"',)),
    Cmd("config get-contexts", ("clues-sandbox",)),
    Cmd("config view --minify", ("server: http://127.0.0.1",)),
    # ---- nodes
    Cmd("get nodes", ("master", "node-1", "Ready")),
    Cmd("get nodes -o wide", ("INTERNAL-IP", "node-3")),
    Cmd("get nodes -o json", ('"kind": "List"', '"capacity"')),
    Cmd("get nodes -o yaml", ("kind: Node", "allocatable:")),
    Cmd("get nodes -o name", ("node/node-2",)),
    Cmd("get nodes -o jsonpath={.items[*].metadata.name}", ("master node-1 node-2 node-3",)),
    Cmd(
        "get nodes -o custom-columns=NAME:.metadata.name,CPU:.status.capacity.cpu",
        ("NAME", "node-1"),
    ),
    Cmd("get nodes --show-labels", ("kubernetes.io/hostname=node-1",)),
    Cmd("get nodes -L kubernetes.io/hostname", ("HOSTNAME",)),
    Cmd("get nodes -l node-role.kubernetes.io/control-plane -o name", ("node/master",)),
    Cmd("get nodes --field-selector spec.unschedulable=false -o name", ("node/node-1",)),
    Cmd("get nodes --sort-by=.metadata.name -o name", ("node/master",)),
    Cmd("describe node node-1", ("Capacity:", "Allocatable:", "Non-terminated Pods:")),
    Cmd("label node node-1 pool=a", ("node/node-1 labeled",)),
    Cmd("label node node-1 pool=b --overwrite", ("node/node-1 labeled",)),
    Cmd("get nodes -l pool=b -o name", ("node/node-1",)),
    Cmd("label node node-1 pool-", ("node/node-1 unlabeled",)),
    Cmd("annotate node node-1 owner=ops", ("node/node-1 annotated",)),
    Cmd("taint node node-3 dedicated=gpu:NoSchedule", ("node/node-3 tainted",)),
    Cmd("get node node-3 -o jsonpath={.spec.taints[0].key}", ("dedicated",)),
    Cmd("taint node node-3 dedicated=gpu:NoSchedule-", ("node/node-3 untainted",)),
    Cmd("cordon node-2", ("node/node-2 cordoned",)),
    Cmd("get nodes --field-selector spec.unschedulable=true -o name", ("node/node-2",)),
    Cmd("get node node-2", ("SchedulingDisabled",)),
    Cmd(
        "get node node-2 -o jsonpath={.spec.taints[*].key}",
        ("node.kubernetes.io/unschedulable",),
    ),
    Cmd("uncordon node-2", ("node/node-2 uncordoned",)),
    # ---- a namespace and its configuration
    Cmd(f"create namespace {NS}", (f"namespace/{NS} created",)),
    Cmd("get namespaces", (NS, "Active")),
    Cmd(f"get namespace {NS} -o yaml", ("phase: Active",)),
    Cmd(
        f"create configmap app-config --from-literal=mode=prod -n {NS}",
        ("configmap/app-config created",),
    ),
    Cmd(
        f"create secret generic creds --from-literal=password=s3cret -n {NS}",
        ("secret/creds created",),
    ),
    Cmd(
        f"create secret docker-registry regcred --docker-server=r.example --docker-username=u "
        f"--docker-password=p -n {NS}",
        ("secret/regcred created",),
    ),
    Cmd(f"create serviceaccount robot -n {NS}", ("serviceaccount/robot created",)),
    Cmd(f"get configmaps -n {NS}", ("app-config",)),
    Cmd(f"get secrets -n {NS}", ("creds", "Opaque", "kubernetes.io/dockerconfigjson")),
    Cmd(f"get serviceaccounts -n {NS}", ("robot",)),
    Cmd(f"describe configmap app-config -n {NS}", ("mode:", "prod")),
    Cmd(f"describe secret creds -n {NS}", ("password:", "6 bytes")),
    Cmd(f"get configmap app-config -n {NS} -o jsonpath={{.data.mode}}", ("prod",)),
    Cmd(f"create quota q1 --hard=pods=50,requests.cpu=20 -n {NS}", ("resourcequota/q1 created",)),
    Cmd(f"describe quota q1 -n {NS}", ("requests.cpu",)),
    Cmd(
        "create priorityclass batch-low --value=100 --description=low",
        ("priorityclass.scheduling.k8s.io/batch-low created",),
    ),
    Cmd("get priorityclasses", ("batch-low", "system-node-critical")),
    # ---- workloads
    Cmd(
        f"create deployment web --image=nginx:1.25 --replicas=3 --port=80 -n {NS}",
        ("deployment.apps/web created",),
    ),
    Cmd(f"rollout status {_WEB} --timeout=60s", ("successfully rolled out",)),
    Cmd(f"get deployments -n {NS}", ("web", "3/3")),
    Cmd(f"get deploy web -n {NS} -o wide", ("nginx:1.25", "app=web")),
    Cmd(f"get replicasets -n {NS}", ("web-",)),
    Cmd(f"get pods -n {NS} -l app=web", ("Running",)),
    Cmd(f"get pods -n {NS} -o wide", ("NODE", "node-")),
    Cmd(f"describe deployment web -n {NS}", ("Replicas:", "RollingUpdate")),
    Cmd(f"expose deployment web --port=80 --target-port=8080 -n {NS}", ("service/web exposed",)),
    Cmd(f"get services -n {NS}", ("web", "ClusterIP", "10.96.")),
    Cmd(f"describe service web -n {NS}", ("IP:", "10.96.", "80/TCP")),
    Cmd(f"create service nodeport np --tcp=80:8080 -n {NS}", ("service/np created",)),
    Cmd(f"get service np -n {NS} -o jsonpath={{.spec.ports[0].nodePort}}", ("3",)),
    Cmd(
        f"create service clusterip headless --clusterip=None -n {NS}", ("service/headless created",)
    ),
    Cmd(f"create job once --image=busybox -n {NS} -- sleep 1", ("job.batch/once created",)),
    Cmd(f"wait --for=condition=complete job/once -n {NS} --timeout=60s", ("condition met",)),
    Cmd(f"get jobs -n {NS}", ("once", "1/1")),
    Cmd(f"describe job once -n {NS}", ("Pods Statuses:", "1 Succeeded")),
    Cmd(f"logs job/once -n {NS}", ("started on node-", "exit 0")),
    Cmd(
        f'create cronjob nightly --image=busybox --schedule="0 3 * * *" -n {NS}',
        ("cronjob.batch/nightly created",),
        argv=("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", "-n", NS),
    ),
    Cmd(f"get cronjobs -n {NS}", ("nightly", "0 3 * * *")),
    Cmd(f"create job manual --from=cronjob/nightly -n {NS}", ("job.batch/manual created",)),
    Cmd(f"run solo --image=busybox --restart=Never -n {NS} -- sleep 300", ("pod/solo created",)),
    Cmd(f"wait --for=condition=Ready pod/solo -n {NS} --timeout=60s", ("condition met",)),
    Cmd(f"logs solo -n {NS}", ("started on node-",)),
    Cmd(f"logs solo -n {NS} --timestamps", ("Z started on node-",)),
    Cmd(f"logs solo -n {NS} --tail=1", ("started on",)),
    Cmd(f"get pod solo -n {NS} -o jsonpath={{.status.qosClass}}", ("BestEffort",)),
    Cmd("top nodes", ("node-1", "MEMORY")),
    Cmd(f"top pods -n {NS}", ("solo",)),
    Cmd(f"describe pod solo -n {NS}", ("Status:", "Running", "QoS Class:", "BestEffort")),
    Cmd(f"get events -n {NS}", ("Scheduled",)),
    Cmd(f"events -n {NS}", ("Scheduled",)),
    Cmd(f"events -n {NS} --for pod/solo", ("Scheduled",)),
    Cmd(f"get events -n {NS} --field-selector reason=Scheduled -o name", ("event/",)),
    Cmd(
        f"get events -n {NS} --field-selector involvedObject.kind=Pod,type=Normal -o name",
        ("event/",),
    ),
    # ---- apply and the three patch types
    Cmd("apply -f -", ("statefulset.apps/db created",), stdin=STATEFULSET),
    Cmd(f"rollout status statefulset/db -n {NS} --timeout=60s", ("roll",)),
    Cmd(f"get statefulsets -n {NS}", ("db", "2/2")),
    Cmd(f"get pods db-0 db-1 -n {NS} -o name", ("pod/db-0", "pod/db-1")),
    Cmd("apply -f -", ("daemonset.apps/agent created",), stdin=DAEMONSET),
    Cmd(f"rollout status daemonset/agent -n {NS} --timeout=60s", ("successfully rolled out",)),
    Cmd(f"get daemonsets -n {NS}", ("agent",)),
    Cmd("apply -f -", ("configmap/settings created",), stdin=CONFIG_V1),
    Cmd("apply -f -", ("configmap/settings configured",), stdin=CONFIG_V2),
    Cmd("apply -f -", ("configmap/settings unchanged",), stdin=CONFIG_V2),
    Cmd("apply --server-side -f -", ("configmap/ssa serverside-applied",), stdin=SSA),
    Cmd(
        "apply --dry-run=server -f -",
        ("deployment.apps/api created (server dry run)",),
        stdin=DEPLOYMENT,
    ),
    Cmd("apply --dry-run=client -o yaml -f -", ("kind: Deployment",), stdin=DEPLOYMENT),
    Cmd("apply -f -", ("deployment.apps/api created",), stdin=DEPLOYMENT),
    Cmd(f"rollout status deployment/api -n {NS} --timeout=60s", ("successfully rolled out",)),
    Cmd(
        "diff -f -", ("replicas: 5",), stdin=DEPLOYMENT.replace("replicas: 2", "replicas: 5"), rc=1
    ),
    Cmd(f"get pods -n {NS} -l app=api -o jsonpath={{.items[0].status.qosClass}}", ("Guaranteed",)),
    Cmd(
        f"patch {_WEB} -p " + '{"spec":{"replicas":4}}',
        ("deployment.apps/web patched",),
        argv=("patch", "deployment/web", "-n", NS, "-p", '{"spec":{"replicas":4}}'),
    ),
    Cmd(
        "patch merge",
        ("deployment.apps/web patched",),
        argv=(
            "patch",
            "deployment/web",
            "-n",
            NS,
            "--type=merge",
            "-p",
            '{"metadata":{"labels":{"tier":"front"}}}',
        ),
    ),
    Cmd(
        "patch json",
        ("deployment.apps/web patched",),
        argv=(
            "patch",
            "deployment/web",
            "-n",
            NS,
            "--type=json",
            "-p",
            '[{"op":"replace","path":"/spec/replicas","value":3}]',
        ),
    ),
    Cmd(
        "patch service ports",
        ("service/web patched",),
        argv=(
            "patch",
            "service/web",
            "-n",
            NS,
            "-p",
            '{"spec":{"ports":[{"name":"metrics","port":9090}]}}',
        ),
    ),
    Cmd(f"get service web -n {NS} -o jsonpath={{.spec.ports[*].port}}", ("80 9090",)),
    Cmd(f"label pods -l app=web release=v1 -n {NS}", ("labeled",)),
    Cmd(f"annotate {_WEB} owner=platform", ("deployment.apps/web annotated",)),
    Cmd(f"set image {_WEB} nginx=nginx:1.27", ("image updated",)),
    Cmd(f"rollout status {_WEB} --timeout=60s", ("successfully rolled out",)),
    Cmd(f"rollout history {_WEB}", ("REVISION", "2")),
    Cmd(f"rollout history {_WEB} --revision=2", ("nginx:1.27",)),
    Cmd(f"rollout undo {_WEB}", ("rolled back",)),
    Cmd(f"rollout status {_WEB} --timeout=60s", ("successfully rolled out",)),
    Cmd(f"get {_WEB} -o jsonpath={{.spec.template.spec.containers[0].image}}", ("nginx:1.25",)),
    Cmd(f"rollout restart {_WEB}", ("restarted",)),
    Cmd(f"rollout pause {_WEB}", ("paused",)),
    Cmd(f"rollout resume {_WEB}", ("resumed",)),
    # Scaling in the middle of a rollout can leave the sandbox's Deployment controller one pod
    # over (docs/sandbox.md, known problems), so the battery lets the restart finish first.
    Cmd(f"rollout status {_WEB} --timeout=60s", ("successfully rolled out",)),
    Cmd(f"scale {_WEB} --replicas=5", ("scaled",)),
    Cmd(
        f"wait --for=jsonpath={{.status.readyReplicas}}=5 {_WEB} --timeout=60s", ("condition met",)
    ),
    Cmd(f"scale statefulset/db --replicas=1 -n {NS}", ("scaled",)),
    Cmd(
        f"autoscale {_WEB} --min=1 --max=6",
        ("autoscaled",),
        known="kubectl 1.32 creates autoscaling/v1 HPAs; the sandbox serves autoscaling/v2 only",
        known_in="v1.32",
    ),
    Cmd("apply -f -", ("horizontalpodautoscaler.autoscaling/api created",), stdin=HPA),
    Cmd(f"get hpa api -n {NS}", ("api", "Deployment/api", "cpu: <unknown>/80%")),
    Cmd(f"set env {_WEB} MODE=prod", ("env updated",)),
    Cmd(f"set resources {_WEB} --limits=cpu=200m,memory=128Mi", ("resource requirements updated",)),
    Cmd(f"get all -n {NS}", ("deployment.apps/web", "service/web", "statefulset.apps/db")),
    Cmd(f"get pods -n {NS} --sort-by=.metadata.creationTimestamp", ("NAME",)),
    Cmd("get pods -A --field-selector=status.phase=Running", (NS,)),
    Cmd(f"get deploy web -n {NS} -o go-template={{{{.metadata.name}}}}", ("web",)),
    Cmd(f"get pods -n {NS} --no-headers -l app=db", ("db-0",)),
    Cmd("get pods -A --chunk-size=2", ("NAMESPACE",)),
    Cmd(
        f"create pdb web-pdb --selector=app=web --max-unavailable=1 -n {NS}",
        ("poddisruptionbudget.policy/web-pdb created",),
    ),
    Cmd(f"get pdb -n {NS}", ("web-pdb",)),
    Cmd(
        "drain node-3 --ignore-daemonsets --delete-emptydir-data --force --timeout=90s",
        ("node/node-3 drained",),
        warns=True,
    ),
    Cmd("get pods -A --field-selector spec.nodeName=node-3 -o name", ("pod/agent-",)),
    Cmd("uncordon node-3", ("node/node-3 uncordoned",)),
    # ---- storage, RBAC and the aggregation layer
    Cmd(
        "apply -f -",
        ("storageclass.storage.k8s.io/standard created", "persistentvolumeclaim/data created"),
        stdin=STORAGE,
    ),
    Cmd("get storageclass", ("standard (default)", "sandbox.example/local")),
    Cmd("get pv", ("pv-1", "1Gi", "RWO", "Available")),
    Cmd(f"get pvc -n {NS}", ("data", "Pending", "standard")),
    Cmd("get csinodes", (), warns=True),  # "No resources found" goes to stderr
    Cmd("apply -f -", ("role.rbac.authorization.k8s.io/reader created",), stdin=RBAC),
    Cmd(
        "create clusterrole node-reader --verb=get,list --resource=nodes",
        ("clusterrole.rbac.authorization.k8s.io/node-reader created",),
    ),
    Cmd("create clusterrolebinding node-reader --clusterrole=node-reader --user=bob", ("created",)),
    Cmd(f"get roles,rolebindings -n {NS}", ("role.rbac.authorization.k8s.io/reader",)),
    Cmd("get clusterrolebinding node-reader -o wide", ("ClusterRole/node-reader", "bob")),
    Cmd("get apiservices", (), warns=True),
    # ---- what the sandbox does not serve (docs/sandbox.md)
    Cmd(
        f"exec solo -n {NS} -- true",
        known="no container runtime: exec needs the kubelet's streaming API",
    ),
    Cmd(
        f"port-forward pod/solo 18080:80 -n {NS} --pod-running-timeout=2s",
        known="no container runtime: port-forward needs the kubelet's streaming API",
    ),
    # ---- clean up
    Cmd(
        f"delete pod solo -n {NS} --grace-period=0 --force",
        ('pod "solo" force deleted',),
        warns=True,
    ),
    Cmd(f"wait --for=delete pod/solo -n {NS} --timeout=30s", ()),
    Cmd(f"delete {_WEB}", ('deployment.apps "web" deleted',)),
    Cmd("delete -f -", ('statefulset.apps "db" deleted',), stdin=STATEFULSET),
    Cmd(f"delete job once manual -n {NS}", ('job.batch "once" deleted',)),
    Cmd(f"delete service,configmap -l app!=none -n {NS}", ("deleted",)),
    Cmd(f"delete namespace {NS}", (f'namespace "{NS}" deleted',)),
    Cmd(f"get namespace {NS}", (f'namespaces "{NS}" not found',), rc=1),
]
