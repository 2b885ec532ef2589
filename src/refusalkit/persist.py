"""Saving and loading fitted scikit-learn models without pickle.

refusalkit's fitted models (the learned and ensemble detectors, the prompt-only refusal predictor, the
prompt-harm classifier) are trees of a few scikit-learn estimators. A pickle of them runs whatever code
the file names when it is loaded, so a model file someone hands you could do anything. This module
writes them as data instead:

- one ``.npz`` archive (a zip file) read with ``numpy.load(allow_pickle=False)``;
- its entry ``__tree__`` is JSON: the format name, what kind of model it is, the scikit-learn version,
  the caller's metadata and the object tree; numeric and string arrays are the other entries;
- an object in the tree is named by its class, and loading builds it only if that class is in
  :data:`_ALLOWED_CLASSES` (functions likewise in :data:`_ALLOWED_FUNCTIONS`): its attributes are
  restored as data, and no code of the file's choosing runs.

A file written by another scikit-learn release is refused (the attribute layout of fitted estimators
changes between releases); so is a pickle from an older refusalkit, with a line saying how to make a new
file. :func:`save_fitted` writes atomically (temporary file, then :func:`os.replace`).
"""

from __future__ import annotations

import json
import os
import tempfile
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RefusalkitError

FORMAT = "refusalkit-fitted/1"
_TREE = "__tree__"
_ZIP_MAGIC = b"PK\x03\x04"

# Classes and functions a model file may name: everything refusalkit itself saves, nothing else.
_ALLOWED_CLASSES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.preprocessing.FunctionTransformer",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.linear_model.LogisticRegression",
    "refusalkit.harm.PromptHarmClassifier",
    "refusalkit.triggers.predictor.PriorFeatures",
    "refusalkit.triggers.predictor.MiniLMEmbedder",
)
_ALLOWED_FUNCTIONS = (
    "refusalkit.judge.learned._head",
    "refusalkit.judge.learned._tail",
    "refusalkit.judge.learned._hand",
    "refusalkit.judge.learned._norm",
)
_registry: dict[str, dict[Any, str]] = {}


def _resolve(public_name: str):
    import importlib

    module, _, attr = public_name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _allowed() -> tuple[dict[Any, str], dict[str, Any]]:
    """(object -> public name, public name -> object) over the allowed classes and functions, built once."""
    if not _registry:
        objs = {_resolve(n): n for n in _ALLOWED_CLASSES + _ALLOWED_FUNCTIONS}
        _registry["by_obj"] = objs
        _registry["by_name"] = {n: o for o, n in objs.items()}  # type: ignore[assignment]
    return _registry["by_obj"], _registry["by_name"]  # type: ignore[return-value]


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


# --- writing ------------------------------------------------------------------------------------
class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.names, _ = _allowed()

    def _array(self, a: np.ndarray) -> dict:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return {"__array__": key}

    def encode(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, str)) or type(v) in (int, float):
            return v
        if isinstance(v, np.generic):
            return {"__scalar__": v.dtype.str, "value": v.item()}
        if isinstance(v, np.ndarray):
            if v.dtype.kind in "biufU":
                return self._array(v)
            if v.dtype.kind == "O" and all(isinstance(x, str) for x in v.flat):
                return {"__strings__": v.tolist()}
            raise RefusalkitError(f"cannot save an array of {v.dtype} without pickle")
        if isinstance(v, list):
            return [self.encode(x) for x in v]
        if isinstance(v, tuple):
            return {"__tuple__": [self.encode(x) for x in v]}
        if isinstance(v, (set, frozenset)):
            return {"__set__": [self.encode(x) for x in sorted(v, key=repr)]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                return {"__items__": [[self.encode(k), self.encode(x)] for k, x in v.items()]}
            if len(v) > 16 and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v.values()):
                # vocabularies (term -> column): keys as JSON, values as one integer array
                return {
                    "__intdict__": list(v),
                    "values": self._array(np.fromiter(v.values(), dtype=np.int64, count=len(v))),
                }
            return {"__dict__": {k: self.encode(x) for k, x in v.items()}}
        if isinstance(v, type) and issubclass(v, np.generic):
            return {"__dtype__": np.dtype(v).str}
        if isinstance(v, np.dtype):
            return {"__dtype_object__": v.str}
        try:
            name = self.names.get(v) if isinstance(v, types.FunctionType) else self.names.get(type(v))
        except TypeError:  # unhashable
            name = None
        if name is None:
            what = getattr(v, "__qualname__", None) or type(v).__qualname__
            raise RefusalkitError(
                f"cannot save {what} without pickle: refusalkit's model files hold only its own model parts"
            )
        if isinstance(v, types.FunctionType):
            return {"__function__": name}
        return {"__object__": name, "state": {k: self.encode(x) for k, x in vars(v).items()}}


