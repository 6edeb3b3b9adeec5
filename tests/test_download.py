"""sasrec.data.download against a small ML-1M-shaped zip served from a file:// URL (no network)."""
import hashlib
import os
import zipfile

import pytest

from sasrec.data import download
from sasrec.data.download import DatasetUnavailable, default_cache_dir, fetch_ml_1m

RATINGS = b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
MOVIES = "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James (1996)::Animation\n".encode("latin-1")


def make_zip(path, ratings=RATINGS, movies=MOVIES, prefix="ml-1m/"):
    with zipfile.ZipFile(path, "w") as archive:
        if prefix:
            archive.writestr(prefix, b"")
        archive.writestr(prefix + "ratings.dat", ratings)
        archive.writestr(prefix + "movies.dat", movies)
        archive.writestr(prefix + "users.dat", b"1::F::1::10::48067\n")
        archive.writestr(prefix + "README", b"readme\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "served" / "ml-1m.zip"
    path.parent.mkdir()
    sha = make_zip(path)
    return path.as_uri(), sha


def leftovers(cache):
    return sorted(p.name for p in cache.iterdir() if p.name.startswith("."))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SASREC_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SASREC_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "sasrec"


def test_fetch_downloads_verifies_and_extracts(tmp_path, source):
    url, sha = source
    cache = tmp_path / "cache"
    out = fetch_ml_1m(cache_dir=cache, url=url, sha256=sha)
    assert out == cache / "ml-1m"
    assert (out / "ratings.dat").read_bytes() == RATINGS
    assert (out / "movies.dat").read_bytes() == MOVIES
    assert (cache / "ml-1m.zip").is_file()
    assert leftovers(cache) == []


def test_second_fetch_uses_cache(tmp_path, source):
    url, sha = source
    cache = tmp_path / "cache"
    first = fetch_ml_1m(cache_dir=cache, url=url, sha256=sha)
    again = fetch_ml_1m(cache_dir=cache, url=(tmp_path / "nowhere.zip").as_uri(), sha256=sha)
    assert again == first
    assert (again / "ratings.dat").read_bytes() == RATINGS


def test_cached_zip_is_extracted_without_download(tmp_path, source):
    _, sha = source
    cache = tmp_path / "cache"
    cache.mkdir()
    make_zip(cache / "ml-1m.zip")
    out = fetch_ml_1m(cache_dir=cache, url=(tmp_path / "nowhere.zip").as_uri(), sha256=sha)
    assert (out / "ratings.dat").read_bytes() == RATINGS


def test_env_cache_dir_is_used(tmp_path, source, monkeypatch):
    url, sha = source
    monkeypatch.setenv("SASREC_CACHE_DIR", str(tmp_path / "env-cache"))
    assert fetch_ml_1m(url=url, sha256=sha) == tmp_path / "env-cache" / "ml-1m"


def test_corrupt_cached_zip_is_downloaded_again(tmp_path, source):
    url, sha = source
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-1m.zip").write_bytes(b"truncated")
    out = fetch_ml_1m(cache_dir=cache, url=url, sha256=sha)
    assert (out / "ratings.dat").read_bytes() == RATINGS
    assert hashlib.sha256((cache / "ml-1m.zip").read_bytes()).hexdigest() == sha


def test_stale_extraction_is_replaced(tmp_path, source):
    url, sha = source
    cache = tmp_path / "cache"
    (cache / "ml-1m").mkdir(parents=True)
    (cache / "ml-1m" / "ratings.dat").write_bytes(b"half written")
    (cache / "ml-1m" / "movies.dat").write_bytes(b"")
    out = fetch_ml_1m(cache_dir=cache, url=url, sha256=sha)
    assert (out / "ratings.dat").read_bytes() == RATINGS
    assert leftovers(cache) == []


def test_bad_checksum(tmp_path, source):
    url, _ = source
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailable) as error:
        fetch_ml_1m(cache_dir=cache, url=url, sha256="0" * 64)
    message = str(error.value)
    assert str(cache / "ml-1m.zip") in message
    assert "--ratings" in message and "--format ml-1m" in message
    assert "SHA-256" in message
    assert "\n" not in message
    assert not (cache / "ml-1m.zip").exists()
    assert not (cache / "ml-1m").exists()
    assert leftovers(cache) == []


def test_missing_url(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailable) as error:
        fetch_ml_1m(cache_dir=cache, url=(tmp_path / "missing.zip").as_uri(), sha256="0" * 64)
    message = str(error.value)
    assert "missing.zip" in message
    assert str(cache / "ml-1m.zip") in message and "--ratings" in message
    assert isinstance(error.value.__cause__, OSError)
    assert leftovers(cache) == []


def test_malformed_url(tmp_path):
    with pytest.raises(DatasetUnavailable, match="--ratings"):
        fetch_ml_1m(cache_dir=tmp_path / "cache", url="not a url", sha256="0" * 64)


def test_zip_without_ratings(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-1m/movies.dat", MOVIES)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatasetUnavailable, match="ratings.dat"):
        fetch_ml_1m(cache_dir=tmp_path / "cache", url=path.as_uri(), sha256=sha)
    assert not (tmp_path / "cache" / "ml-1m").exists()


def test_not_a_zip(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"not a zip at all")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatasetUnavailable, match="unpacking"):
        fetch_ml_1m(cache_dir=tmp_path / "cache", url=path.as_uri(), sha256=sha)


def test_flat_zip_layout(tmp_path):
    path = tmp_path / "flat.zip"
    sha = make_zip(path, prefix="")
    out = fetch_ml_1m(cache_dir=tmp_path / "cache", url=path.as_uri(), sha256=sha)
    assert (out / "ratings.dat").read_bytes() == RATINGS


def test_real_constants():
    assert download.ML_1M_URL == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    assert len(download.ML_1M_SHA256) == 64


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_cache(tmp_path, source):
    url, sha = source
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(DatasetUnavailable, match="--ratings"):
            fetch_ml_1m(cache_dir=locked / "cache", url=url, sha256=sha)
    finally:
        locked.chmod(0o700)
