"""Build the docker sandbox images.

`build_offline` makes ``memarch-sandbox:offline`` without any registry: a skeleton rootfs
(empty mount points, merged-/usr symlinks, an /etc/passwd that knows ``nobody``) packed as
a tar in memory and loaded with ``docker import``. The docker backend binds the allow-list of
``sandboxes/backends/view.py`` (libraries, interpreter, site-packages, the ``design_space``
and ``sandboxes`` packages, caches) read-only at run time.

`build_dockerfile` builds ``sandboxes/images/Dockerfile`` (or ``Dockerfile.cuda``) with the
checkout as context, for nodes that can pull ``python:3.11-slim`` / a CUDA base.
"""
from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from sandboxes.backends.docker import OFFLINE_IMAGE, OFFLINE_LABEL

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {"cpu": "Dockerfile", "cuda": "Dockerfile.cuda"}
SYMLINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
# Mount points only; the engine creates any other path an allow-listed bind needs.
DIRS = {"usr": 0o755, "etc": 0o755, "tmp": 0o1777, "job": 0o777, "proc": 0o555, "sys": 0o555, "dev": 0o755,
        "opt": 0o755}
PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def skeleton_tar() -> bytes:
    """The offline rootfs: directories, symlinks and three small files."""
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, mode in DIRS.items():
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, now
            tar.addfile(info)
        for name, target in SYMLINKS.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, now
            tar.addfile(info)
        for name, text in {"etc/passwd": PASSWD, "etc/group": GROUP, "etc/hostname": "sandbox\n"}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_offline(client, tag: str = OFFLINE_IMAGE) -> str:
    """docker import the skeleton; returns the image id."""
    repository, _, version = tag.partition(":")
    changes = [f"LABEL {OFFLINE_LABEL}=1", "USER 65534:65534", "WORKDIR /job", 'CMD ["/bin/sh"]']
    client.api.import_image_from_data(skeleton_tar(), repository=repository, tag=version or "latest",
                                      changes=changes)
    return client.images.get(tag).id


def build_dockerfile(client, tag: str, variant: str = "cpu") -> str:
    """docker build a Dockerfile under sandboxes/images with the checkout as context."""
    dockerfile = f"sandboxes/images/{DOCKERFILES[variant]}"
    image, _logs = client.images.build(path=str(REPO), dockerfile=dockerfile, tag=tag, rm=True, pull=True)
    return image.id