def save_fitted(obj: Any, path: str | os.PathLike, *, kind: str, meta: dict | None = None) -> Path:
    """Write ``obj`` (a fitted model made of allowed parts) and ``meta`` (JSON-like data) to ``path``.

    ``kind`` names what the file holds; :func:`load_fitted` checks it. The file appears whole or not at all.
    """
    path = Path(path)
    enc = _Encoder()
    tree = {
        "format": FORMAT,
        "kind": kind,
        "sklearn": _sklearn_version(),
        "meta": enc.encode(meta or {}),
        "object": enc.encode(obj),
    }
    blob = np.frombuffer(json.dumps(tree, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **{_TREE: blob}, **enc.arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --- reading ------------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, arrays) -> None:
        self.arrays = arrays
        _, self.by_name = _allowed()

    def decode(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if isinstance(v, list):
            return [self.decode(x) for x in v]
        if not isinstance(v, dict) or len(v) > 2:
            raise ValueError("unexpected node")
        if "__array__" in v:
            return self.arrays[str(v["__array__"])]
        if "__scalar__" in v:
            return np.dtype(v["__scalar__"]).type(v["value"])
        if "__strings__" in v:
            return np.array(v["__strings__"], dtype=object)
        if "__tuple__" in v:
            return tuple(self.decode(x) for x in v["__tuple__"])
        if "__set__" in v:
            return {self.decode(x) for x in v["__set__"]}
        if "__items__" in v:
            return {self.decode(k): self.decode(x) for k, x in v["__items__"]}
        if "__intdict__" in v:
            keys, values = v["__intdict__"], self.decode(v["values"])
            if len(keys) != len(values):
                raise ValueError("vocabulary keys and values differ in length")
            return dict(zip(keys, values.tolist()))
        if "__dict__" in v:
            return {str(k): self.decode(x) for k, x in v["__dict__"].items()}
        if "__dtype__" in v:
            return np.dtype(v["__dtype__"]).type
        if "__dtype_object__" in v:
            return np.dtype(v["__dtype_object__"])
        if "__function__" in v:
            return self._allowed(v["__function__"], function=True)
        if "__object__" in v:
            cls = self._allowed(v["__object__"], function=False)
            obj = cls.__new__(cls)
            obj.__dict__.update({str(k): self.decode(x) for k, x in v["state"].items()})
            return obj
        raise ValueError("unexpected node")

    def _allowed(self, name: str, function: bool):
        obj = self.by_name.get(name)
        if obj is None or isinstance(obj, types.FunctionType) != function:
            raise _Forbidden(name)
        return obj


class _Forbidden(Exception):
    pass


def _looks_like_pickle(head: bytes) -> bool:
    """A pickle (protocol 2+), or joblib's zlib/gzip/lzma/bz2-compressed pickle."""
    return (
        head[:1] == b"\x80"
        or head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZ")
        or head[:6] == b"\xfd7zXZ\x00"
        or head.startswith(b"ZF")
    )


def saved_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` a refusalkit model archive records, read without building anything: the ``__tree__``
    of a file written by :func:`save_fitted`, or the ``meta`` entry of a plain weights archive (the
    minilm detector's head), or a safetensors file's ``meta`` header entry. None when the file is neither (a pickle, another format, a damaged archive)."""
    if str(path).endswith(".safetensors"):
        return _safetensors_kind(path)
    try:
        with Path(path).open("rb") as fh:
            if not fh.read(4).startswith(_ZIP_MAGIC):
                return None
        with np.load(path, allow_pickle=False) as npz:
            if _TREE in npz.files:
                tree = json.loads(bytes(npz[_TREE]).decode("utf-8"))
                if not isinstance(tree, dict) or tree.get("format") != FORMAT:
                    return None
            elif "meta" in npz.files:
                tree = json.loads(str(npz["meta"]))
            else:
                return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    kind = tree.get("kind") if isinstance(tree, dict) else None
    return kind if isinstance(kind, str) else None


def _safetensors_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` in a safetensors file's ``meta`` header entry (the minilm-ft detector's weights)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            tree = json.loads((f.metadata() or {}).get("meta", "null"))
    except Exception:  # not a safetensors file, or a damaged one
        return None
    kind = tree.get("kind") if isinstance(tree, dict) else None
    return kind if isinstance(kind, str) else None


def load_fitted(path: str | os.PathLike, *, kind: str, what: str, remedy: str) -> tuple[Any, dict]:
    """Read a file written by :func:`save_fitted`: ``(object, meta)``.

    ``what`` names the file for messages ("predictor model"), ``remedy`` says how to make a new one
    ("train it again with `refusalkit predictor train`"). Every failure is one :class:`RefusalkitError`
    line; nothing in the file is executed.
    """
    path = Path(path)
    if not path.exists():
        raise RefusalkitError(f"{what} {path} does not exist ({remedy})")
    if path.is_dir():
        raise RefusalkitError(f"{what} {path} is a folder; give the model file")
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head.startswith(_ZIP_MAGIC):
        if _looks_like_pickle(head):
            raise RefusalkitError(
                f"{path} is a pickle from an older refusalkit; pickles can run code when loaded, so refusalkit "
                f"no longer reads them: {remedy}"
            )
        raise RefusalkitError(f"{path} is not a refusalkit {what} file ({remedy})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            tree = json.loads(bytes(npz[_TREE]).decode("utf-8"))
            if not isinstance(tree, dict) or tree.get("format") != FORMAT:
                raise RefusalkitError(f"{path} is not a refusalkit {what} file ({remedy})")
            if tree.get("kind") != kind:
                raise RefusalkitError(f"{path} holds a {tree.get('kind')!s}, not a {what}")
            if str(tree.get("sklearn")) != _sklearn_version():
                raise RefusalkitError(
                    f"{path} was saved with scikit-learn {tree.get('sklearn')} and this is {_sklearn_version()}; "
                    f"fitted models do not carry over between releases: {remedy}"
                )
            arrays = {k: npz[k] for k in npz.files if k != _TREE}
        dec = _Decoder(arrays)
        return dec.decode(tree["object"]), dec.decode(tree["meta"])
    except RefusalkitError:
        raise
    except _Forbidden as exc:
        raise RefusalkitError(
            f"{path} names {exc.args[0]}, which refusalkit's model files never hold; not loaded"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise RefusalkitError(f"{path} is a damaged refusalkit {what} file ({type(exc).__name__}; {remedy})") from exc
