"""Models that misbehave on purpose: the daemon must dead-letter what they fail on.

``make``: raises on records with a ``boom`` feature. ``make_mortal``: the process dies (SIGKILL,
as a segfault or the OOM killer would) when it learns a record with a ``die`` feature.
"""

from __future__ import annotations

import os
import signal

from ihomer.serve.models import LabelwiseLogistic


class Faulty(LabelwiseLogistic):
    def predict_one(self, x: dict) -> dict:
        if "boom" in x:
            raise RuntimeError("boom feature")
        return super().predict_one(x)


class Mortal(LabelwiseLogistic):
    def learn_one(self, x: dict, y: dict) -> None:
        if "die" in x:
            os.kill(os.getpid(), signal.SIGKILL)
        super().learn_one(x, y)


def make() -> Faulty:
    return Faulty()


def make_mortal() -> Mortal:
    return Mortal()
