"""scikit-learn probe: ``MLPClassifier`` (adam, lr 1e-3, batch 32), mlp-digits only.

One ``partial_fit`` call is one epoch over the training part, so epochs can be timed; the epoch
order is the harness' seeded permutation (``shuffle=False``, the harness already reshuffles).
``alpha=0``: the other frameworks train without L2 penalty. scikit-learn has no CNN and no GPU.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def load(config: harness.Config) -> dict[str, Any]:
    import sklearn
    import sklearn.neural_network  # noqa: F401

    return {
        "version": sklearn.__version__,
        "devices": [{"kind": "cpu", "name": "cpu"}],
        "ran_on": "cpu",
        "framework_threads": config.threads,
    }


def run(name: str, config: harness.Config, data: harness.Data, info: dict[str, Any]):
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

    times = harness.time_epochs(run_epoch, config.epochs, lambda: None,
                                min_block_s=config.min_block_s)
    accuracy = float((model.predict(data.x_test) == data.y_test).mean())
    harness.save_trained(config, info["_row"], name, data, data.x_test,
                         model.predict_proba(data.x_test), lambda folder: _pickle(model, folder),
                         output_kind="probabilities")
    return times, accuracy, None


def _pickle(model: Any, folder: str) -> None:
    import pickle

    with open(os.path.join(folder, "model.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)


PROBE = harness.Probe(
    "sklearn", "sklearn", "pip install scikit-learn", load, run, workloads=("mlp-digits",)
)

if __name__ == "__main__":
    harness.main(PROBE)
