#!/usr/bin/env python3
"""Generate a large tingyunagent.yaml-like manifest for the benchmark.

    scripts/gen-manifests.py N DIR

writes DIR/manifest.yaml with exactly N Kubernetes documents modelled on
the Tingyun download (testdata/tingyunagent.yaml): ServiceAccounts with the
commented-out `#imagePullSecrets:` template, ConfigMaps carrying a
`mutate.yaml: |` injection template, Deployments, DaemonSets, StatefulSets,
CronJobs, Services, Secrets and plain ConfigMaps, with comments, quoted
images, trailing comments, registry ports and digests as in real files.
It also writes DIR/kustomization.yaml that lists manifest.yaml as its only
resource and has one `images:` entry per distinct image name, rewriting it
to the same HOST[:PORT]/PROJECT/<name> that `kubectl tingyun patch
--registry` produces, so `kubectl kustomize DIR` does the comparable edit.

The output is deterministic: the same N gives the same bytes.
"""
import os
import sys

REGISTRY = "harbor.example.com:5000/apm"

# (repository, tag-or-digest suffix): a small fixed set, as in real files.
IMAGES = [
    ("registry.tingyun.com/tingyun/k8s-uniagent", ":2.5.3.0"),
    ("registry.tingyun.com/tingyun/node-agent", ":2.5.3.0"),
    ("registry.tingyun.com/tingyun/node-agent-init", ":2.5.3.0"),
    ("registry.tingyun.com/tingyun/universal-agent-init", ":2.5.3.0"),
    ("registry.example.com:5000/shop/cart", ":1.4.2"),
    ("registry.example.com:5000/shop/checkout", ":3.0.1"),
    ("docker.io/library/nginx", ":1.25"),
    ("busybox", "@sha256:" + "3f" * 32),
]


def image(i):
    repo, suffix = IMAGES[i % len(IMAGES)]
    return repo + suffix


def service_account(i):
    # Alternate the two spellings of the commented template seen in downloads.
    item = "# - name: tingyun-image-secret" if i % 2 else "#- name: tingyun-image-secret"
    return f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: tingyun-sa-{i}
  namespace: tingyun
#imagePullSecrets:
{item}
"""


def mutate_config_map(i):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: tingyun-agent-config-{i}
  namespace: tingyun
data:
  # Collector and license settings for every injected agent.
  tingyun.properties: |
    collector.address=dc1.tingyun.com:443
    collector.ssl=true
    license.key=7f3c2a9e1b8d4f6a0c5e{i:06d}
    agent.log.level=info
  # Template merged into every pod that carries the label tingyun-inject=enabled.
  mutate.yaml: |
    #imagePullSecrets:
    #- name: tingyun-image-secret
    initContainers:
    - name: tingyun-agent-init
      image: {image(3)}
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "cp -r /opt/tingyun/. /tingyun-agent/"]
      resources:
        limits:
          cpu: 200m
          memory: 128Mi
      volumeMounts:
      - name: tingyun-agent
        mountPath: /tingyun-agent
    volumes:
    - name: tingyun-agent
      emptyDir: {{}}
    env:
    - name: TINGYUN_AGENT_HOME
      value: /tingyun-agent
    - name: JAVA_TOOL_OPTIONS
      value: "-javaagent:/tingyun-agent/java/tingyun-agent-java.jar"
"""


def deployment(i):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: shop-{i % 50}
  labels:
    app: app-{i}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
        tingyun-inject: enabled
    spec:
      serviceAccountName: tingyun-sa-{i}
      containers:
        - name: main
          image: "{image(i + 4)}"  # pinned by release {i}
          imagePullPolicy: IfNotPresent
          args: ["--port=8080", "--log-level=info"]
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: UPSTREAM_IMAGE
              value: registry.example.com:5000/shop/cart:1.4.2
          resources:
            requests:
              cpu: 100m
              memory: 256Mi
            limits:
              cpu: "1"
              memory: 1Gi
        - name: sidecar
          image: {image(i)}
          volumeMounts:
            - name: config
              mountPath: /etc/tingyun
      volumes:
        - name: config
          configMap:
            name: tingyun-agent-config-{i}
