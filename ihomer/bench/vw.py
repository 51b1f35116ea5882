"""Vowpal Wabbit as a benchmark peer: a river ``MultiLabelClassifier`` driving one
``vowpalwabbit.Workspace`` with ``--multilabel_oaa``, one text line per instance.

This module owns :class:`VWMultiLabel` (the wrapper), the two fixed configurations of the
benchmark (:data:`VW_HINGE`, :data:`VW_LOGISTIC`), the VW-safe encoding of feature names
(:func:`vw_name`) and :func:`vw_available`. It computes no metric: the wrapper is scored by the
same prequential loop as every other model. ``vowpalwabbit`` is an optional dependency (the ``vw``
extra) and is imported only when a workspace is built.

Why a dummy label: VW takes a ``--multilabel_oaa`` example with no label as *test only* (it is
not learned from), so a stream with empty label sets would never teach it to predict an empty set.
Every example is given one extra label (index ``K``) that is always on, and that label is dropped
from the predictions.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from typing import Any

from river import base

__all__ = ["VW_HINGE", "VW_LOGISTIC", "VWMultiLabel", "vw_available", "vw_name"]

#: ``vw-hinge``: the configuration a practitioner would start from (``-K`` is added).
VW_HINGE = "--quiet -b 24 -l 1.0 --loss_function hinge"
#: ``vw-logistic``: probabilities, thresholded at 0.5.
VW_LOGISTIC = "--loss_function logistic --probabilities -b 18 -l 0.5 --quiet"

#: Characters VW's text format gives a meaning to (separators, namespace bar, value colon), and
#: the escape character itself: each is written as ``%XX``, so the encoding is one-to-one.
_ESCAPES = {c: f"%{ord(c):02X}" for c in "% :|\t\n\r\v\f"}
_TABLE = str.maketrans(_ESCAPES)


def vw_name(name: Any) -> str:
    """A VW-safe, one-to-one spelling of a feature name (``%``-escapes of ``% :|`` and whitespace).

    Examples
    --------
    >>> vw_name("word count:a|b")
    'word%20count%3Aa%7Cb'
    >>> vw_name("100%")
    '100%25'
    >>> vw_name("")
    '%'
    """
    text = str(name)
    return text.translate(_TABLE) if text else "%"


def vw_available() -> tuple[bool, str]:
    """Whether ``vowpalwabbit`` can be imported here, and if not, why.

    Examples
    --------
    >>> ok, why = vw_available()
    >>> ok or "vowpalwabbit" in why
    True
    """
    try:
        import vowpalwabbit  # noqa: F401
    except Exception as exc:
        return False, (
            f"vowpalwabbit cannot be imported ({type(exc).__name__}: {exc}); "
            "install the 'vw' extra: pip install ihomer[vw]"
        )
    return True, ""


class VWMultiLabel(base.MultiLabelClassifier):
    """Vowpal Wabbit ``--multilabel_oaa`` as a river multi-label classifier.

    Each instance becomes one VW text line ``"i,j,K | name:value ..."``: labels are the indices of
    ``labels`` (plus the always-on dummy index ``K``, see the module docstring), feature names are
    escaped by :func:`vw_name`, string values become the indicator ``name=value``, and missing
    (``None``), zero and non-finite values are left out.

    Parameters
    ----------
    labels
        Every label of the stream, in a fixed order (VW needs their number up front). ``None``:
        the labels of the first ``learn_one`` (the keys of its ``y``). A label outside this list
        in a later ``y`` raises ``ValueError``.
    options
        VW arguments besides ``--multilabel_oaa`` (e.g. :data:`VW_HINGE`). With
        ``--probabilities`` the wrapper has :meth:`predict_proba_one` and a label is on when its
        probability is above ``threshold``.
    threshold
        Decision threshold on the probabilities (used only with ``--probabilities``).

    Examples
    --------
    >>> ok, _ = vw_available()
    >>> if ok:
    ...     model = VWMultiLabel(labels=["sports", "arts: music"], options=VW_HINGE)
    ...     for i in range(50):
    ...         model.learn_one({"goal": 1.0} if i % 2 else {"song": 1.0},
    ...                         {"sports": i % 2 == 1, "arts: music": i % 2 == 0})
    ...     print(model.predict_one({"goal": 1.0}))
    ... else:
    ...     print({'sports': True, 'arts: music': False})
    {'sports': True, 'arts: music': False}
    >>> if ok:
    ...     model = VWMultiLabel(labels=["a", "b"], options=VW_LOGISTIC)
    ...     for i in range(200):
    ...         model.learn_one({"f": 1.0} if i % 2 else {"g": 1.0}, {"a": i % 2 == 1, "b": False})
    ...     proba = model.predict_proba_one({"f": 1.0})
    ...     print(proba["a"][True] > 0.5 > proba["b"][True])
    ... else:
    ...     print(True)
    True
    """

    def __init__(
        self,
        labels: Iterable[Hashable] | None = None,
        options: str = VW_HINGE,
        threshold: float = 0.5,
    ) -> None:
        if not isinstance(options, str):
            raise ValueError(f"options must be a string of VW arguments, got {options!r}")
        if "--multilabel_oaa" in options.split():
            raise ValueError("options must not hold --multilabel_oaa (the wrapper sets it)")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
        if labels is not None:
            labels = list(labels)
            if not labels:
                raise ValueError("labels must not be empty (or None: taken from the first y)")
            if len(set(labels)) != len(labels):
                raise ValueError("labels must be distinct")
        self.labels = labels
        self.options = options
        self.threshold = threshold
        self._ws: Any = None
        self._names: dict[Any, str] = {}

    # -- workspace ------------------------------------------------------------------------------
    @property
    def probabilities(self) -> bool:
        """Whether the workspace predicts probabilities (``--probabilities`` in ``options``)."""
        return "--probabilities" in self.options.split()

    def _start(self, labels: list) -> None:
        ok, why = vw_available()
        if not ok:
            raise ImportError(why)
        from vowpalwabbit import Workspace

        self._labels = labels
        self._index = {label: i for i, label in enumerate(labels)}
        self._dummy = str(len(labels))
        self._ws = Workspace(f"--multilabel_oaa {len(labels) + 1} {self.options}")

    def _features(self, x: dict) -> str:
        names = self._names
        parts = []
        for key, value in x.items():
            if value is None or value is False:
                continue
            if isinstance(value, str):
                token = vw_name(f"{key}={value}")
                parts.append(token)
                continue
            value = float(value)
            if value == 0.0 or not math.isfinite(value):
                continue
            name = names.get(key)
            if name is None:
                name = names[key] = vw_name(key)
            parts.append(name if value == 1.0 else f"{name}:{value!r}")
        return " ".join(parts)

    # -- river API ------------------------------------------------------------------------------
    def learn_one(self, x: dict, y: dict) -> None:
        if self._ws is None:
            self._start(list(self.labels) if self.labels is not None else list(y))
        index = self._index
        on = []
        for label, value in y.items():
            i = index.get(label)
            if i is None:
                raise ValueError(
                    f"label {label!r} is not one of the {len(index)} labels the VW workspace was "
                    "built for (pass every label of the stream as labels=...)"
                )
            if value:
                on.append(str(i))
        on.append(self._dummy)
        self._ws.learn(",".join(on) + " | " + self._features(x))

    def _raw(self, x: dict) -> Any:
        raw = self._ws.predict("| " + self._features(x))
        if self.probabilities:
            # vowpalwabbit 9.11.9 appends the K + 1 probabilities to the scalars a recycled
            # example still holds from earlier predictions: this example's are the last K + 1.
            raw = raw[-(len(self._labels) + 1) :]
        return raw

    def predict_one(self, x: dict, **kwargs: Any) -> dict:
        if self._ws is None:
            if self.labels is None:
                return {}
            self._start(list(self.labels))
        raw = self._raw(x)
        labels = self._labels
        if self.probabilities:
            t = self.threshold
            return {label: raw[i] > t for i, label in enumerate(labels)}
        on = {int(i) for i in raw}
        return {label: i in on for i, label in enumerate(labels)}

    def predict_proba_one(self, x: dict, **kwargs: Any) -> dict:
        """``{label: {True: p, False: 1 - p}}`` (only with ``--probabilities`` in ``options``)."""
        if not self.probabilities:
            raise NotImplementedError(
                "predict_proba_one needs '--probabilities' in options (VW's hinge and squared "
                "losses give no probabilities)"
            )
        if self._ws is None:
            if self.labels is None:
                return {}
            self._start(list(self.labels))
        raw = self._raw(x)
        return {label: {True: raw[i], False: 1.0 - raw[i]} for i, label in enumerate(self._labels)}

    def __getstate__(self) -> dict:
        raise TypeError("VWMultiLabel holds a native VW workspace and cannot be pickled")
