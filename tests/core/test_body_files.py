"""SMPL model files: finding them, reading .npz and chumpy .pkl safely, refusing code, checking shapes.

Licensed SMPL files are never available here, so every test writes a small
synthetic model in the official layouts itself. The ``.pkl`` is written the way
the real files were: a protocol-2 pickle whose arrays are ``chumpy.ch.Ch``
objects and whose ``J_regressor`` is a ``scipy.sparse.csc_matrix``; a throwaway
``chumpy`` package exists only while pickling, so loading must work without it.
"""

import contextlib
import importlib
import importlib.util
import io
import os
import pickle
import pickletools
import struct
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from addon.core.body.model_files import candidate_names, find_model_file, load_model_arrays
from addon.core.body.safe_pickle import UnsafePickleError, load_safe_pickle
from addon.core.skeleton import PARENTS

UINT32_ROOT = 4294967295  # how the official files store the root's parent (-1 as uint32)

FAKE_CHUMPY_OPS = '''
class add(object):
    """A lazy chumpy expression: it keeps its operands, not a value."""

    def __init__(self, a, b):
        self.a, self.b = a, b
'''

FAKE_CHUMPY_CH = '''
class Ch(object):
    """Just enough of chumpy's Ch to pickle like it: the value lives in self.x."""

    def __init__(self, x):
        self.x = x
        # chumpy's bookkeeping travels in the pickled __dict__ too (a set needs builtins.set)
        self._dirty_vars = set(["x"])
        self._depends_on_deps = {}
        self._make_dense = False
'''


def synthetic_smpl(num_vertices=200, seed=0):
    """A small SMPL-like model: dense float64 arrays with the official keys and shapes."""
    rng = np.random.default_rng(seed)
    joints, V = 24, num_vertices
    home = np.arange(V) % joints
    rest_joints = rng.normal(size=(joints, 3)) * 0.3
    weights = rng.random((V, joints))
    weights[weights < 0.8] = 0.0
    weights[np.arange(V), home] += 1.0
    regressor = np.zeros((joints, V))
    regressor[home, np.arange(V)] = rng.random(V) + 0.1
    return {
        "v_template": rest_joints[home] + rng.normal(size=(V, 3)) * 0.05,
        "shapedirs": rng.normal(size=(V, 3, 10)) * 0.01,
        "posedirs": rng.normal(size=(V, 3, 207)) * 0.01,
        "J_regressor": regressor / regressor.sum(axis=1, keepdims=True),
        "weights": weights / weights.sum(axis=1, keepdims=True),
        "f": rng.integers(0, V, size=(300, 3)).astype(np.uint32),
        "kintree_table": np.array([[UINT32_ROOT, *PARENTS[1:]], list(range(joints))], dtype=np.int64),
    }


def write_npz(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


class Python2StylePickler(pickle._Pickler):
    """Writes bytes with Python 2's ``str`` opcodes (BINSTRING), as the original SMPL files hold array data.

    Python 3 itself writes bytes at protocol 2 as ``_codecs.encode(text, 'latin1')``;
    a Python 2 ``str`` comes back as text under ``encoding='latin1'`` instead.
    """

    def save_python2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_python2_str


def dumps(content, protocol, python2_style=False):
    if not python2_style:
        return pickle.dumps(content, protocol=protocol)
    buffer = io.BytesIO()
    Python2StylePickler(buffer, protocol=protocol).dump(content)
    return buffer.getvalue()


@contextlib.contextmanager
def fake_chumpy(scratch):
    """A throwaway ``chumpy`` package (``chumpy.ch.Ch``, ``chumpy.ch_ops.add``), importable only inside."""
    site = scratch / "fake_site"
    (site / "chumpy").mkdir(parents=True, exist_ok=True)
    (site / "chumpy" / "__init__.py").write_text("")
    (site / "chumpy" / "ch.py").write_text(FAKE_CHUMPY_CH)
    (site / "chumpy" / "ch_ops.py").write_text(FAKE_CHUMPY_OPS)
    importlib.invalidate_caches()
    sys.path.insert(0, str(site))
    try:
        yield importlib.import_module("chumpy.ch"), importlib.import_module("chumpy.ch_ops")
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == "chumpy" or m.startswith("chumpy.")]:
            del sys.modules[name]


