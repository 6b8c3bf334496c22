"""MNIST on disk: the IDX file format, checksums, where the files are found, and downloading.

MNIST ships as four IDX files, usually gzip-compressed. An IDX file is a tiny header (two zero
bytes, a dtype code, the number of dimensions, then each dimension as a big-endian uint32)
followed by the array in C order, big-endian. Fashion-MNIST and other "drop-in" data sets use
the same four file names and layout, so everything here works for them too.

Look-up order for :func:`load_mnist` (the same as the ``--data-dir`` option of the CLI):

1. an explicit ``data_dir``, used alone: a wrong path is reported, never replaced by another;
2. otherwise the folder in the environment variable ``TINYGRAD_EDU_DATA``;
3. then the user cache folder, :func:`default_cache_dir`.

Each folder may hold the files itself or in an ``mnist/`` child. Nothing is ever written next
to the data (it may be read-only); :func:`download_mnist` writes to the cache folder.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import atomic_write

ENV_VAR = "TINYGRAD_EDU_DATA"

# IDX dtype code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}

SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file (bad gzip, wrong magic, wrong size)."""


class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum."""


@dataclass(frozen=True)
class FileChecksum:
    """What a published file must match; ``None`` means "not published, not checked"."""

    size: int | None = None
    md5: str | None = None
    sha256: str | None = None


# Published checksums of the original MNIST distribution (see data/mnist/README.md): the four
# .gz files, and the SHA-256 and size of their decompressed contents.
MNIST_CHECKSUMS: dict[str, FileChecksum] = {
    "train-images-idx3-ubyte.gz": FileChecksum(
        9912422,
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte.gz": FileChecksum(
        28881,
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte.gz": FileChecksum(
        1648877,
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte.gz": FileChecksum(
        4542,
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    "train-images-idx3-ubyte": FileChecksum(
        47040016, sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte": FileChecksum(
        60008, sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte": FileChecksum(
        7840016, sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte": FileChecksum(
        10008, sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

# Fashion-MNIST (Zalando Research): the MD5s it publishes (also used by torchvision).
FASHION_MNIST_CHECKSUMS: dict[str, FileChecksum] = {
    "train-images-idx3-ubyte.gz": FileChecksum(md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels-idx1-ubyte.gz": FileChecksum(md5="25c81989df183df01b3e8a0aad5dffbe"),
    "t10k-images-idx3-ubyte.gz": FileChecksum(md5="bef4ecab320f06d8554ea6380940ec79"),
    "t10k-labels-idx1-ubyte.gz": FileChecksum(md5="bb300cfdad3c16e7a12a480ee83cd310"),
}

# Public mirrors, tried in order: the one torchvision uses, then Google's CVDF copy.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)


# ---------------------------------------------------------------------------------------------
# IDX reading and writing


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into a native-endian, writable numpy array.

    Gzip is recognised by a ``.gz`` name or by its magic bytes. Raises :class:`IDXFormatError`
    (a ValueError) naming the file if it is not a well-formed IDX file: bad gzip, wrong magic,
    unknown dtype code, or a data size that disagrees with the header (short or trailing bytes).
    """
    path = Path(path)
    with open(path, "rb") as raw_file:
        is_gzip = path.name.endswith(".gz") or raw_file.read(2) == b"\x1f\x8b"
        raw_file.seek(0)
        try:
            payload = gzip.GzipFile(fileobj=raw_file).read() if is_gzip else raw_file.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise IDXFormatError(f"{path}: not a valid gzip file ({error})") from error
    return _parse_idx(payload, path)


