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
import math
import re
import struct
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


# go-yaml v2's resolution of plain scalars (what kubectl reads manifests with,
# through sigs.k8s.io/yaml), written out from its rules:
# - these exact words are booleans, nulls, special floats, the merge key;
BOOLS = {w: True for w in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")}
BOOLS.update({w: False for w in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")})
NULLS = {"", "~", "null", "Null", "NULL"}
SPECIAL_FLOATS = {}
for words, value in ((".nan .NaN .NAN", math.nan), (".inf .Inf .INF +.inf +.Inf +.INF", math.inf),
                     ("-.inf -.Inf -.INF", -math.inf)):
    SPECIAL_FLOATS.update({w: value for w in words.split()})
# - a scalar starting with a digit or sign, `_` removed, is an int when Go's
#   strconv.ParseInt(s, 0, 64) (or ParseUint) takes it: 0x, 0o, 0b prefixes,
#   a leading 0 for octal; else a float when it matches yamlStyleFloat;
GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# - a scalar starting with `.` is a float when Go's ParseFloat takes it;
DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
# - everything else is a string: timestamps too (go-yaml v2 hands them to
#   kubectl as the text written), `1:20`, `=`, `1e3` starting with `.`...


def go_int(text):
    """The int Go's ParseInt/ParseUint (base 0) make of `text`, or None."""
    m = GO_INT.fullmatch(text)
    if not m:
        return None
    sign, body = m.groups()
    if len(body) > 1 and body[0] == "0" and body[1] in "xXoObB":
        value = int(body[2:], {"x": 16, "o": 8, "b": 2}[body[1].lower()])
    elif len(body) > 1 and body[0] == "0":
        value = int(body, 8)
    else:
        value = int(body)
    value = -value if sign == "-" else value
    return value if -(1 << 63) <= value < (1 << 64) else None


def go_resolve(text):
    """The tag go-yaml v2 gives the plain scalar `text`."""
    if text in BOOLS:
        return "tag:yaml.org,2002:bool"
    if text in NULLS:
        return "tag:yaml.org,2002:null"
    if text in SPECIAL_FLOATS:
        return "tag:yaml.org,2002:float"
    if text == "<<":
        return "tag:yaml.org,2002:merge"
    if text[0] == ".":
        return "tag:yaml.org,2002:float" if DOT_FLOAT.fullmatch(text) else "tag:yaml.org,2002:str"
    if text[0] in "0123456789+-":
        plain = text.replace("_", "")
        if go_int(plain) is not None:
            return "tag:yaml.org,2002:int"
        if YAML_STYLE_FLOAT.fullmatch(plain):
            return "tag:yaml.org,2002:float"
    return "tag:yaml.org,2002:str"


def go_float_key(x):
    """sigs.k8s.io/yaml's JSON key for a float key: strconv.FormatFloat(x, 'g', -1, 32)."""
    if x != x:
        return ".nan"
    if x in (math.inf, -math.inf):
        return ".inf" if x > 0 else "-.inf"
    f32 = lambda v: struct.unpack("f", struct.pack("f", v))[0]
    y = f32(x)
    if y == 0:
        return "-0" if math.copysign(1, y) < 0 else "0"
    for p in range(1, 10):  # the shortest digits that give the float32 back
        e = "%.*e" % (p - 1, abs(y))
        if f32(float(e)) == abs(y):
            break
    mant, exp = e.split("e")
    digits, exp = mant.replace(".", "").rstrip("0") or "0", int(exp)
    if exp < -4 or exp >= 6:
        out = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + "e%s%02d" % ("-" if exp < 0 else "+", abs(exp))
    else:
        dp = exp + 1
        if dp <= 0:
            out = "0." + "0" * -dp + digits
        elif dp >= len(digits):
            out = digits + "0" * (dp - len(digits))
        else:
            out = digits[:dp] + "." + digits[dp:]
    return ("-" if y < 0 else "") + out


def json_key(key, mark):
    """The JSON object key sigs.k8s.io/yaml makes of a YAML key (kubectl's view)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return go_float_key(key)
    raise yaml.constructor.ConstructorError(None, None, f"kubectl cannot read the key {key!r}", mark)


class BlockText(str):
    """A string written as a literal block scalar (`|`)."""


class KubectlLoader(yaml.SafeLoader):
    """PyYAML with the rules kubectl reads manifests with (sigs.k8s.io/yaml,
    go-yaml v2): plain scalars resolved by `go_resolve`, keys turned into
    the JSON keys kubectl makes of them, two keys that become the same JSON
    key refused (kubectl would keep one of them at random).
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

    def construct_scalar(self, node):
        value = super().construct_scalar(node)
        # docs/patch-rules.md: a folded block (`>`) is not edited either
        if isinstance(node, yaml.ScalarNode) and node.style == "|":
            return BlockText(value)
        return value

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return go_resolve(value)
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node, deep=False):
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)
        pairs = node.value
        merged, mine = pairs[:len(pairs) - own], pairs[len(pairs) - own:]
        out, seen = {}, {}
        for key_node, value_node in merged:
            out[json_key(self.construct_object(key_node, deep=True), key_node.start_mark)] = \
                self.construct_object(value_node, deep=deep)
        for key_node, value_node in mine:
            key = json_key(self.construct_object(key_node, deep=True), key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", seen[key],
                    f"kubectl reads this key and an earlier one both as {key!r}", key_node.start_mark)
            seen[key] = key_node.start_mark
            out[key] = self.construct_object(value_node, deep=deep)
        return out


KubectlLoader.add_constructor(
    "tag:yaml.org,2002:bool", lambda loader, node: BOOLS[loader.construct_scalar(node)])
KubectlLoader.add_constructor(
    "tag:yaml.org,2002:int",
    lambda loader, node: go_int(loader.construct_scalar(node).replace("_", "")))
KubectlLoader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: SPECIAL_FLOATS.get(loader.construct_scalar(node))
    if loader.construct_scalar(node) in SPECIAL_FLOATS
    else float(loader.construct_scalar(node).replace("_", "")))


def load_all(data):
    return list(yaml.load_all(data, Loader=KubectlLoader))


def load(data):
    return [normalise(d) for d in load_all(data)]


def normalise(doc):
    """Replace a ConfigMap's mutate.yaml string by its parsed meaning (also
    in the items of a `kind: List`, which the edits reach too)."""
    if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        doc["items"] = [normalise(item) for item in doc["items"]]
    if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and isinstance(doc.get("data"), dict):
        s = doc["data"].get("mutate.yaml")
        # docs/patch-rules.md: only a block scalar's content is edited (a
        # quoted or JSON string is left as it is, with a warning)
        if isinstance(s, BlockText):
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
    kind = lambda x: str if isinstance(x, str) else type(x)  # a block scalar is a string too
    if kind(a) is not kind(b):
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
