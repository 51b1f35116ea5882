"""The benchmark's model registry: every model a run can name, how to build it, and whether it is
stochastic (run over several seeds) or deterministic (run once).

This module owns :data:`MODELS` and :func:`make_model`. Peers are built the way their users would
build them: river models are fed the record dicts as they come (a sparse record is a sparse dict,
and river's trees take an absent key as *missing*, not 0; see ``NOTES``). Heavy imports (capymoa,
the iHOMER model) happen inside the builders, so listing models is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ModelSpec",
    "MODELS",
    "DEFAULT_MODELS",
    "QUICK_MODELS",
    "NOTES",
    "make_model",
    "model_available",
]


@dataclass(frozen=True)
class ModelSpec:
    """One benchmark model.

    Attributes
    ----------
    name
        Row name in the tables (``family-short``).
    family
        ``"ihomer"``, ``"river"``, ``"moa"``, ``"vw"`` or ``"baseline"``.
    stochastic
        Run once per seed (mean +- std) when True, once (seed ``None``) when False.
    description
        What exactly runs (class and configuration).
    build
        ``build(seed, stream) -> model``; ``stream`` is the opened stream (labels, features).
    needs_scan
        The builder needs every feature of the stream up front (MOA's fixed header).
    skip_streams
        Streams this model leaves out *of the default set only* (too slow to finish there; an
        explicit ``--models`` still runs it), with the reason in ``NOTES``.
    """

    name: str
    family: str
    stochastic: bool
    description: str
    build: Callable[[int | None, Any], Any] = field(repr=False, compare=False)
    needs_scan: bool = False
    skip_streams: frozenset[str] = frozenset()


def _ihomer(seed, stream):
    from ihomer.model import IHOMER

    return IHOMER(seed=0 if seed is None else seed)


def _river_br_ht(seed, stream):
    from river import multioutput, tree

    return multioutput.PerOutputClassifier(tree.HoeffdingTreeClassifier())


def _river_br_arf(seed, stream):
    from river import forest, multioutput

    return multioutput.PerOutputClassifier(forest.ARFClassifier(n_models=10, seed=seed))


def _river_cc_lr(seed, stream):
    # No StandardScaler: river's scales only the keys a sparse dict holds, which ruins sparse
    # streams (medical micro-F1 0.003 with it, 0.20 without, as the published BR of LR).
    from river import linear_model, multioutput

    from ihomer.bench.baselines import OneHotStrings

    labels = list(getattr(stream, "labels", []) or []) or None
    return OneHotStrings() | multioutput.ClassifierChain(
        linear_model.LogisticRegression(), order=labels
    )


def _river_isoupt(seed, stream):
    from river import tree

    from ihomer.bench.baselines import OneHotStrings, ThresholdedRegressor

    # its leaf models are linear regressors: categories one-hot (they raise on strings)
    return OneHotStrings() | ThresholdedRegressor(tree.ISOUPTreeRegressor(), threshold=0.5)


def _majority(seed, stream):
    from ihomer.bench.baselines import MajorityLabelSet

    return MajorityLabelSet()


def _dense(model, stream):
    from ihomer.bench.baselines import DenseInput

    return DenseInput(model, features=list(stream.features))


def _river_br_ht_dense(seed, stream):
    return _dense(_river_br_ht(seed, stream), stream)


def _moa(short: str) -> Callable[[int | None, Any], Any]:
    def build(seed, stream):
        from ihomer.bench.moa import MOAMultiLabel

        return MOAMultiLabel(
            short,
            features=list(stream.scanned_features),
            labels=list(stream.scanned_labels),
            nominal=dict(stream.scanned_nominal),
            seed=1 if seed is None else seed,
        )

    return build


def _vw(options: str) -> Callable[[int | None, Any], Any]:
    def build(seed, stream):
        from ihomer.bench.vw import VWMultiLabel

        labels = list(getattr(stream, "labels", []) or []) or None
        return VWMultiLabel(labels=labels, options=options)

    return build


def _vw_options(name: str) -> str:
    from ihomer.bench import vw

    return vw.VW_HINGE if name == "hinge" else vw.VW_LOGISTIC


#: Large streams where BR of ARF (n_models=10 per label) cannot finish in the per-job budget.
_ARF_SLOW = frozenset(
    {"enron", "slashdot", "20ng", "tmc2007-500", "corel5k", "medical", "cal500", "delicious"}
)

_SPECS = [
    ModelSpec(
        "ihomer", "ihomer", False, "ihomer.IHOMER(), default configuration (no randomness)", _ihomer
    ),
    ModelSpec(
        "river-br-ht",
        "river",
        False,
        "river multioutput.PerOutputClassifier(tree.HoeffdingTreeClassifier()), defaults",
        _river_br_ht,
    ),
    ModelSpec(
        "river-br-arf",
        "river",
        True,
        "river multioutput.PerOutputClassifier(forest.ARFClassifier(n_models=10, seed=s))",
        _river_br_arf,
        skip_streams=_ARF_SLOW,
    ),
    ModelSpec(
        "river-cc-lr",
        "river",
        False,
        "river OneHotStrings() | multioutput.ClassifierChain(linear_model.LogisticRegression(), "
        "order=stream labels); OneHotStrings one-hots categories and drops missing values",
        _river_cc_lr,
    ),
    ModelSpec(
        "river-isoupt",
        "river",
        False,
        "river OneHotStrings() | tree.ISOUPTreeRegressor() on 0/1 targets, label on when "
        "output > 0.5",
        _river_isoupt,
    ),
    ModelSpec(
        "majority-labelset",
        "baseline",
        False,
        "the most frequent label set seen so far",
        _majority,
    ),
    ModelSpec(
        "moa-mlht",
        "moa",
        False,
        "MOA moa.classifiers.multilabel.MultilabelHoeffdingTree, defaults",
        _moa("mlht"),
        needs_scan=True,
    ),
    ModelSpec(
        "moa-isoupt",
        "moa",
        False,
        "MOA moa.classifiers.multilabel.trees.ISOUPTree, defaults",
        _moa("isoupt"),
        needs_scan=True,
    ),
    ModelSpec(
        "moa-br-ht",
        "moa",
        False,
        "MOA moa.classifiers.multitarget.BasicMultiLabelLearner -l trees.HoeffdingTree",
        _moa("br-ht"),
        needs_scan=True,
    ),
    ModelSpec(
        "moa-amrules",
        "moa",
        False,
        "MOA moa.classifiers.rules.multilabel.AMRulesMultiLabelClassifier, defaults",
        _moa("amrules"),
        needs_scan=True,
    ),
    ModelSpec(
        "vw-hinge",
        "vw",
        False,
        "Vowpal Wabbit Workspace('--multilabel_oaa K+1 " + _vw_options("hinge") + "'), one "
        "text line per instance, plus an always-on dummy label (ihomer.bench.vw)",
        _vw(_vw_options("hinge")),
    ),
    ModelSpec(
        "vw-logistic",
        "vw",
        False,
        "Vowpal Wabbit Workspace('--multilabel_oaa K+1 " + _vw_options("logistic") + "'), "
        "label on when its probability > 0.5, plus an always-on dummy label (ihomer.bench.vw)",
        _vw(_vw_options("logistic")),
    ),
    ModelSpec(
        "river-br-ht-dense",
        "river",
        False,
        "river-br-ht fed dense dicts (every declared feature, absent = 0.0): not what a river "
        "user gets from a sparse source, shown for the sparse-vs-missing comparison",
        _river_br_ht_dense,
    ),
]

#: Every model by name.
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}

#: What a run uses without ``--models``.
DEFAULT_MODELS: tuple[str, ...] = (
    "ihomer",
    "river-br-ht",
    "river-br-arf",
    "river-cc-lr",
    "river-isoupt",
    "majority-labelset",
    "moa-mlht",
    "moa-isoupt",
    "moa-br-ht",
    "moa-amrules",
    "vw-hinge",
    "vw-logistic",
)

#: What ``--quick`` uses without ``--models``.
QUICK_MODELS: tuple[str, ...] = (
    "ihomer",
    "river-br-ht",
    "river-cc-lr",
    "river-isoupt",
    "majority-labelset",
    "moa-br-ht",
    "moa-mlht",
)

#: Notes printed with every report.
NOTES: tuple[str, ...] = (
    "Prequential (test-then-train) over the whole stream in file order, no warm-up excluded; "
    "every model, MOA's included, is scored by the same loop (ihomer.evaluate.prequential) and "
    "the same metric code (ihomer.metrics).",
    "river peers are fed the record dicts as a river user gets them: a sparse record is a sparse "
    "dict, and river's trees take an absent key as missing (not 0), which ruins them on sparse "
    "text streams. 'river-br-ht-dense' (when present) is fed dense dicts for comparison.",
    "MOA peers (capymoa 0.15.1 + jpype): MEKA-style header built from one pass over the stream "
    "before the timed run (categorical features nominal, labels nominal {0,1}); a label is on "
    "when MOA's vote "
    "for 1 is above 0.5. Their time includes the Python-to-Java conversion of every instance.",
    "river-br-arf is left out of the default set on the large streams "
    + ", ".join(sorted(_ARF_SLOW))
    + " (BR of 10-tree forests cannot finish there within the per-job budget): shown as "
    "'not run' and ranked like a DNF there; name it in --models to run it anyway.",
    "Peak RSS is the resident-set high-water mark of the job's own process (interpreter, "
    "libraries and, for MOA, the JVM included): compare within a family.",
    "Published rows come from the MLHAT paper's result files (../shared/reference): another "
    "machine and implementation; their time column is not comparable with ours.",
)


def model_available(name: str) -> tuple[bool, str]:
    """Whether model ``name`` can run here, and if not, why."""
    spec = MODELS.get(name)
    if spec is None:
        return False, f"unknown model {name!r}; known: {', '.join(MODELS)}"
    if spec.family == "moa":
        from ihomer.bench.moa import moa_available

        return moa_available(start_jvm=False)
    if spec.family == "vw":
        from ihomer.bench.vw import vw_available

        return vw_available()
    if spec.family == "ihomer":
        try:
            from ihomer.model import IHOMER  # noqa: F401
        except Exception as exc:
            return False, f"ihomer.model.IHOMER cannot be imported ({type(exc).__name__}: {exc})"
    return True, ""


def make_model(spec: str, seed: int | None = 0, stream: Any = None) -> Any:
    """Build model ``spec`` for ``stream``: the one registry's :func:`ihomer.registry.build_model`
    (a name of :data:`MODELS`, or ``ihomer[:key=value,...]``).

    MOA models and ``river-cc-lr`` need ``stream`` (its labels; MOA also its scanned features).

    Examples
    --------
    >>> model = make_model("majority-labelset")
    >>> model.learn_one({}, {"a": True})
    >>> model.predict_one({})
    {'a': True}
    """
    from ihomer.registry import build_model

    name = spec.partition(":")[0].strip()
    if name not in MODELS:
        raise ValueError(f"unknown benchmark model {name!r}; known: {', '.join(MODELS)}")
    return build_model(spec, seed=seed, stream=stream)
