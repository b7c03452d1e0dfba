"""Read SMPL-era ``.pkl`` model files without letting them run code.

A pickle is a small program: its GLOBAL opcodes import any ``module.name`` and
REDUCE calls it, so ``pickle.load`` of a downloaded file can run ``os.system``.
The official SMPL files (written by Python 2 with chumpy installed) only need:

* numpy arrays, dtypes and scalars;
* ``scipy.sparse`` CSC/CSR matrices (SMPL's ``J_regressor``);
* chumpy arrays (``chumpy.ch.Ch`` and friends) wrapping a numpy array;
* builtin containers and the pickle helpers ``copyreg._reconstructor``,
  ``copyreg.__newobj__`` and ``_codecs.encode`` (how Python 3 writes bytes
  at protocol 2).

:class:`_RestrictedUnpickler` resolves exactly those names and refuses every
other global with :class:`UnsafePickleError` *before* anything is called.
chumpy and scipy are never imported: their objects become inert
:class:`_PickledRecord` instances that only remember the state pickle hands to
``__setstate__``, and :func:`load_safe_pickle` turns that state into numpy.

How such objects arrive: protocol 2 writes an instance of a plain class as
``GLOBAL module.Class; EMPTY_TUPLE; NEWOBJ`` (``copyreg.__newobj__``, i.e.
``Class.__new__(Class)``), protocols 0/1 as
``copyreg._reconstructor(Class, object, None)``; then ``BUILD`` passes the
state, here ``Ch.__getstate__()`` = its ``__dict__`` with the array in ``'x'``
(scipy: ``data``/``indices``/``indptr``/``_shape``), to ``__setstate__``.
"""

from __future__ import annotations

import _compat_pickle
import pickle
from collections import OrderedDict
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

# A sparse matrix larger than this (entries) is refused rather than densified:
# SMPL's J_regressor is 24 x 6890, SMPL-X's 55 x 10475.
_MAX_DENSE_ENTRIES = 50_000_000
_SPARSE_CLASSES = {"csc_matrix": "csc", "csc_array": "csc", "csr_matrix": "csr", "csr_array": "csr"}


class UnsafePickleError(ValueError):
    """The pickle asks for something other than array content; nothing it names was run."""


class _RefusedCall(Exception):
    """An allowed helper (e.g. ``copyreg._reconstructor``) was called with arguments it must not take."""


class _PickledRecord:
    """Inert stand-in for an instance of a class that is never imported.

    ``pickled_name`` (class attribute): the refused class's ``module.name``.
    ``_pickled_args``: arguments pickle gave to ``__new__``/``__init__``.
    ``_pickled_state``: what pickle's BUILD passed to ``__setstate__``.
    """

    pickled_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> _PickledRecord:
        record = object.__new__(cls)
        record.__dict__.update(_pickled_args=args, _pickled_state=None)
        return record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # REDUCE calls cls(*args); __new__ already kept the arguments

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_pickled_state"] = state

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_name}>"


class _ChumpyRecord(_PickledRecord):
    """A chumpy object; its array is in the state's ``'x'``."""


class _SparseRecord(_PickledRecord):
    """A scipy.sparse CSC or CSR matrix; ``layout`` says which."""

    layout = "csc"


def _reconstructor(cls: Any, base: Any, state: Any) -> _PickledRecord:
    """``copyreg._reconstructor`` limited to our records on ``object`` (protocols 0 and 1)."""
    if not (isinstance(cls, type) and issubclass(cls, _PickledRecord)) or base is not object or state is not None:
        raise _RefusedCall(f"copyreg._reconstructor may only rebuild chumpy/scipy.sparse objects, got {cls!r}")
    return cls.__new__(cls)


def _newobj(cls: Any, *args: Any) -> _PickledRecord:
    """``copyreg.__newobj__`` limited to our records."""
    if not (isinstance(cls, type) and issubclass(cls, _PickledRecord)):
        raise _RefusedCall(f"copyreg.__newobj__ may only rebuild chumpy/scipy.sparse objects, got {cls!r}")
    return cls.__new__(cls, *args)


