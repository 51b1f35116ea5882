"""MOA's multi-label learners behind river's ``MultiLabelClassifier`` interface.

This module owns :class:`MOAMultiLabel`, an adapter that turns ``(x: dict, y: dict)`` pairs into
MOA ``InstanceImpl`` objects with a MEKA-style header (the labels are the first ``L`` attributes,
nominal ``{0,1}``, declared as the output range; every feature is numeric) and reads MOA's
``Prediction`` votes back. MOA is reached through capymoa (which starts a JVM with its bundled
``moa.jar``) and jpype; both are imported lazily, so importing this module never needs Java.

A label is predicted on when MOA's vote for its value 1 is above 0.5 (as in
``../shared/reference/measured-here.md``). MOA needs the full header up front: the attribute list
comes from :func:`scan_features` (one pass over the stream before the timed run). Features that
hold strings become MOA nominal attributes (as MOA reads them from an ARFF header), the others are
numeric; ``None`` / NaN becomes MOA's missing value.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from river import base

__all__ = ["MOA_CLASSES", "MOAMultiLabel", "moa_available", "scan_features"]

#: Short name -> (MOA class, CLI options applied with ``setValueViaCLIString``).
MOA_CLASSES: dict[str, tuple[str, dict[str, str]]] = {
    "mlht": ("moa.classifiers.multilabel.MultilabelHoeffdingTree", {}),
    "isoupt": ("moa.classifiers.multilabel.trees.ISOUPTree", {}),
    "br-ht": (
        "moa.classifiers.multitarget.BasicMultiLabelLearner",
        {"baseLearnerOption": "trees.HoeffdingTree"},
    ),
    "amrules": ("moa.classifiers.rules.multilabel.AMRulesMultiLabelClassifier", {}),
}


def moa_available(start_jvm: bool = True) -> tuple[bool, str]:
    """``(True, "")`` when capymoa, jpype and Java can run MOA, else ``(False, why)``.

    ``start_jvm=False`` only looks for the packages and a ``java`` executable (no JVM is started
    in this process; the benchmark's parent uses it, the jobs start their own JVM).
    """
    if not start_jvm:
        import importlib.util
        import os
        import shutil

        missing = [m for m in ("capymoa", "jpype") if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"MOA unavailable: {', '.join(missing)} not installed (the 'moa' extra)"
        java_home = os.environ.get("JAVA_HOME")
        if shutil.which("java") is None and not java_home:
            return False, "MOA unavailable: no Java runtime (java not on PATH, JAVA_HOME unset)"
        return True, ""
    try:
        import capymoa  # noqa: F401  (starts the JVM with moa.jar on the class path)
        import jpype

        jpype.JClass("moa.classifiers.multilabel.MultilabelHoeffdingTree")
    except Exception as exc:  # ImportError, JVMNotFoundException, RuntimeError...
        return False, f"MOA unavailable ({type(exc).__name__}: {exc}); install ihomer[moa], Java 17"
    return True, ""


def scan_features(records: Iterable[tuple[dict, dict]]) -> tuple[list, list, dict]:
    """``(features, labels, nominal)``: every feature and label in first-seen order, and for each
    feature that holds strings (a category), its values in first-seen order.

    Examples
    --------
    >>> scan_features([({"a": 1.0, "c": "red"}, {"l1": True}), ({"c": "blue"}, {"l2": False})])
    (['a', 'c'], ['l1', 'l2'], {'c': ['red', 'blue']})
    """
    features: dict = {}
    labels: dict = {}
    nominal: dict[Hashable, dict] = {}
    for x, y in records:
        for k, v in x.items():
            features.setdefault(k, None)
            if isinstance(v, str):
                nominal.setdefault(k, {}).setdefault(v, None)
        for k in y:
            labels.setdefault(k, None)
    return list(features), list(labels), {k: list(v) for k, v in nominal.items()}


class MOAMultiLabel(base.MultiLabelClassifier):
    """A MOA multi-label learner driven one instance at a time.

    Parameters
    ----------
    learner
        A key of :data:`MOA_CLASSES` (``"mlht"``, ``"isoupt"``, ``"br-ht"``, ``"amrules"``).
    features
        Every feature key the stream can produce (see :func:`scan_features`).
    labels
        Every label of the stream.
    nominal
        For each categorical feature, its values: a MOA nominal attribute (as in an ARFF
        header). Other features are numeric.
    seed
        MOA's ``randomSeed`` option where the learner has one.

    Examples
    --------
    >>> ok, _ = moa_available()
    >>> if ok:
    ...     m = MOAMultiLabel("br-ht", features=["f"], labels=["a", "b"])
    ...     for i in range(50):
    ...         m.learn_one({"f": float(i % 2)}, {"a": i % 2 == 1, "b": False})
    ...     print(m.predict_one({"f": 1.0}))
    ... else:
    ...     print({'a': True, 'b': False})
    {'a': True, 'b': False}
    """

    def __init__(
        self,
        learner: str,
        features: Sequence[Hashable],
        labels: Sequence[Hashable],
        nominal: dict | None = None,
        seed: int = 1,
    ) -> None:
        self.learner = learner
        self.features = features
        self.labels = labels
        self.nominal = nominal
        self.seed = seed
        self._model = None

    # -- lazy set-up -----------------------------------------------------------------------
    def _setup(self) -> None:
        if self.learner not in MOA_CLASSES:
            raise ValueError(
                f"unknown MOA learner {self.learner!r}; choose one of {sorted(MOA_CLASSES)}"
            )
        import capymoa  # noqa: F401
        import jpype

        attribute = jpype.JClass("com.yahoo.labs.samoa.instances.Attribute")
        instances = jpype.JClass("com.yahoo.labs.samoa.instances.Instances")
        header_cls = jpype.JClass("com.yahoo.labs.samoa.instances.InstancesHeader")
        range_cls = jpype.JClass("com.yahoo.labs.samoa.instances.Range")
        array_list = jpype.JClass("java.util.ArrayList")
        self._instance_cls = jpype.JClass("com.yahoo.labs.samoa.instances.InstanceImpl")
        self._jdoubles = jpype.JArray(jpype.JDouble)

        self._labels = list(self.labels)
        n_labels = len(self._labels)
        if n_labels == 0:
            raise ValueError("MOAMultiLabel needs at least one label")
        attrs = array_list()
        for label in self._labels:
            values = array_list()
            values.add("0")
            values.add("1")
            attrs.add(attribute(str(label), values))
        self._feature_pos: dict = {}
        self._categories: dict = {}
        nominal = self.nominal or {}
        for j, f in enumerate(self.features):
            self._feature_pos[f] = n_labels + j
            if f in nominal:
                values = array_list()
                for v in nominal[f]:
                    values.add(str(v))
                self._categories[f] = {str(v): i for i, v in enumerate(nominal[f])}
                attrs.add(attribute(f"f{j}", values))
            else:
                attrs.add(attribute(f"f{j}"))
        self._width = n_labels + len(self._feature_pos)
        data = instances("stream", attrs, 0)
        data.setRangeOutputIndices(range_cls(f"1-{n_labels}"))
        self._header = header_cls(data)

        class_name, options = MOA_CLASSES[self.learner]
        model = jpype.JClass(class_name)()
        for option, value in options.items():
            getattr(model, option).setValueViaCLIString(value)
        if hasattr(model, "randomSeedOption"):
            model.randomSeedOption.setValue(int(self.seed))
        model.prepareForUse()
        model.setModelContext(self._header)
        model.resetLearning()
        self._model = model
        self._n_unknown = 0

    def _instance(self, x: dict, y: dict | None):
        import numpy as np

        values = np.zeros(self._width)
        pos = self._feature_pos
        categories = self._categories
        for k, v in x.items():
            j = pos.get(k)
            if j is None:
                self._n_unknown += 1  # a feature the scan did not see: ignored
                continue
            if v is None or (isinstance(v, float) and math.isnan(v)):
                values[j] = math.nan  # MOA's missing value
            elif k in categories:
                values[j] = categories[k].get(str(v), math.nan)  # unseen category: missing
            elif isinstance(v, str):
                self._n_unknown += 1  # a string in a numeric attribute: left missing
                values[j] = math.nan
            else:
                values[j] = float(v)
        if y is not None:
            for i, label in enumerate(self._labels):
                if y.get(label):
                    values[i] = 1.0
        inst = self._instance_cls(1.0, self._jdoubles(values))
        inst.setDataset(self._header)
        return inst

    def start(self) -> MOAMultiLabel:
        """Start the JVM and build the MOA learner now (so that a timed run does not pay for it)."""
        if self._model is None:
            self._setup()
        return self

    # -- river interface --------------------------------------------------------------------
    def learn_one(self, x: dict, y: dict) -> None:
        if self._model is None:
            self._setup()
        self._model.trainOnInstance(self._instance(x, y))

    def predict_proba_one(self, x: dict, **kwargs: Any) -> dict:
        if self._model is None:
            self._setup()
        prediction = self._model.getPredictionForInstance(self._instance(x, None))
        out = {}
        size = prediction.size() if prediction is not None else 0
        for i, label in enumerate(self._labels):
            p1 = 0.0
            if i < size:
                votes = prediction.getVotes(i)
                if len(votes) > 1:
                    p1 = float(votes[1])
            p1 = min(max(p1, 0.0), 1.0)
            out[label] = {False: 1.0 - p1, True: p1}
        return out

    def predict_one(self, x: dict, **kwargs: Any) -> dict:
        proba = self.predict_proba_one(x)
        return {label: p[True] > 0.5 for label, p in proba.items()}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in list(state):
            if key.startswith("_") and key != "_model":
                del state[key]
        state["_model"] = None  # Java objects are not picklable; a copy starts fresh
        return state