def write_chumpy_pickle(path, arrays, scratch, protocol=2, python2_style=False):
    """Pickle ``arrays`` as SMPL's .pkl files are: chumpy arrays, a sparse J_regressor, extra keys."""
    with fake_chumpy(scratch) as (ch, _):
        Ch = ch.Ch
        content = {key: Ch(arrays[key]) for key in ("v_template", "shapedirs", "posedirs", "weights")}
        content.update(
            J_regressor=sp.csc_matrix(arrays["J_regressor"]),
            f=arrays["f"],
            kintree_table=arrays["kintree_table"],
            J=Ch(arrays["J_regressor"] @ arrays["v_template"]),
            bs_style="lbs",
            bs_type="lrotmin",
        )
        data = dumps(content, protocol, python2_style)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def pickled_globals(data):
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


# --- reading .npz and chumpy .pkl ---------------------------------------------------


@pytest.mark.parametrize("protocol, python2_style", [(2, False), (0, False), (2, True)])
def test_npz_and_chumpy_pickle_give_identical_arrays(tmp_path, protocol, python2_style):
    arrays = synthetic_smpl()
    npz = write_npz(tmp_path / "SMPL_NEUTRAL.npz", arrays)
    pkl = write_chumpy_pickle(tmp_path / "SMPL_NEUTRAL.pkl", arrays, tmp_path, protocol, python2_style)
    if python2_style:
        opcodes = {op.name for op, _, _ in pickletools.genops(pkl.read_bytes())}
        assert "BINSTRING" in opcodes and "_codecs encode" not in pickled_globals(pkl.read_bytes())

    # The test really writes what SMPL files contain, and chumpy is gone again.
    written = pickled_globals(pkl.read_bytes())
    assert "chumpy.ch Ch" in written
    assert any(name.startswith("scipy.sparse") and name.endswith("csc_matrix") for name in written)
    assert importlib.util.find_spec("chumpy") is None

    from_npz, from_pkl = load_model_arrays(npz), load_model_arrays(pkl)
    assert "chumpy" not in sys.modules
    assert sorted(from_npz) == sorted(from_pkl) == sorted(arrays)
    for key in arrays:
        assert from_npz[key].dtype == from_pkl[key].dtype, key
        np.testing.assert_array_equal(from_npz[key], from_pkl[key], err_msg=key)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        assert from_pkl[key].dtype == np.float64
        np.testing.assert_array_equal(from_pkl[key], arrays[key], err_msg=key)
    assert from_pkl["f"].dtype == np.int64 and np.array_equal(from_pkl["f"], arrays["f"])
    assert from_pkl["kintree_table"][0, 0] == -1
    assert list(from_pkl["kintree_table"][0, 1:]) == list(PARENTS[1:])


def test_safe_pickle_turns_chumpy_and_sparse_into_numpy(tmp_path):
    arrays = synthetic_smpl(num_vertices=60)
    content = load_safe_pickle(write_chumpy_pickle(tmp_path / "m.pkl", arrays, tmp_path))
    assert type(content["v_template"]) is np.ndarray and type(content["J_regressor"]) is np.ndarray
    np.testing.assert_array_equal(content["J"], arrays["J_regressor"] @ arrays["v_template"])
    assert content["bs_style"] == "lbs"


def test_sparse_matrices_densify_like_scipy(tmp_path):
    # Duplicate entries (allowed in CSC) must be summed, as scipy's toarray() does.
    with_duplicates = sp.csc_matrix((np.array([1.0, 2.0, 3.0]), np.array([0, 0, 2]), np.array([0, 2, 3])), shape=(3, 2))
    csr = sp.csr_matrix(np.arange(12.0).reshape(3, 4) * (np.arange(12).reshape(3, 4) % 3 == 0))
    path = tmp_path / "sparse.pkl"
    path.write_bytes(pickle.dumps({"csc": with_duplicates, "csr": csr}, protocol=2))
    content = load_safe_pickle(path)
    np.testing.assert_array_equal(content["csc"], with_duplicates.toarray())
    assert content["csc"][0, 0] == 3.0
    np.testing.assert_array_equal(content["csr"], csr.toarray())


def test_a_malformed_sparse_matrix_is_refused(tmp_path):
    matrix = sp.csc_matrix(np.eye(3))
    matrix.indices[0] = 7  # row 7 of a 3-row matrix
    path = tmp_path / "bad_sparse.pkl"
    path.write_bytes(pickle.dumps({"J_regressor": matrix}, protocol=2))
    with pytest.raises(ValueError, match="J_regressor") as error:
        load_safe_pickle(path)
    assert str(path) in str(error.value) and "out of range" in str(error.value)


