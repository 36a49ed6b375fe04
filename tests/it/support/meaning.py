#!/usr/bin/env python3
"""Independent meaning check for `kubectl tingyun patch` (PyYAML, not saphyr/tree-sitter).

usage: meaning.py INPUT OUTPUT [PATCH ARGS...]
       meaning.py --serve


Parses INPUT and OUTPUT with PyYAML, applies to INPUT's data the edits that
the patch arguments intend (PATCH-SPEC.md, at the data level), and checks that
the result equals OUTPUT's data. The `mutate.yaml` block scalar of a ConfigMap
is compared as its parsed inner document plus its count of trailing newlines.
Exit 0 when equal, 1 with a report when not, 3 when PyYAML is missing.

--serve answers many checks in one process (the property tests ask hundreds):
each stdin line is a JSON object {"input": TEXT, "output": TEXT, "args": [...]},
each answer one stdout line {"problems": [...]} (empty when the meanings agree).
"""
import copy
import json
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    print("meaning.py: PyYAML is missing: run `python3 -m pip install pyyaml`", file=sys.stderr)
    sys.exit(3)

DEFAULT_SECRET = "tingyun-image-secret"
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "ReplicationController", "Job"}
CONTAINER_KEYS = ("containers", "initContainers", "ephemeralContainers")


def parse_args(argv):
    """Mirror the clap contract of `patch` (only the edit flags)."""
    e = {"pull": None, "inject": None, "registry": None, "http": None, "insecure": None,
         "dns": None, "aliases": None, "annotations": []}
    any_edit = False
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in ("--pull-secret", "--inject-pull-secret"):
            e["pull" if name == "--pull-secret" else "inject"] = val if eq else DEFAULT_SECRET
        elif name in ("--http-registry", "--insecure-registry"):
            e["http" if name == "--http-registry" else "insecure"] = val if eq else ""
        elif name in ("--registry", "--dns-config", "--host-aliases", "--annotation"):
            if not eq:
                i += 1
                val = argv[i]
            if name == "--registry":
                e["registry"] = val
            elif name == "--dns-config":
                e["dns"] = val
            elif name == "--host-aliases":
                e["aliases"] = val
            else:
                k, _, v = val.partition("=")
                e["annotations"].append((k, v))
        else:
            i += 1
            continue  # -o, --dry-run ... are not edits
        any_edit = True
        i += 1
    if not any_edit:
        e["pull"] = e["inject"] = DEFAULT_SECRET
    host = e["registry"].split("/")[0] if e["registry"] else None
    ann = []
    if e["http"] is not None:
        ann.append(("k8s.ksyun.com/kci-http-registry", e["http"] or host))
    if e["insecure"] is not None:
        ann.append(("k8s.ksyun.com/kci-insecure-registry", e["insecure"] or host))
    compact = lambda j: json.dumps(json.loads(j), separators=(",", ":"), ensure_ascii=False)
    if e["dns"] is not None:
        ann.append(("k8s.ksyun.com/kci-dns-config", compact(e["dns"])))
    if e["aliases"] is not None:
        ann.append(("k8s.ksyun.com/kci-host-aliases", compact(e["aliases"])))
    ann.extend(e["annotations"])
    e["ann"] = ann
    return e


class KubectlLoader(yaml.SafeLoader):
    """PyYAML with the scalar rules kubectl uses (sigs.k8s.io/yaml, go-yaml v2):
    YAML 1.1 booleans including y/Y/n/N, and timestamps kept as the strings
    written (go-yaml hands timestamp-like values to kubectl as strings).
    Like go-yaml, a tab after content on a line separates tokens (`key:\tvalue`,
    `a: b\t# c`); PyYAML alone takes only spaces there."""

    def scan_to_next_token(self):
        start = self.pointer - self.column
        before = self.buffer[max(start, 0):self.pointer]
        # not in the indentation, and not after a sequence's `-` (go-yaml refuses both)
        if before.strip(" \t") and before.split()[-1] != "-":
            while self.peek() in " \t":
                self.forward()
        super().scan_to_next_token()


KubectlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
KubectlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
KubectlLoader.add_constructor(
    "tag:yaml.org,2002:bool",
    lambda loader, node: loader.construct_scalar(node) in
    ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"))


def load_all(data):
    return list(yaml.load_all(data, Loader=KubectlLoader))


def load(data):
    return [normalise(d) for d in load_all(data)]


def normalise(doc):
    """Replace a ConfigMap's mutate.yaml string by its parsed meaning."""
    if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and isinstance(doc.get("data"), dict):
        s = doc["data"].get("mutate.yaml")
        if isinstance(s, str):
            doc["data"]["mutate.yaml"] = {
                "__inner__": load_all(s),
                "__trailing_newlines__": len(s) - len(s.rstrip("\n")),
            }
    return doc


def add_pull_secret(obj, name):
    if not isinstance(obj, dict):
        return
    cur = obj.get("imagePullSecrets")
    if cur is None:
        obj["imagePullSecrets"] = [{"name": name}]
    elif not any(isinstance(i, dict) and i.get("name") == name for i in cur):
        cur.append({"name": name})


def rewrite_images(podspec, registry):
    if not isinstance(podspec, dict):
        return
    for key in CONTAINER_KEYS:
        for c in podspec.get(key) or []:
            if isinstance(c, dict) and isinstance(c.get("image"), str):
                c["image"] = registry + "/" + c["image"].rsplit("/", 1)[-1]


def dig(obj, *keys):
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def pod_holder(obj):
    """(mapping that holds the pod template metadata, pod spec) of a workload."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj, obj.get("spec")
    if kind in WORKLOADS:
        t = dig(obj, "spec", "template")
    elif kind == "CronJob":
        t = dig(obj, "spec", "jobTemplate", "spec", "template")
    else:
        return None, None
    return t, dig(t, "spec")


def edit_object(obj, e):
    if not isinstance(obj, dict):
        return
    kind = obj.get("kind")
    if kind == "List":
        for item in obj.get("items") or []:
            edit_object(item, e)
        return
    if kind == "ServiceAccount" and e["pull"]:
        add_pull_secret(obj, e["pull"])
    if kind == "ConfigMap":
        m = dig(obj, "data", "mutate.yaml")
        if isinstance(m, dict) and m.get("__inner__"):
            inner = m["__inner__"][0]
            if e["inject"]:
                add_pull_secret(inner, e["inject"])
            if e["registry"]:
                rewrite_images(inner, e["registry"])
    holder, podspec = pod_holder(obj)
    if holder is None:
        return
    if e["registry"]:
        rewrite_images(podspec, e["registry"])
    if e["ann"] and isinstance(holder, dict):
        md = holder.get("metadata")
        if not isinstance(md, dict):
            md = holder["metadata"] = {}
        an = md.get("annotations")
        if not isinstance(an, dict):
            an = md["annotations"] = {}
        for k, v in e["ann"]:
            an[k] = v


def diff(a, b, path="$"):
    out = []
    if type(a) is not type(b):
        out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a:
                out.append(f"{path}.{k}: missing in intended, output has {b[k]!r}")
            elif k not in b:
                out.append(f"{path}.{k}: intended {a[k]!r}, missing in output")
            else:
                out += diff(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: intended {len(a)} items {a!r}, output {len(b)} items {b!r}")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                out += diff(x, y, f"{path}[{i}]")
    elif a != b:
        out.append(f"{path}: intended {a!r}, output {b!r}")
    return out


def check(before_bytes, after_bytes, args):
    """Problems (empty when none) of AFTER as INPUT plus the edits ARGS ask for."""
    e = parse_args(args)
    before = load(before_bytes)
    try:
        after = load(after_bytes)
    except yaml.YAMLError as err:
        return [f"the output is not valid YAML: {err}"]
    intended = copy.deepcopy(before)
    for doc in intended:
        edit_object(doc, e)
    return diff(intended, after)


def serve():
    for line in sys.stdin:
        req = json.loads(line)
        try:
            problems = check(req["input"].encode(), req["output"].encode(), req["args"])
        except Exception as err:  # a crash of the checker is a failed check, with its reason
            problems = [f"meaning.py: {type(err).__name__}: {err}"]
        print(json.dumps({"problems": problems}), flush=True)
    return 0


def main():
    if sys.argv[1:] == ["--serve"]:
        return serve()
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        before = f.read()
    with open(sys.argv[2], "rb") as f:
        after = f.read()
    problems = check(before, after, sys.argv[3:])
    if problems:
        print("meaning differs from input + intended edits:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
