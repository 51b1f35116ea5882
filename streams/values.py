"""Which numbers a stream may hand to a model.

This module owns the rule every file adapter applies to a numeric feature value: it must be finite
and at most :data:`MAX_ABS_VALUE` (``1e150``) in magnitude, or NaN (a missing value spelt as a
number, which the model reads as missing). A value outside (``inf``, ``1e308``) would poison a
model's float64 statistics (its square overflows), so the adapters refuse the record:
:class:`streams.StreamFormatError` with the file, the line and the reason (strict), or skip, count
and keep it (``lenient=True``). ``?`` / an empty cell / ``null`` stay *missing*. The model's encoder
(:mod:`ihomer.features`) applies the same bound to what comes from elsewhere (the Python API),
treating such a value as missing. It must not know about formats.
"""

from __future__ import annotations

__all__ = ["MAX_ABS_VALUE", "usable_number", "usable_float", "all_usable", "unusable_reason"]

#: Largest magnitude of a numeric feature value (the same bound as ``ihomer.features``).
MAX_ABS_VALUE = 1e150
_NEG = -MAX_ABS_VALUE


def usable_number(v: float) -> bool:
    """At most :data:`MAX_ABS_VALUE` in magnitude, or NaN (missing); False for infinities.

    >>> usable_number(3.5), usable_number(float("inf")), usable_number(1e308)
    (True, False, False)
    >>> usable_number(float("nan"))
    True
    """
    return _NEG <= v <= MAX_ABS_VALUE or v != v


def usable_float(text: str) -> float:
    """``float(text)``, raising ``ValueError`` when the number is not usable.

    >>> usable_float("2.5")
    2.5
    >>> usable_float("inf")
    Traceback (most recent call last):
    ...
    ValueError: inf
    """
    f = float(text)
    if _NEG <= f <= MAX_ABS_VALUE or f != f:
        return f
    raise ValueError(text)


def all_usable(values: list[float]) -> bool:
    """Whether every float of ``values`` is finite and usable (three C-level passes, no
    per-value Python); False also when one is NaN (the caller then looks value by value).

    >>> all_usable([1.0, -2.0]), all_usable([1.0, float("nan")]), all_usable([-1e200, 1e200])
    (True, False, False)
    """
    if not values:
        return True
    t = sum(values)  # NaN and +-inf propagate through the sum
    return t - t == 0.0 and max(values) <= MAX_ABS_VALUE and min(values) >= _NEG


def unusable_reason(v: float) -> str:
    """Why ``v`` is refused, in words.

    >>> unusable_reason(float("inf")), unusable_reason(1e200)
    ('inf is not finite', '1e+200 is beyond the largest usable magnitude 1e+150')
    """
    if v in (float("inf"), float("-inf")):
        return f"{v!r} is not finite"
    return f"{v!r} is beyond the largest usable magnitude {MAX_ABS_VALUE!r}"