def _parse_idx(payload: bytes, path: Path) -> np.ndarray:
    """Check the header against the payload length and return the array it describes."""
    if len(payload) < 4:
        raise IDXFormatError(f"{path}: {len(payload)} bytes, too short for an IDX header")
    zero, dtype_code, ndim = int.from_bytes(payload[:2], "big"), payload[2], payload[3]
    if zero != 0 or dtype_code not in IDX_DTYPES:
        raise IDXFormatError(
            f"{path}: not an IDX file (magic 0x{int.from_bytes(payload[:4], 'big'):08X}; "
            f"expected 0x0000 then a dtype code in {[hex(code) for code in IDX_DTYPES]})"
        )
    header_size = 4 + 4 * ndim
    if len(payload) < header_size:
        raise IDXFormatError(f"{path}: header cut short ({len(payload)} of {header_size} bytes)")
    shape = tuple(
        int.from_bytes(payload[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim)
    )
    dtype = IDX_DTYPES[dtype_code]
    expected_size = header_size + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(payload) != expected_size:
        problem = "truncated" if len(payload) < expected_size else "has trailing bytes"
        raise IDXFormatError(
            f"{path}: {problem}: header says shape {shape} of {dtype.name}, which needs "
            f"{expected_size} bytes, but the data has {len(payload)}"
        )
    array = np.frombuffer(payload, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a copy: native order and writable


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed if the name ends in ``.gz``.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (any number of dims >= 1).
    The write is atomic: a temporary file in the same folder, renamed over ``path`` only once
    complete, so a failure never leaves a half-written file.
    """
    path = Path(path)
    if not isinstance(array, np.ndarray):
        raise TypeError(f"write_idx: expected a numpy array, got {type(array).__name__}")
    native = array.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        allowed = ", ".join(dtype.newbyteorder("=").name for dtype in IDX_DTYPES.values())
        raise TypeError(f"write_idx: IDX cannot store dtype {array.dtype}; use one of {allowed}")
    if not 1 <= array.ndim <= 255 or any(size >= 2**32 for size in array.shape):
        raise ValueError(f"write_idx: IDX needs 1 to 255 dims each < 2**32, got {array.shape}")
    header = bytes([0, 0, _IDX_CODES[native], array.ndim]) + b"".join(
        size.to_bytes(4, "big") for size in array.shape
    )
    body = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    with atomic_write(path) as out_file:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=out_file, mode="wb", mtime=0) as gz_file:
                gz_file.write(header)
                gz_file.write(body)
        else:
            out_file.write(header)
            out_file.write(body)


# ---------------------------------------------------------------------------------------------
# Checksums


def _file_digests(path: Path) -> tuple[int, str, str]:
    """Size, MD5 and SHA-256 of a file, read in chunks."""
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    with open(path, "rb") as in_file:
        while chunk := in_file.read(1 << 20):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def _checksum_mismatch(expected: FileChecksum, size: int, md5: str, sha256: str) -> str | None:
    """Describe how a file differs from ``expected``, or None when it matches."""
    for name, want, got in (
        ("size", expected.size, size),
        ("MD5", expected.md5, md5),
        ("SHA-256", expected.sha256, sha256),
    ):
        if want is not None and want != got:
            return f"{name} is {got}, expected {want}"
    return None


def verify_mnist(
    folder: str | os.PathLike, checksums: Mapping[str, FileChecksum] = MNIST_CHECKSUMS
) -> None:
    """Check the four files in ``folder`` (each ``.gz`` or decompressed) against ``checksums``.

    Raises FileNotFoundError for a missing file and ValueError naming the first file whose size
    or hash differs. Hashing MNIST takes a fraction of a second, so loading skips it by default.
    """
    folder = Path(folder)
    paths = []
    for base_name in (name for pair in SPLIT_FILES.values() for name in pair):
        path = _find_file(folder, base_name)
        if path is None:
            raise FileNotFoundError(f"verify_mnist: {base_name}[.gz] not found in {folder}")
        paths.append(path)
    for path in paths:
        if path.name not in checksums:
            raise ValueError(f"verify_mnist: no published checksum for {path.name}")
        mismatch = _checksum_mismatch(checksums[path.name], *_file_digests(path))
        if mismatch:
            raise ValueError(f"verify_mnist: {path} does not match the published file: {mismatch}")


# ---------------------------------------------------------------------------------------------
# Finding and loading


def default_cache_dir() -> Path:
    """The user cache folder for MNIST: ``$XDG_CACHE_HOME/tinygrad_edu/mnist``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache`` when unset or empty.
    """
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "tinygrad_edu" / "mnist"


def _find_file(folder: Path, base_name: str) -> Path | None:
    """``folder/base_name.gz`` or ``folder/base_name``, whichever exists (gzip first)."""
    for name in (base_name + ".gz", base_name):
        if (folder / name).is_file():
            return folder / name
    return None


def _check_split(split: str) -> tuple[str, str]:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {sorted(SPLIT_FILES)}, got {split!r}")
    return SPLIT_FILES[split]


def locate_mnist(
    data_dir: str | os.PathLike | None = None, split: str = "train"
) -> tuple[Path, Path]:
    """Find the images and labels files of ``split``; return their paths.

    Searches ``data_dir`` alone if given; otherwise ``$TINYGRAD_EDU_DATA`` then
    :func:`default_cache_dir`. In each folder the files may sit directly or in ``mnist/``.
    Raises FileNotFoundError naming the files and every folder searched; a folder holding only
    one of the two files is reported as such rather than skipped.
    """
    names = _check_split(split)
    if data_dir is not None:
        roots = [Path(data_dir).expanduser()]
        if not roots[0].is_dir():
            raise FileNotFoundError(f"data_dir {roots[0]} does not exist or is not a folder")
    else:
        roots = [Path(os.environ[ENV_VAR]).expanduser()] if os.environ.get(ENV_VAR) else []
        roots.append(default_cache_dir())
    searched = [folder for root in roots for folder in (root, root / "mnist")]
    for folder in searched:
        found = [_find_file(folder, name) for name in names]
        if all(found):
            return found[0], found[1]
        if any(found):
            missing = names[found.index(None)]
            raise FileNotFoundError(
                f"{folder} holds only part of MNIST {split}: {missing}[.gz] "
                "is missing (an interrupted copy?)"
            )
    raise FileNotFoundError(
        f"MNIST {split} files {names[0]}[.gz] and {names[1]}[.gz] not found. Searched: "
        + ", ".join(str(folder) for folder in searched)
        + (
            ". "
            if data_dir is not None
            else f" (data_dir not given, so ${ENV_VAR} then the cache folder). "
        )
        + "Point data_dir or $TINYGRAD_EDU_DATA at the folder holding them, or fetch them "
        "with tinygrad_edu.data.download_mnist()."
    )


def load_mnist(
    data_dir: str | os.PathLike | None = None, split: str = "train", verify: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST (or any data set in its IDX layout, such as Fashion-MNIST).

    Returns ``(images, labels)``: images uint8 of shape (N, rows, cols) with 0 = background and
    255 = full ink, labels uint8 of shape (N,). ``split`` is "train" or "test". Files are found
    as :func:`locate_mnist` describes. The structure is validated (magic numbers, dims, sizes,
    matching counts), not the content. ``verify=True`` also checks both files against
    :data:`MNIST_CHECKSUMS` (MNIST only).
    """
    images_path, labels_path = locate_mnist(data_dir, split)
    if verify:
        for path in (images_path, labels_path):
            mismatch = _checksum_mismatch(MNIST_CHECKSUMS[path.name], *_file_digests(path))
            if mismatch:
                raise ValueError(f"{path} does not match the published MNIST file: {mismatch}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    for path, array, ndim, magic in (
        (images_path, images, 3, 0x803),
        (labels_path, labels, 1, 0x801),
    ):
        if array.dtype != np.uint8 or array.ndim != ndim:
            raise IDXFormatError(
                f"{path}: expected a {ndim}-D unsigned-byte IDX file (magic 0x{magic:08X}), "
                f"got {array.ndim}-D {array.dtype}"
            )
    if len(images) != len(labels):
        raise IDXFormatError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    return images, labels


# ---------------------------------------------------------------------------------------------
# Downloading


def download_mnist(
    dest: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    checksums: Mapping[str, FileChecksum] | None = None,
) -> Path:
    """Download the four MNIST ``.gz`` files into ``dest`` and return ``dest``.

    ``dest`` defaults to :func:`default_cache_dir`; ``mirrors`` (base URLs) to
    :data:`MNIST_MIRRORS`, tried in order for each file; ``checksums`` to
    :data:`MNIST_CHECKSUMS`. Files already present and matching are skipped. Each download is
    checked before it is renamed into place, so no partial or wrong file is ever left.
    Raises :class:`DownloadError` (an OSError) naming every mirror tried and why it failed.
    For another data set (e.g. ``FASHION_MNIST_MIRRORS`` with ``FASHION_MNIST_CHECKSUMS``)
    pass ``dest`` too, so the MNIST cache is not overwritten.
    """
    if dest is None and checksums is not None and checksums is not MNIST_CHECKSUMS:
        raise ValueError(
            "download_mnist: pass dest= when downloading another data set, so "
            "the MNIST cache folder is not overwritten"
        )
    dest = Path(dest).expanduser() if dest is not None else default_cache_dir()
    mirrors = list(MNIST_MIRRORS if mirrors is None else mirrors)
    checksums = MNIST_CHECKSUMS if checksums is None else checksums
    if not mirrors:
        raise ValueError("download_mnist: mirrors is empty")
    dest.mkdir(parents=True, exist_ok=True)
    for base_name in (name for pair in SPLIT_FILES.values() for name in pair):
        name = base_name + ".gz"
        if name not in checksums:
            raise ValueError(f"download_mnist: checksums has no entry for {name}")
        target = dest / name
        if target.is_file() and _checksum_mismatch(checksums[name], *_file_digests(target)) is None:
            continue
        failures = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            reason = _download_checked(url + name, target, checksums[name], timeout)
            if reason is None:
                break
            failures.append(f"  {url + name}: {reason}")
        else:
            raise DownloadError(
                f"could not download {name} from any of {len(mirrors)} "
                "mirror(s):\n" + "\n".join(failures)
            )
    return dest


def _download_checked(url: str, target: Path, expected: FileChecksum, timeout: float) -> str | None:
    """Fetch ``url`` into ``target`` if it matches ``expected``; return why not, or None.

    Network and HTTP failures become the returned reason (the caller tries the next mirror);
    local disk errors propagate, since another mirror would not fix them.
    """
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    try:
        with atomic_write(target) as out_file:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except (OSError, http.client.HTTPException, ValueError) as error:
                raise _MirrorFailed(f"{type(error).__name__}: {error}") from error
            with response:
                while True:
                    try:
                        chunk = response.read(1 << 20)
                    except (OSError, http.client.HTTPException) as error:
                        raise _MirrorFailed(f"{type(error).__name__}: {error}") from error
                    if not chunk:
                        break
                    out_file.write(chunk)
                    md5.update(chunk)
                    sha256.update(chunk)
                    size += len(chunk)
            mismatch = _checksum_mismatch(expected, size, md5.hexdigest(), sha256.hexdigest())
            if mismatch:
                raise _MirrorFailed(f"downloaded file is wrong: {mismatch}")
    except _MirrorFailed as failure:  # raised inside atomic_write, so the temp file is gone
        return str(failure)
    return None


class _MirrorFailed(Exception):
    """Internal: this mirror did not deliver the right file; the message says why."""
