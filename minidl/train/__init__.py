"""Training: ``fit`` runs the loop, ``evaluate`` measures a model, ``History`` records both."""

from minidl.train.fit import History, evaluate, fit

__all__ = ["History", "evaluate", "fit"]
