"""scikit-learn probe: ``MLPClassifier`` on mlp-digits, ``HistGradientBoostingClassifier`` on
gbdt-digits.

mlp-digits: adam, lr 1e-3, batch 32. One ``partial_fit`` call is one epoch over the training
part, so epochs can be timed; the epoch order is the harness' seeded permutation
(``shuffle=False``, the harness already reshuffles). ``alpha=0``: the other frameworks train
without L2 penalty.

gbdt-digits: gradient-boosted trees, the family the knowledge base recommends for tabular data.
An "epoch" is ``harness.GBDT_ROUNDS_PER_EPOCH`` more boosting rounds (``warm_start``), so its
samples/s is training samples per 5 rounds per second: comparable between gbdt rows only. Across
model families the probe compares time to accuracy (harness.TARGET_ACCURACY).
scikit-learn has no CNN, no attention layer and no GPU.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def load(config: harness.Config) -> dict[str, Any]:
    import sklearn
    import sklearn.ensemble  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    return {
        "version": sklearn.__version__,
        "devices": [{"kind": "cpu", "name": "cpu"}],
        "ran_on": "cpu",
        "framework_threads": config.threads,
    }


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any]):
    model: dict[str, Any] = {}
    result = run_gbdt(config, data, model) if name == "gbdt-digits" else \
        run_mlp(name, config, data, model)
    trained = model["model"]  # --save-model: the deploy probe exports what was trained here
    harness.save_trained(config, info["_row"], name, data, data.x_test,
                         trained.predict_proba(data.x_test),
                         lambda folder: _pickle(trained, folder), output_kind="probabilities")
    return result


def _pickle(model: Any, folder: str) -> None:
    import pickle

    with open(os.path.join(folder, "model.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)


def run_gbdt(config: harness.Config, data: harness.Data, keep: dict[str, Any]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        learning_rate=0.1, max_leaf_nodes=31, max_iter=0, early_stopping=False,
        warm_start=True, random_state=config.seed,
    )

    def run_epoch(epoch: int) -> None:
        model.max_iter += harness.GBDT_ROUNDS_PER_EPOCH
        model.fit(data.x_train, data.y_train)

    def evaluate() -> float:
        return float((model.predict(data.x_test) == data.y_test).mean())

    times = harness.time_epochs(run_epoch, config.epochs, lambda: None,
                                min_block_s=config.min_block_s, evaluate=evaluate,
                                extra_s=harness.chase_s("gbdt-digits"))
    keep["model"] = model
    return times, evaluate(), None


def run_mlp(name: str, config: harness.Config, data: harness.Data, keep: dict[str, Any]):
    import numpy as np
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(128, 64), activation="relu", solver="adam",
        learning_rate_init=harness.LEARNING_RATE, batch_size=harness.BATCH[name], alpha=0.0,
        shuffle=False, random_state=config.seed,
    )
    classes = np.arange(10)
    x, y = data.x_train, data.y_train

    def run_epoch(epoch: int) -> None:
        order = harness.epoch_order(config.seed, epoch, data.n_train)
        model.partial_fit(x[order], y[order], classes=classes)

    def evaluate() -> float:
        return float((model.predict(data.x_test) == data.y_test).mean())

    times = harness.time_epochs(run_epoch, config.epochs, lambda: None,
                                min_block_s=config.min_block_s, evaluate=evaluate,
                                extra_s=harness.chase_s(name))
    keep["model"] = model
    return times, evaluate(), None


PROBE = harness.Probe(
    "sklearn", "sklearn", "pip install scikit-learn", load, run,
    workloads=("mlp-digits", "gbdt-digits"),
)

if __name__ == "__main__":
    harness.main(PROBE)