"""


def daemon_set(i):
    return f"""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: tingyun-node-agent-{i}
  namespace: tingyun
  labels:
    app: tingyun-node-agent
spec:
  selector:
    matchLabels:
      app: tingyun-node-agent-{i}
  template:
    metadata:
      labels:
        app: tingyun-node-agent-{i}
      annotations:
        tingyun.com/agent-version: "2.5.3.0"
    spec:
      serviceAccountName: tingyun-sa-{i}
      hostPID: true
      tolerations:
        - operator: Exists
      initContainers:
        - name: prepare
          image: {image(2)}
          command: ["sh", "-c", "mkdir -p /host/var/log/tingyun"]
      containers:
        - name: node-agent
          image: '{image(1)}'
          securityContext:
            privileged: true
          volumeMounts:
            - name: host-root
              mountPath: /host
              readOnly: true
      volumes:
        - name: host-root
          hostPath:
            path: /
"""


def stateful_set(i):
    return f"""apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: store-{i}
  namespace: shop-{i % 50}
spec:
  serviceName: store-{i}
  replicas: 1
  selector:
    matchLabels:
      app: store-{i}
  template:
    metadata:
      labels:
        app: store-{i}
    spec:
      containers:
      - name: store
        image: {image(i + 5)}
        ports:
        - containerPort: 5432
"""


def cron_job(i):
    return f"""apiVersion: batch/v1
kind: CronJob
metadata:
  name: report-{i}
  namespace: shop-{i % 50}
spec:
  schedule: "*/15 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: {image(7)}
              command: ["sh", "-c", "date"]
"""


def service(i):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: shop-{i % 50}
spec:
  selector:
    app: app-{i}
  ports:
    - name: http
      port: 80
      targetPort: 8080
"""


def secret(i):
    return f"""apiVersion: v1
kind: Secret
metadata:
  name: tingyun-webhook-certs-{i}
  namespace: tingyun
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENDQVRlZ0F3SUJBZ0lVYTJGaGFHVnNiRzhLTUFvR0NDcUdTTTQ5QkFNQ01Bd3hDakFJQmdOVkJBTU0K
  tls.key: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUxhSGFHVnNiRzhLWW1GelpUWTBJR1JoZEdFS0xTMHRMUzFGVGtRCi0tLS0tRU5EIEVDIFBS
"""


def plain_config_map(i):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: app-settings-{i}
  namespace: shop-{i % 50}
data:
  # Not a pod spec: an image-looking value here is only reported.
  DEFAULT_IMAGE: registry.example.com:5000/shop/cart:1.4.2
  LOG_LEVEL: info
"""


# One cycle of ten documents: 5 workloads, 2 ServiceAccount/mutate pairs'
# worth of agent configuration, and the usual supporting objects.
CYCLE = [
    service_account,
    mutate_config_map,
    deployment,
    daemon_set,
    service,
    deployment,
    plain_config_map,
    stateful_set,
    cron_job,
    secret,
]


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit("usage: gen-manifests.py N DIR   (N >= 1 documents)")
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "manifest.yaml"), "w", newline="\n") as f:
        f.write(f"# Generated by scripts/gen-manifests.py {n}: {n} documents modelled on tingyunagent.yaml.\n")
        for i in range(n):
            if i:
                f.write("---\n")
            f.write(CYCLE[i % len(CYCLE)](i))
    with open(os.path.join(out, "kustomization.yaml"), "w", newline="\n") as f:
        f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
        f.write("resources:\n  - manifest.yaml\nimages:\n")
        for repo, _ in IMAGES:
            f.write(f"  - name: {repo}\n    newName: {REGISTRY}/{repo.rsplit('/', 1)[-1]}\n")


if __name__ == "__main__":
    main()