def _codecs_encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 uses it to write ``bytes`` at protocol 2: ``(str, 'latin1')``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise _RefusedCall("_codecs.encode is only accepted as encode(<str>, 'latin1')")
    return text.encode("latin1")


def _bytes(*args: Any) -> bytes:
    """``bytes()`` as pickle writes an empty or bytes-like value; never ``bytes(<huge int>)``."""
    if not args:
        return b""
    if len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
        return bytes(args[0])
    raise _RefusedCall("bytes(...) is only accepted without arguments or with bytes")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """``(module, name)`` -> the object to hand to pickle, after Python 2 names are mapped."""
    # Take numpy's pickle helpers from numpy itself, so both the numpy 1 (numpy.core)
    # and numpy 2 (numpy._core) spellings work without importing private modules.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    allowed: dict[tuple[str, str], Any] = {}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("copyreg", "_reconstructor")] = _reconstructor
    allowed[("copyreg", "__newobj__")] = _newobj
    allowed[("_codecs", "encode")] = _codecs_encode
    allowed[("builtins", "bytes")] = _bytes
    allowed[("collections", "OrderedDict")] = OrderedDict
    for builtin in (object, dict, list, tuple, set, frozenset, str, int, float, bool, complex):
        allowed[("builtins", builtin.__name__)] = builtin
    return allowed


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names (``__builtin__``, ``copy_reg``) as pickle's ``fix_imports`` does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose only importable globals are :func:`_allowed_globals` and records."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        # latin1: Python 2 ``str`` holds raw array bytes; latin1 maps them 1:1 and numpy accepts it.
        super().__init__(file, encoding="latin1")
        self._path = path
        self._allowed = _allowed_globals()
        self._records: dict[tuple[str, str], type[_PickledRecord]] = {}

    def find_class(self, module: str, name: str) -> Any:
        key = _python3_name(module, name)
        if key in self._allowed:
            return self._allowed[key]
        record = self._record_class(*key)
        if record is not None:
            return record
        written = "" if key == (module, name) else f" (written as {module}.{name})"
        raise UnsafePickleError(
            f"{self._path}: refused to load global {key[0]}.{key[1]}{written}; an SMPL model "
            "file holds only arrays (numpy, scipy.sparse, chumpy), so this file is not loaded"
        )

    def _record_class(self, module: str, name: str) -> type[_PickledRecord] | None:
        """A fresh record class for an allowed chumpy or scipy.sparse class, else None."""
        if module == "chumpy" or module.startswith("chumpy."):
            base: type[_PickledRecord] = _ChumpyRecord
            extra: dict[str, Any] = {}
        elif (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and name in _SPARSE_CLASSES:
            base, extra = _SparseRecord, {"layout": _SPARSE_CLASSES[name]}
        else:
            return None
        if (module, name) not in self._records:
            self._records[(module, name)] = type(name, (base,), {"pickled_name": f"{module}.{name}", **extra})
        return self._records[(module, name)]


def load_safe_pickle(path: str | PathLike[str]) -> dict[str, Any]:
    """The top-level dict of an SMPL ``.pkl`` with chumpy and sparse values as numpy arrays.

    Returns {key: value}; chumpy arrays become their numpy array, scipy.sparse
    matrices dense numpy arrays (rows x cols, the data's dtype), other values
    (arrays, strings, nested dicts) as unpickled.
    Raises UnsafePickleError for any global outside array content (the message
    names the file and ``module.name``), ValueError for an unreadable file.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            content = _RestrictedUnpickler(file, path).load()
    except (UnsafePickleError, OSError):
        raise
    except _RefusedCall as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except Exception as exc:  # any malformed stream: truncated, wrong opcodes, bad array state
        raise ValueError(f"{path}: not a readable SMPL pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a dict of arrays at the top level, got {type(content).__name__}")
    return {str(key): _plain(value, path, str(key), set()) for key, value in content.items()}


def _plain(value: Any, path: Path, where: str, active: set[int]) -> Any:
    """Replace records inside ``value`` (recursively through containers) by numpy arrays."""
    if isinstance(value, (_PickledRecord, dict, list, tuple)):
        if id(value) in active:  # pickle's memo can build cycles; real SMPL files have none
            raise ValueError(f"{path}: key '{where}' refers to itself")
        active = active | {id(value)}
    if isinstance(value, _ChumpyRecord):
        return _chumpy_array(value, path, where, active)
    if isinstance(value, _SparseRecord):
        return _sparse_to_dense(value, path, where)
    if isinstance(value, _PickledRecord):
        raise ValueError(f"{path}: key '{where}' holds an unsupported {value.pickled_name}")
    if isinstance(value, dict):
        return {k: _plain(v, path, f"{where}.{k}", active) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, path, f"{where}[{i}]", active) for i, v in enumerate(value))
    return value


def _state_dict(record: _PickledRecord, path: Path, where: str) -> dict[str, Any]:
    """The attribute dict pickle restored; ``(dict, slots)`` pairs are merged."""
    state = record._pickled_state
    if isinstance(state, tuple) and len(state) == 2:
        merged = dict(state[0] or {})
        merged.update(state[1] or {})
        state = merged
    if not isinstance(state, dict):
        raise ValueError(f"{path}: key '{where}': {record.pickled_name} has no attribute state")
    return state


def _chumpy_array(record: _ChumpyRecord, path: Path, where: str, active: set[int]) -> np.ndarray:
    """The numpy array a chumpy value object holds.

    A plain ``Ch`` keeps its value in ``'x'`` (some forks use ``'_x'``). A lazy
    expression (``ch_ops.add``, ``reordering.transpose``...) stores only its
    operands, and evaluating it needs chumpy; rather than guess, refuse it.
    """
    state = _state_dict(record, path, where)
    for attribute in ("x", "_x"):
        if attribute in state:
            array = np.asarray(_plain(state[attribute], path, where, active))
            if array.dtype == object:
                break
            return array
    raise ValueError(
        f"{path}: key '{where}' is a {record.pickled_name} without a stored numeric array (a lazy chumpy "
        "expression); load the file once with chumpy and re-save its arrays with numpy.savez"
    )


def _sparse_to_dense(record: _SparseRecord, path: Path, where: str) -> np.ndarray:
    """Densify a pickled CSC/CSR matrix from its ``data``, ``indices``, ``indptr`` and shape, checked."""
    state = _state_dict(record, path, where)
    try:
        shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
        data = np.asarray(state["data"])
        indices = np.asarray(state["indices"]).astype(np.int64)
        indptr = np.asarray(state["indptr"]).astype(np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: key '{where}': malformed {record.pickled_name} ({exc})") from None
    if len(shape) != 2 or min(shape) < 0 or shape[0] * shape[1] > _MAX_DENSE_ENTRIES:
        raise ValueError(f"{path}: key '{where}': malformed {record.pickled_name}: unusable shape {shape}")
    rows_first = record.layout == "csr"
    major, minor = (shape[0], shape[1]) if rows_first else (shape[1], shape[0])
    problem = None
    if data.dtype == object or data.ndim != 1 or indices.ndim != 1 or len(indices) != len(data):
        problem = "data and indices must be 1-D numeric arrays of equal length"
    elif indptr.shape != (major + 1,) or indptr[0] != 0 or indptr[-1] != len(data) or np.any(np.diff(indptr) < 0):
        problem = "indptr does not describe the data"
    elif len(indices) and (indices.min() < 0 or indices.max() >= minor):
        problem = "indices out of range"
    if problem:
        raise ValueError(f"{path}: key '{where}': malformed {record.pickled_name}: {problem}")
    dense = np.zeros(shape, dtype=data.dtype)
    owner = np.repeat(np.arange(major), np.diff(indptr))  # the column (CSC) or row (CSR) of each entry
    # add.at, like scipy's todense, sums duplicate entries instead of keeping the last
    np.add.at(dense, (owner, indices) if rows_first else (indices, owner), data)
    return dense
