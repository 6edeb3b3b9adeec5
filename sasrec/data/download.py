"""Download, verify and unpack MovieLens 1M into a local cache.

`fetch_ml_1m` returns a directory holding ``ratings.dat`` and ``movies.dat``. The zip is kept in the
cache directory (`default_cache_dir`: ``$SASREC_CACHE_DIR`` or ``~/.cache/sasrec``) as ``ml-1m.zip`` and
is only downloaded when it is missing or fails its SHA-256 check; both the zip and the extracted
directory are put in place with a rename, so an interrupted run never leaves a half-written file that
a later run would trust. Standard library only: this module is imported on the CLI's fast paths.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import pathlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from typing import Optional, Union

ML_1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ML_1M_SHA256 = "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"

ZIP_NAME = "ml-1m.zip"
EXTRACT_DIR = "ml-1m"
EXTRACTED_FILES = ("ratings.dat", "movies.dat")
# Written last into the extracted directory: the SHA-256 of the zip it came from.
_MARKER = ".source-sha256"
_CHUNK = 1 << 20

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]


class DatasetUnavailable(RuntimeError):
    """MovieLens 1M could not be downloaded, verified or unpacked; the message says what to do."""


def default_cache_dir() -> pathlib.Path:
    """``$SASREC_CACHE_DIR`` when set, else ``~/.cache/sasrec``."""
    configured = os.environ.get("SASREC_CACHE_DIR")
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path.home() / ".cache" / "sasrec"


def fetch_ml_1m(
    cache_dir: Optional[PathLike] = None,
    url: str = ML_1M_URL,
    sha256: str = ML_1M_SHA256,
    timeout: float = 30.0,
) -> pathlib.Path:
    """The directory (``<cache_dir>/ml-1m``) holding MovieLens 1M's ``ratings.dat`` and ``movies.dat``.

    Uses ``<cache_dir>/ml-1m.zip`` when it is there and matches `sha256`, otherwise downloads it from
    `url` (any URL urllib opens, ``file://`` included) once. Raises `DatasetUnavailable` when the
    download fails, the checksum does not match or the zip lacks the files.
    """
    cache = pathlib.Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    zip_path = cache / ZIP_NAME
    out_dir = cache / EXTRACT_DIR
    sha256 = sha256.lower()

    if _extracted_from(out_dir) == sha256:
        return out_dir

    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unavailable(f"the cache directory {cache} could not be created ({error})",
                           zip_path, url) from error

    cached_note = ""
    if zip_path.is_file():
        digest = _sha256_of(zip_path)
        if digest == sha256:
            return _extract(zip_path, out_dir, sha256, url)
        logger.warning("%s has SHA-256 %s, expected %s: downloading it again from %s",
                       zip_path, digest, sha256, url)
        cached_note = f" (the {zip_path} already there did not match the expected SHA-256 either)"

    _download(url, zip_path, sha256, timeout, cached_note)
    return _extract(zip_path, out_dir, sha256, url)


def _download(url: str, zip_path: pathlib.Path, sha256: str, timeout: float, cached_note: str) -> None:
    logger.info("downloading %s to %s", url, zip_path)
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(dir=zip_path.parent, prefix=f".{ZIP_NAME}.",
                                         suffix=".part", delete=False) as tmp:
            tmp_name = tmp.name
            digest = hashlib.sha256()
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    tmp.write(chunk)
        actual = digest.hexdigest()
        if actual != sha256:
            raise _unavailable(
                f"the file downloaded from {url} has SHA-256 {actual}, not the expected {sha256}"
                f"{cached_note}, so it is not the MovieLens 1M release this project was written for",
                zip_path, url)
        os.replace(tmp_name, zip_path)
        tmp_name = None
    except DatasetUnavailable:
        raise
    except (OSError, ValueError, http.client.HTTPException) as error:
        # urllib.error.URLError/HTTPError and socket timeouts are OSErrors; a malformed URL is a ValueError.
        raise _unavailable(f"downloading {url} failed ({_describe(error)}){cached_note}",
                           zip_path, url) from error
    finally:
        if tmp_name is not None:
            _remove_quietly(tmp_name)


def _extract(zip_path: pathlib.Path, out_dir: pathlib.Path, sha256: str, url: str) -> pathlib.Path:
    if _extracted_from(out_dir) == sha256:
        return out_dir
    tmp_dir = None
    try:
        tmp_dir = pathlib.Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{EXTRACT_DIR}."))
        with zipfile.ZipFile(zip_path) as archive:
            members = {}
            for name in EXTRACTED_FILES:
                member = _find_member(archive, name)
                if member is None:
                    raise _unavailable(f"{zip_path} has no {name} (its files are "
                                       f"{', '.join(archive.namelist()[:10]) or 'none'})", zip_path, url)
                members[name] = member
            for name, member in members.items():
                with archive.open(member) as source, open(tmp_dir / name, "wb") as target:
                    shutil.copyfileobj(source, target, _CHUNK)
        (tmp_dir / _MARKER).write_text(sha256 + "\n", encoding="ascii")
        _move_into_place(tmp_dir, out_dir, sha256)
        tmp_dir = None
    except DatasetUnavailable:
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise _unavailable(f"unpacking {zip_path} into {out_dir} failed ({_describe(error)})",
                           zip_path, url) from error
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir


def _move_into_place(tmp_dir: pathlib.Path, out_dir: pathlib.Path, sha256: str) -> None:
    """Renames `tmp_dir` to `out_dir`, replacing a stale `out_dir` (a directory rename can't overwrite)."""
    aside = None
    if out_dir.exists() or out_dir.is_symlink():
        aside = pathlib.Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{EXTRACT_DIR}.old."))
        os.replace(out_dir, aside / EXTRACT_DIR)
    try:
        os.rename(tmp_dir, out_dir)
    except OSError:
        # Another process may have put a good copy there in the meantime: use it.
        if _extracted_from(out_dir) != sha256:
            raise
        shutil.rmtree(tmp_dir, ignore_errors=True)
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def _find_member(archive: zipfile.ZipFile, name: str) -> Optional[zipfile.ZipInfo]:
    candidates = [info for info in archive.infolist()
                  if not info.is_dir() and info.filename.replace("\\", "/").rsplit("/", 1)[-1] == name]
    if not candidates:
        return None
    preferred = [info for info in candidates if info.filename == f"{EXTRACT_DIR}/{name}"]
    return (preferred or sorted(candidates, key=lambda info: info.filename.count("/")))[0]


def _extracted_from(out_dir: pathlib.Path) -> Optional[str]:
    """The SHA-256 of the zip `out_dir` was unpacked from, or None when it is not complete."""
    try:
        if not all((out_dir / name).is_file() for name in EXTRACTED_FILES):
            return None
        return (out_dir / _MARKER).read_text(encoding="ascii").strip().lower()
    except (OSError, UnicodeDecodeError):
        return None


def _sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unavailable(what: str, zip_path: pathlib.Path, url: str) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"MovieLens 1M is not available: {what}. Download {url} by other means and place it at "
        f"{zip_path} (it is checked against its SHA-256 and unpacked on the next run), or pass "
        f"`--ratings FILE --format ml-1m` to use a ratings.dat you already have.")


def _describe(error: BaseException) -> str:
    reason = None
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        reason = error.reason       # a URLError wraps the real cause; an HTTPError says it itself
    text = str(reason if reason is not None else error) or type(error).__name__
    return text.rstrip(".")


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
