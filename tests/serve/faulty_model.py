"""A model that raises on records with a ``boom`` feature (the daemon must dead-letter them)."""

from __future__ import annotations

from ihomer.serve.models import LabelwiseLogistic


class Faulty(LabelwiseLogistic):
    def predict_one(self, x: dict) -> dict:
        if "boom" in x:
            raise RuntimeError("boom feature")
        return super().predict_one(x)


def make() -> Faulty:
    return Faulty()
