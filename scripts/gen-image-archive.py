#!/usr/bin/env python3
"""Build container image archives without Docker or a network, for the
`images push` tests and benchmark.

    gen-image-archive.py --kind KIND --out PATH --image NAME:TAG [--image ...]
                         [--platform linux/amd64 ...] [--layers N]
                         [--layer-size BYTES] [--seed S] [--shared-base]

KIND:
  docker-save      a `docker save` tar, classic layout (manifest.json,
                   <id>/layer.tar uncompressed, <id>.json config, repositories);
                   one platform (the first --platform) for every --image
  docker-save-oci  the newer `docker save` layout: an OCI layout (oci-layout,
                   index.json, blobs/sha256/, uncompressed layers) plus the
                   same manifest.json pointing into blobs/
  oci-dir          an OCI image layout directory; each --image is an image
                   index over every --platform, gzip layers, named with
                   org.opencontainers.image.ref.name = NAME:TAG
  oci-tar          the same layout as a tar
  docker-save-containerd
                   `docker save` by Docker with the containerd image store
                   (Docker 27+): an OCI layout whose index.json names an image
                   index over every --platform, with the blobs (gzip layers)
                   of the first platform only, plus manifest.json pointing at
                   that platform's config and gzip layers in blobs/sha256/
                   (none with --skip-manifest-json, like ctr export)
  vendor-flat      another vendor shape: a .tgz with `./`-prefixed paths,
                   PKG/images/<name>-amd64.tar.gz (gzip'd classic docker save
                   tars, tags suffixed -amd64) and PKG/images/all-arm64.tar
                   (one newer-layout docker save of every image, tags
                   suffixed _arm64), where PKG is the --out file's stem
  vendor           the vendor's download: a .tar.gz holding
                   tingyun-k8s-images/<arch>/<name>.tar (one docker save tar per
                   platform, tags suffixed -<arch>), an OCI layout tar nested in
                   it for the first image, and pushImages.sh

Layers are tars with one file of deterministic pseudo-random content (half
random, half repeated text, so gzip has something to do). With
--shared-base every image of a platform shares its first layer.
Prints one JSON line describing what it wrote (per image and platform: the
config digest, the diff_ids, and the layer digests as stored).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import tarfile

MTIME = 1700000000


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def parse_size(s):
    s = s.strip().upper()
    mult = 1
    for suf, m in (("K", 1024), ("M", 1024 * 1024), ("G", 1024 ** 3)):
        if s.endswith(suf):
            s, mult = s[:-1], m
    return int(float(s) * mult)


def payload(seed, size):
    rnd = random.Random(seed)
    half = size // 2
    text = (f"tingyun layer {seed} " * (1 + (size - half) // 16)).encode()[: size - half]
    return rnd.randbytes(half) + text


def layer_tar(name, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = MTIME
        info.mode = 0o644
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gz(b):
    return gzip.compress(b, compresslevel=1, mtime=0)


def split_platform(p):
    parts = p.split("/")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        out["variant"] = parts[2]
    return out


def make_image(image, platform, args, idx):
    """Uncompressed layers and the config of one image for one platform."""
    plat = split_platform(platform)
    layers = []
    for i in range(args.layers):
        if i == 0 and args.shared_base:
            seed = f"{args.seed}-base-{platform}"
            fname = "base/base.bin"
        else:
            seed = f"{args.seed}-{image}-{platform}-{i}"
            fname = f"app/{image.replace('/', '_').replace(':', '_')}-{i}.bin"
        layers.append(layer_tar(fname, payload(seed, args.layer_size)))
    config = {
        "architecture": plat["architecture"],
        "os": plat["os"],
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"], "Labels": {"image": image}},
        "created": "2024-01-01T00:00:00Z",
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))],
        "rootfs": {"type": "layers", "diff_ids": [sha(l) for l in layers]},
    }
    if "variant" in plat:
        config["variant"] = plat["variant"]
    cfg = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return layers, cfg, plat


def add_bytes(t, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = MTIME
    info.mode = 0o644
    t.addfile(info, io.BytesIO(data))


def docker_save(images, platform, args, oci_inside):
    """Bytes of a docker save tar holding `images` for one platform."""
    buf = io.BytesIO()
    report = []
    manifest = []
    repositories = {}
    written = set()
    index = []
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        if oci_inside:
            add_bytes(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for n, image in enumerate(images):
            layers, cfg, plat = make_image(image, platform, args, n)
            cfg_digest = sha(cfg)
            cfg_hex = cfg_digest.split(":")[1]
            layer_paths = []
            for l in layers:
                h = hashlib.sha256(l).hexdigest()
                if oci_inside:
                    p = f"blobs/sha256/{h}"
                else:
                    p = f"{h}/layer.tar"
                if p not in written:
                    written.add(p)
                    add_bytes(t, p, l)
                    if not oci_inside:
                        add_bytes(t, f"{h}/VERSION", b"1.0")
                        add_bytes(t, f"{h}/json", json.dumps({"id": h}).encode())
                layer_paths.append(p)
            cp = f"blobs/sha256/{cfg_hex}" if oci_inside else f"{cfg_hex}.json"
            if cp not in written:
                written.add(cp)
                add_bytes(t, cp, cfg)
            manifest.append({"Config": cp, "RepoTags": [image], "Layers": layer_paths})
            repo, tag = image.rsplit(":", 1)
            repositories.setdefault(repo, {})[tag] = layers and hashlib.sha256(layers[-1]).hexdigest()
            if oci_inside:
                m = {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": len(cfg)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(l), "size": len(l)} for l in layers],
                }
                mb = json.dumps(m, separators=(",", ":")).encode()
                add_bytes(t, f"blobs/sha256/{hashlib.sha256(mb).hexdigest()}", mb)
                index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(mb), "size": len(mb),
                              "annotations": {"io.containerd.image.name": "docker.io/" + image,
                                              "org.opencontainers.image.ref.name": tag}})
            report.append({"image": image, "platform": platform, "config": cfg_digest,
                           "diff_ids": [sha(l) for l in layers]})
        add_bytes(t, "manifest.json", json.dumps(manifest).encode())
        if oci_inside:
            add_bytes(t, "index.json", json.dumps({"schemaVersion": 2, "manifests": index}).encode())
        else:
            add_bytes(t, "repositories", json.dumps(repositories).encode())
    return buf.getvalue(), report


def docker_save_containerd(images, platforms, args):
    """Bytes of a containerd-store docker save: index per image over every
    platform, blobs of the first platform only, manifest.json into blobs/."""
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    report = []
    top = []
    manifest = []
    for n, image in enumerate(images):
        entries = []
        for k, platform in enumerate(platforms):
            layers, cfg, plat = make_image(image, platform, args, n)
            gls = [gz(l) for l in layers]
            m = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg), "size": len(cfg)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(g), "size": len(g)} for g in gls],
            }
            mb = json.dumps(m, separators=(",", ":")).encode()
            entries.append({"mediaType": m["mediaType"], "digest": sha(mb), "size": len(mb), "platform": plat})
            if k == 0:
                for b in gls + [cfg, mb]:
                    files[f"blobs/sha256/{hashlib.sha256(b).hexdigest()}"] = b
                manifest.append({"Config": f"blobs/sha256/{sha(cfg)[7:]}", "RepoTags": [image],
                                 "Layers": [f"blobs/sha256/{sha(g)[7:]}" for g in gls]})
                report.append({"image": image, "platform": platform, "config": sha(cfg), "manifest": sha(mb),
                               "diff_ids": [sha(l) for l in layers], "layers": [sha(g) for g in gls]})
        ix = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
        ib = json.dumps(ix, separators=(",", ":")).encode()
        files[f"blobs/sha256/{hashlib.sha256(ib).hexdigest()}"] = ib
        top.append({"mediaType": ix["mediaType"], "digest": sha(ib), "size": len(ib),
                    "annotations": {"io.containerd.image.name": "docker.io/" + image,
                                    "org.opencontainers.image.ref.name": image.rsplit(":", 1)[1]}})
    files["index.json"] = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                      "manifests": top}).encode()
    if not args.skip_manifest_json:
        files["manifest.json"] = json.dumps(manifest).encode()
    return tar_of(files), report


def oci_layout(images, platforms, args):
    """Files {path: bytes} of an OCI layout: an index per image over platforms."""
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    report = []
    top = []
    for n, image in enumerate(images):
        entries = []
        for platform in platforms:
            layers, cfg, plat = make_image(image, platform, args, n)
            gls = [gz(l) for l in layers]
            for b in gls + [cfg]:
                files[f"blobs/sha256/{hashlib.sha256(b).hexdigest()}"] = b
            m = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg), "size": len(cfg)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(g), "size": len(g)} for g in gls],
            }
            mb = json.dumps(m, indent=2).encode()
            files[f"blobs/sha256/{hashlib.sha256(mb).hexdigest()}"] = mb
            entries.append({"mediaType": m["mediaType"], "digest": sha(mb), "size": len(mb), "platform": plat})
            report.append({"image": image, "platform": platform, "config": sha(cfg), "manifest": sha(mb),
                           "diff_ids": [sha(l) for l in layers], "layers": [sha(g) for g in gls]})
        ix = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
        ib = json.dumps(ix, indent=2).encode()
        files[f"blobs/sha256/{hashlib.sha256(ib).hexdigest()}"] = ib
        top.append({"mediaType": ix["mediaType"], "digest": sha(ib), "size": len(ib),
                    "annotations": {"org.opencontainers.image.ref.name": image}})
        report.append({"image": image, "index": sha(ib)})
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": top}).encode()
    return files, report


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for p in sorted(files):
            add_bytes(t, p, files[p])
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", required=True,
                    choices=["docker-save", "docker-save-oci", "docker-save-containerd", "oci-dir",
                             "oci-tar", "vendor", "vendor-flat"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--image", action="append", required=True, help="NAME:TAG (repeat)")
    ap.add_argument("--platform", action="append", help="OS/ARCH[/VARIANT] (repeat); default linux/amd64 and linux/arm64")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--layer-size", type=parse_size, default=parse_size("64K"))
    ap.add_argument("--seed", default="1")
    ap.add_argument("--shared-base", action="store_true")
    ap.add_argument("--skip-manifest-json", action="store_true",
                    help="docker-save-containerd without manifest.json (ctr export --skip-manifest-json)")
    args = ap.parse_args()
    platforms = args.platform or ["linux/amd64", "linux/arm64"]
    for i in args.image:
        if ":" not in i.rsplit("/", 1)[-1]:
            sys.exit(f"--image {i}: give NAME:TAG")
    report = []
    if args.kind in ("docker-save", "docker-save-oci"):
        data, report = docker_save(args.image, platforms[0], args, args.kind == "docker-save-oci")
        with open(args.out, "wb") as f:
            f.write(data)
    elif args.kind == "docker-save-containerd":
        data, report = docker_save_containerd(args.image, platforms, args)
        with open(args.out, "wb") as f:
            f.write(data)
    elif args.kind == "vendor-flat":
        pkg = re.sub(r"\.(tgz|tar\.gz|tar)$", "", os.path.basename(args.out))
        outer = io.BytesIO()
        with tarfile.open(fileobj=outer, mode="w", format=tarfile.GNU_FORMAT) as t:
            for d in (".", f"./{pkg}", f"./{pkg}/images"):
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                info.mtime = MTIME
                t.addfile(info)
            add_bytes(t, f"./{pkg}/README.txt", b"push the images in images/ to your registry\n")
            for platform in platforms:
                arch = split_platform(platform)["architecture"]
                if arch == "amd64":
                    for image in args.image:
                        data, r = docker_save([f"{image}-amd64"], platform, args, False)
                        name = image.rsplit("/", 1)[-1].split(":")[0]
                        add_bytes(t, f"./{pkg}/images/{name}-amd64.tar.gz", gz(data))
                        report += r
                else:
                    data, r = docker_save([f"{i}_{arch}" for i in args.image], platform, args, True)
                    add_bytes(t, f"./{pkg}/images/all-{arch}.tar", data)
                    report += r
        with open(args.out, "wb") as f:
            f.write(gz(outer.getvalue()))
    elif args.kind == "oci-dir":
        files, report = oci_layout(args.image, platforms, args)
        for p, b in files.items():
            full = os.path.join(args.out, p)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(b)
    elif args.kind == "oci-tar":
        files, report = oci_layout(args.image, platforms, args)
        with open(args.out, "wb") as f:
            f.write(tar_of(files))
    else:  # vendor
        outer = io.BytesIO()
        with tarfile.open(fileobj=outer, mode="w", format=tarfile.PAX_FORMAT) as t:
            add_bytes(t, "tingyun-k8s-images/pushImages.sh", b"#!/bin/sh\necho use docker\n")
            for platform in platforms:
                arch = split_platform(platform)["architecture"]
                for image in args.image[1:] if len(args.image) > 1 else args.image:
                    data, r = docker_save([f"{image}-{arch}"], platform, args, False)
                    name = image.rsplit("/", 1)[-1].replace(":", "_")
                    add_bytes(t, f"tingyun-k8s-images/{arch}/{name}.tar", data)
                    report += r
            if len(args.image) > 1:
                files, r = oci_layout(args.image[:1], platforms, args)
                add_bytes(t, "tingyun-k8s-images/oci/first-image.tar", tar_of(files))
                report += r
        with open(args.out, "wb") as f:
            f.write(gzip.compress(outer.getvalue(), compresslevel=1, mtime=0))
    print(json.dumps({"kind": args.kind, "out": args.out, "images": report}))


if __name__ == "__main__":
    main()
