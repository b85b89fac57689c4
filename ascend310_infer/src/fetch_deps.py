#!/usr/bin/env python3
"""Fetch the third-party pieces the C++ harness builds against, from package registries, verified and cached.

    python3 ascend310_infer/src/fetch_deps.py onnxruntime-headers   # prints the include dir
    python3 ascend310_infer/src/fetch_deps.py mindspore-lite        # prints the install dir (include/, lib/)

onnxruntime-headers: the official ONNX Runtime C/C++ headers (MIT, Microsoft) from the npm package
``com.github.asus4.onnxruntime@0.4.9``, a repackaging of the official release builds. The tarball is read over
HTTPS from the registry's JSON metadata (no Node.js or npm needed), checked against the sha512 integrity the
registry records for it, and only the headers and the licence are kept; each header is then checked against the
sha256 recorded in this repository (``onnxruntime_headers.sha256`` beside this file), on every call, so a
changed header in the cache fails the build instead of being compiled.

mindspore-lite: MindSpore's own C++ inference API (``include/api``) and ``lib/libmindspore-extendrt_python.so``
from the PyPI wheel ``mindspore-lite==2.0.0`` (cp37 manylinux1 x86_64; its Python module is not used), fetched
with ``pip download`` (pip checks the index's sha256) and unpacked.

Both are cached under ``$MINDZOO_CACHE`` (default ``${XDG_CACHE_HOME:-~/.cache}/mindzoo``), outside the
repository. Standard library only, so a fresh machine's ``python3`` runs it. Exit status: 0 ok (the path is the
last line of stdout), 2 with a one-line ``fetch_deps.py: error: ...`` on stderr for anything that fails.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
NPM_REGISTRY = "https://registry.npmjs.org"
ORT_PACKAGE = "com.github.asus4.onnxruntime"
ORT_VERSION = "0.4.9"
ORT_HEADERS_IN_PACKAGE = ("package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/"
                          "onnxruntime.framework/Headers/")
ORT_LICENSE_IN_PACKAGE = "package/LICENSE"
ORT_CHECKSUMS = HERE / "onnxruntime_headers.sha256"
LITE_PACKAGE = "mindspore-lite"
LITE_VERSION = "2.0.0"
LITE_WHEEL_TAGS = ["--python-version", "3.7", "--platform", "manylinux1_x86_64", "--only-binary=:all:"]
LITE_PYTHON_MODULE_PREFIX = "_c_lite_wrapper"  # the cp37 extension module: not part of the C++ API
CHUNK = 1 << 20


class FetchError(Exception):
    """A failed or unverifiable fetch: printed on one line, exit 2."""


def cache_root() -> Path:
    explicit = os.environ.get("MINDZOO_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mindzoo"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _urlopen(url: str, what: str):
    try:
        return urllib.request.urlopen(url, timeout=120)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(f"cannot reach the npm registry for {what} ({url}: {reason}); set ORT_INCLUDE_DIR or "
                         f"ORT_ROOT to ONNX Runtime headers you have") from None


def npm_metadata(package: str, version: str) -> Dict[str, str]:
    """The registry's ``dist`` record of one package version: ``tarball`` URL and ``integrity``."""
    url = f"{NPM_REGISTRY}/{package}/{version}"
    with _urlopen(url, f"{package}@{version}") as response:
        try:
            dist = json.load(response)["dist"]
            return {"tarball": str(dist["tarball"]), "integrity": str(dist["integrity"])}
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"the npm registry's metadata for {package}@{version} has no dist.tarball/"
                             f"dist.integrity ({type(exc).__name__})") from None


