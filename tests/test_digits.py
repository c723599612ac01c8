"""Tests of :func:`nnlib.data.digits`: the checksummed 8x8 digits file."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from nnlib.data import DIGITS_SHA256, digits, labels_from_one_hot

REPO_FILE = Path(__file__).resolve().parents[1] / "data" / "digits.npz"


def test_file_checksum_matches_the_recorded_one():
    assert hashlib.sha256(REPO_FILE.read_bytes()).hexdigest() == DIGITS_SHA256
    assert DIGITS_SHA256 in (REPO_FILE.parent / "README.md").read_text()


def test_file_has_no_pickled_objects():
    with np.load(REPO_FILE, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["images", "labels"]
        assert npz["images"].dtype == np.uint8 and npz["images"].shape == (1797, 8, 8)
        assert npz["labels"].dtype.kind == "i" and npz["labels"].shape == (1797,)


def test_digits_shapes_range_and_labels():
    Y, C = digits()
    assert Y.shape == (64, 1797) and C.shape == (10, 1797)
    assert Y.dtype == np.float64 and C.dtype == np.float64
    assert Y.min() == 0.0 and Y.max() == 1.0
    np.testing.assert_array_equal(C.sum(axis=0), 1.0)
    counts = np.bincount(labels_from_one_hot(C), minlength=10)
    np.testing.assert_array_equal(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    # First example of the UCI test set: a zero; grey levels are multiples of 1/16.
    assert labels_from_one_hot(C)[:10].tolist() == list(range(10))
    np.testing.assert_array_equal(Y[:8, 0] * 16, [0, 0, 5, 13, 9, 1, 0, 0])
    np.testing.assert_array_equal(np.round(Y * 16), Y * 16)


def test_explicit_path_gives_the_same_data(tmp_path):
    copy = tmp_path / "digits.npz"
    copy.write_bytes(REPO_FILE.read_bytes())
    Y0, C0 = digits()
    Y1, C1 = digits(path=str(copy))
    np.testing.assert_array_equal(Y0, Y1)
    np.testing.assert_array_equal(C0, C1)


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "append"])
def test_corrupted_copy_raises_with_both_hashes(tmp_path, damage):
    raw = bytearray(REPO_FILE.read_bytes())
    if damage == "flip_byte":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        raw = raw[:-100]
    else:
        raw += b"\x00"
    bad = tmp_path / "digits.npz"
    bad.write_bytes(bytes(raw))
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(ValueError) as info:
        digits(path=bad)
    message = str(info.value)
    assert DIGITS_SHA256 in message and actual in message and "SHA-256" in message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="digits"):
        digits(path=tmp_path / "nope.npz")


def test_every_subpackage_ships_in_the_wheel():
    """pyproject.toml lists the packages by hand (data/ maps to nnlib._data): none may be missing."""
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "nnlib").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
    assert "nnlib._data" in listed