def test_posedirs_in_smplx_memory_layout_are_normalised(tmp_path):
    arrays = synthetic_smpl()
    V, P = len(arrays["v_template"]), 207
    flat = dict(arrays, posedirs=arrays["posedirs"].reshape(V * 3, P).T)  # (P, V*3)
    loaded = load_model_arrays(write_npz(tmp_path / "flat.npz", flat))
    np.testing.assert_array_equal(loaded["posedirs"], arrays["posedirs"])


# --- refusing pickles that run code -----------------------------------------------------


class _Payload:
    """Unpickles as ``func(*args)``: the classic pickle exploit."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: Path):
    return {
        "os.system": (_Payload(os.system, (f"touch '{marker}'",)), "system"),
        "builtins.eval": (_Payload(eval, (f"__import__('pathlib').Path({str(marker)!r}).touch()",)), "builtins.eval"),
        "subprocess.Popen": (_Payload(subprocess.Popen, (["touch", str(marker)],)), "subprocess.Popen"),
    }


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("attack", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_a_pickle_that_would_run_code_is_refused(tmp_path, attack, protocol):
    marker = tmp_path / "pwned"
    payload, refused = _payloads(marker)[attack]
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3)), "shapedirs": payload}, protocol=protocol))
    with pytest.raises(UnsafePickleError) as error:
        load_safe_pickle(path)
    message = str(error.value)
    assert refused in message and str(path) in message
    assert isinstance(error.value, ValueError)
    assert not marker.exists()


def test_the_exploit_is_real_with_the_plain_unpickler(tmp_path):
    # Negative control: the same payload does run under pickle.loads, so the test above can fail.
    marker = tmp_path / "control"
    payload, _ = _payloads(marker)["os.system"]
    pickle.loads(pickle.dumps({"x": payload}, protocol=2))
    assert marker.exists()


@pytest.mark.parametrize(
    "payload, refused",
    [
        # allowed helpers, used for something other than rebuilding array content
        (_Payload(__import__("copyreg")._reconstructor, (OrderedDict, dict, {"a": 1})), "_reconstructor"),
        (_Payload(__import__("codecs").encode, ("abc", "utf-16")), "_codecs.encode"),
        # and the usual first step of a gadget chain: reaching a method of an allowed class
        (_Payload(getattr, (np.ndarray, "tofile")), "builtins.getattr"),
    ],
)
def test_allowed_helpers_refuse_other_uses(tmp_path, payload, refused):
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps({"x": payload}, protocol=2))
    with pytest.raises(UnsafePickleError, match=refused):
        load_safe_pickle(path)


def test_a_lazy_chumpy_expression_is_refused_not_guessed(tmp_path):
    # A chumpy object without a stored 'x' (e.g. ch_ops.add(a, b)) cannot be evaluated without chumpy.
    with fake_chumpy(tmp_path) as (_, ch_ops):
        data = pickle.dumps({"v_template": ch_ops.add(np.ones(3), np.ones(3))}, protocol=2)
    path = tmp_path / "lazy.pkl"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="v_template") as error:
        load_safe_pickle(path)
    assert "chumpy.ch_ops.add" in str(error.value) and str(path) in str(error.value)


# --- finding files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "relative, gender, kind",
    [
        ("SMPL_NEUTRAL.pkl", "neutral", "smpl"),
        ("SMPL_MALE.npz", "male", "smpl"),
        ("SMPL_FEMALE.pkl", "female", "smpl"),
        ("basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", "neutral", "smpl"),
        ("basicmodel_m_lbs_10_207_0_v1.0.0.pkl", "male", "smpl"),
        ("basicModel_f_lbs_10_207_0_v1.0.0.pkl", "female", "smpl"),
        ("basicmodel_m_lbs_10_207_0_v1.1.0.pkl", "male", "smpl"),
        ("smpl/SMPL_NEUTRAL.pkl", "neutral", "smpl"),
        ("smpl/smpl_female.npz", "female", "smpl"),
        ("SMPLH_NEUTRAL.pkl", "neutral", "smplh"),
        ("SMPLH_MALE.npz", "male", "smplh"),
        ("smplh/neutral/model.npz", "neutral", "smplh"),
        ("smplh/male/model.npz", "male", "smplh"),
        ("female/model.npz", "female", "smplh"),
    ],
)
def test_find_model_file_finds_each_naming_variant(tmp_path, relative, gender, kind):
    target = tmp_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")
    # Decoys: the other genders and the other model kind must not be picked.
    for other in {"neutral", "male", "female"} - {gender}:
        (tmp_path / f"SMPL_{other.upper()}.pkl").write_bytes(b"")
        (tmp_path / f"SMPLH_{other.upper()}.pkl").write_bytes(b"")
    found = find_model_file(tmp_path, gender, kind)
    assert found.samefile(target)


def test_npz_is_preferred_over_pkl(tmp_path):
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"")
    (tmp_path / "SMPL_NEUTRAL.npz").write_bytes(b"")
    assert find_model_file(tmp_path, "neutral", "smpl").name == "SMPL_NEUTRAL.npz"


def test_find_model_file_error_names_the_folder_and_what_it_tried(tmp_path):
    (tmp_path / "SMPL_MALE.pkl").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as error:
        find_model_file(tmp_path, "female", "smpl")
    message = str(error.value)
    assert str(tmp_path) in message
    for name in ("SMPL_FEMALE.pkl", "SMPL_FEMALE.npz", "smpl/SMPL_FEMALE.pkl", "basicmodel_f_lbs_10_207_0_v1.0.0.pkl"):
        assert name in message
    assert set(candidate_names("female", "smpl")) <= set(message.split("tried (ignoring case): ")[1].split(", "))
    with pytest.raises(FileNotFoundError, match="smplh/neutral/model.npz"):
        find_model_file(tmp_path, "neutral", "smplh")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_model_file(tmp_path / "missing", "neutral", "smpl")
    with pytest.raises(ValueError, match="gender"):
        find_model_file(tmp_path, "other", "smpl")


# --- checking what the files hold -------------------------------------------------------


def _nan_in_v_template(a):
    a["v_template"][5, 1] = np.nan


def _parent_after_child(a):
    a["kintree_table"][0, 3] = 7


@pytest.mark.parametrize(
    "key, damage",
    [
        ("weights", lambda a: a.update(weights=a["weights"][:, :23])),
        ("shapedirs", lambda a: a.update(shapedirs=a["shapedirs"][:, :, 0])),
        ("posedirs", lambda a: a.update(posedirs=a["posedirs"][:, :, :200])),
        ("J_regressor", lambda a: a.update(J_regressor=a["J_regressor"][:, :150])),
        ("v_template", lambda a: a.update(v_template=a["v_template"][:, :2])),
        ("f", lambda a: a.update(f=a["f"] + 1000)),
        ("weights", lambda a: a.pop("weights")),
        ("kintree_table", lambda a: a.pop("kintree_table")),
        ("v_template", _nan_in_v_template),
        ("kintree_table", _parent_after_child),
    ],
)
def test_a_damaged_npz_names_the_file_and_the_key(tmp_path, key, damage):
    arrays = synthetic_smpl()
    damage(arrays)
    path = write_npz(tmp_path / "SMPL_NEUTRAL.npz", arrays)
    with pytest.raises(ValueError) as error:
        load_model_arrays(path)
    assert str(path) in str(error.value) and f"'{key}'" in str(error.value)


def test_a_damaged_pickle_names_the_file_and_the_key(tmp_path):
    arrays = synthetic_smpl()
    arrays["shapedirs"] = arrays["shapedirs"][:150]  # V differs from v_template's
    path = write_chumpy_pickle(tmp_path / "SMPL_NEUTRAL.pkl", arrays, tmp_path)
    with pytest.raises(ValueError, match="'shapedirs'") as error:
        load_model_arrays(path)
    assert str(path) in str(error.value)


def test_an_object_array_in_an_npz_is_never_unpickled(tmp_path):
    arrays = synthetic_smpl()
    arrays["v_template"] = arrays["v_template"].astype(object)  # np.savez pickles it
    path = write_npz(tmp_path / "SMPL_NEUTRAL.npz", arrays)
    with pytest.raises(ValueError) as error:
        load_model_arrays(path)
    message = str(error.value)
    assert str(path) in message and "'v_template'" in message and "re-save" in message


def test_the_joint_count_must_match_the_requested_kind(tmp_path):
    path = write_npz(tmp_path / "SMPL_NEUTRAL.npz", synthetic_smpl())
    assert len(load_model_arrays(path, kind="smpl")["J_regressor"]) == 24
    with pytest.raises(ValueError, match="'J_regressor'.*52"):
        load_model_arrays(path, kind="smplh")
