#!/usr/bin/env python3
"""Make an image tarball of one static binary, without a registry or a Docker daemon:

  mkimage.py OUT.tar NAME BINARY [ARG...]

The image has one layer, holding BINARY as /<basename> (plus empty /etc and /tmp), and runs
`/<basename> ARG...`. The tarball is an OCI image layout (index.json, oci-layout, blobs/) that
also carries Docker's manifest.json, so both `ctr images import` and `docker load` read it; the
name is given in the annotations ctr reads (io.containerd.image.name) and in RepoTags. Every
timestamp is 0, so the same binary gives the same bytes (and the same image id).
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def tar_bytes(entries):
    """entries: (name, bytes or None for a folder, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = mode, 0, 0, 0
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main(out, name, binary, *args):
    exe = os.path.basename(binary)
    with open(binary, "rb") as f:
        layer = tar_bytes([("etc", None, 0o755), ("tmp", None, 0o1777), (exe, f.read(), 0o755)])
    blobs = {}

    def blob(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/" + exe], "Cmd": list(args), "Env": ["PATH=/"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
        "history": [{"created_by": f"tests/kube/mkimage.py {name} {exe}"}],
    }, sort_keys=True).encode()
    config_desc = blob(config, "application/vnd.oci.image.config.v1+json")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config_desc, "layers": [layer_desc]}, sort_keys=True).encode()
    manifest_desc = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    manifest_desc["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest_desc]}
    docker = [{"Config": "blobs/sha256/" + config_desc["digest"][7:], "RepoTags": [name],
               "Layers": ["blobs/sha256/" + layer_desc["digest"][7:]]}]
    entries = [("blobs", None, 0o755), ("blobs/sha256", None, 0o755)]
    entries += [("blobs/sha256/" + d[7:], data, 0o644) for d, data in sorted(blobs.items())]
    entries += [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), 0o644),
                ("index.json", json.dumps(index, sort_keys=True).encode(), 0o644),
                ("manifest.json", json.dumps(docker).encode(), 0o644)]
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(tar_bytes(entries))
    os.replace(tmp, out)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