def check_integrity(path: Path, integrity: str, what: str) -> None:
    """Subresource-integrity check (``sha512-<base64>``), as npm does before unpacking a tarball."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha512", "sha384", "sha256") or not expected:
        raise FetchError(f"unsupported integrity {integrity[:20]!r} recorded for {what}")
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    got = base64.b64encode(digest.digest()).decode()
    if got != expected:
        raise FetchError(f"{path} does not match the {algorithm} integrity the npm registry records for {what} "
                         f"(got {algorithm}-{got[:16]}..., expected {integrity[:23]}...): download corrupted or "
                         f"tampered with; nothing was unpacked")


def download(url: str, dest: Path, what: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _urlopen(url, what) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, CHUNK)


def recorded_checksums(path: Path = ORT_CHECKSUMS) -> Dict[str, str]:
    """``sha256sum`` lines of the headers this repository was checked with: file name -> hex digest."""
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def verify_headers(include_dir: Path, sums: Dict[str, str]) -> None:
    """Every recorded header present with its recorded sha256, and no other header."""
    present = sorted(p.name for p in include_dir.glob("*.h"))
    unexpected = sorted(set(present) - set(sums))
    if unexpected:
        raise FetchError(f"{include_dir / unexpected[0]} is not among the headers recorded in {ORT_CHECKSUMS}; "
                         f"delete {include_dir.parent} to fetch them again")
    for name, digest in sorted(sums.items()):
        path = include_dir / name
        if not path.is_file():
            raise FetchError(f"ONNX Runtime header {path} is missing; delete {include_dir.parent} to fetch them again")
        got = _sha256(path)
        if got != digest:
            raise FetchError(f"ONNX Runtime header {path} does not match its sha256 recorded in {ORT_CHECKSUMS} "
                             f"(got {got[:16]}..., expected {digest[:16]}...): delete {include_dir.parent} to "
                             f"fetch it again")


def _extract_headers(tarball: Path, out_dir: Path) -> None:
    include = out_dir / "include"
    include.mkdir(parents=True)
    found = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            name = member.name
            if not member.isfile():
                continue
            in_headers = name.startswith(ORT_HEADERS_IN_PACKAGE) and "/" not in name[len(ORT_HEADERS_IN_PACKAGE):]
            if in_headers and name.endswith(".h"):
                target = include / Path(name).name
            elif name == ORT_LICENSE_IN_PACKAGE:
                target = out_dir / "LICENSE"
            else:
                continue
            with archive.extractfile(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            found += name.endswith(".h")
    if not found:
        raise FetchError(f"{tarball} has no headers under {ORT_HEADERS_IN_PACKAGE}")


@contextmanager
def staged_install(dest: Path) -> Iterator[Tuple[Path, Path]]:
    """``(work, out)``: a scratch dir for downloads and the dir to build the install in, both beside ``dest``;
    ``out`` replaces ``dest`` only if the block completes, so an interrupted fetch never leaves half an install."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
    try:
        out = work / "out"
        yield work, out
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fetch_onnxruntime_headers(tarball: Optional[Path] = None) -> Path:
    """Include dir with the verified ONNX Runtime headers (fetched and unpacked once, checked every time).

    ``tarball``: use this local file instead of downloading (still checked against the registry's integrity).
    """
    sums = recorded_checksums()
    dest = cache_root() / "onnxruntime-headers" / f"{ORT_PACKAGE}-{ORT_VERSION}"
    if (dest / "include").is_dir() and tarball is None:
        verify_headers(dest / "include", sums)
        return dest / "include"
    what = f"{ORT_PACKAGE}@{ORT_VERSION}"
    dist = npm_metadata(ORT_PACKAGE, ORT_VERSION)
    with staged_install(dest) as (work, out):
        if tarball is None:
            tarball = work / f"{ORT_PACKAGE}-{ORT_VERSION}.tgz"
            print(f"fetch_deps.py: downloading {dist['tarball']} (~150 MB; only the headers are kept)",
                  file=sys.stderr, flush=True)
            download(dist["tarball"], tarball, what)
        check_integrity(tarball, dist["integrity"], what)
        _extract_headers(tarball, out)
        verify_headers(out / "include", sums)
        (out / "SOURCE.txt").write_text(
            f"ONNX Runtime C/C++ API headers (MIT, Copyright (c) Microsoft Corporation; see LICENSE)\n"
            f"from npm package {what} ({dist['tarball']}, {dist['integrity']}),\n{ORT_HEADERS_IN_PACKAGE}\n",
            encoding="utf-8")
    return dest / "include"


def _lite_members(names: Iterable[str]) -> List[str]:
    chosen = []
    for name in names:
        if name.endswith("/"):
            continue
        if name.startswith("mindspore_lite/include/"):
            chosen.append(name)
        elif name.startswith("mindspore_lite/lib/") and not Path(name).name.startswith(LITE_PYTHON_MODULE_PREFIX):
            chosen.append(name)
    return chosen


def fetch_mindspore_lite() -> Path:
    """Install dir (include/api/*.h, lib/*.so, version.txt) of MindSpore Lite's C++ API from its PyPI wheel."""
    dest = cache_root() / f"mindspore-lite-{LITE_VERSION}"
    library = dest / "lib" / "libmindspore-extendrt_python.so"
    if (dest / "include" / "api" / "model.h").is_file() and library.is_file():
        return dest
    with staged_install(dest) as (work, out):
        print(f"fetch_deps.py: pip download {LITE_PACKAGE}=={LITE_VERSION} (169 MB)", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(work),
                               f"{LITE_PACKAGE}=={LITE_VERSION}", *LITE_WHEEL_TAGS],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wheels = sorted(work.glob("mindspore_lite-*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
            raise FetchError(f"pip download {LITE_PACKAGE}=={LITE_VERSION} failed (exit {proc.returncode}): {last} "
                             f"(is PyPI reachable? or set MINDSPORE_PATH to a MindSpore Lite install)")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in _lite_members(wheel.namelist()):
                target = out / Path(name).relative_to("mindspore_lite")
                target.parent.mkdir(parents=True, exist_ok=True)
                with wheel.open(name) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
        if not (out / "include" / "api" / "model.h").is_file():
            raise FetchError(f"{wheels[0].name} has no mindspore_lite/include/api/model.h")
        (out / "version.txt").write_text(f"MindSpore Lite {LITE_VERSION} (PyPI {LITE_PACKAGE})\n",
                                         encoding="utf-8")
    return dest


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["onnxruntime-headers", "mindspore-lite"])
    parser.add_argument("--tarball", type=Path, default=None,
                        help="onnxruntime-headers: unpack this local npm tarball instead of downloading it "
                             "(still checked against the registry's integrity)")
    args = parser.parse_args(argv)
    try:
        if args.what == "onnxruntime-headers":
            path = fetch_onnxruntime_headers(args.tarball)
        else:
            path = fetch_mindspore_lite()
    except FetchError as exc:
        print(f"fetch_deps.py: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fetch_deps.py: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
