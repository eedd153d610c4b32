"""Hand-written scikit-learn: MLPClassifier, one partial_fit per epoch (mlp-digits), and
HistGradientBoostingClassifier, 5 more boosting rounds per epoch with warm_start (gbdt-digits)."""

import numpy as np
from _common import EPOCHS, Clock, digits, report
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier

x_tr, y_tr, x_te, y_te = digits()
model = MLPClassifier(hidden_layer_sizes=(128, 64), batch_size=32, learning_rate_init=1e-3,
                      alpha=0.0, random_state=0)
clock = Clock()
for epoch in range(EPOCHS):
    clock.start()
    model.partial_fit(x_tr, y_tr, classes=np.arange(10))
    clock.stop()
results = {"mlp-digits": (clock.times, len(x_tr), model.score(x_te, y_te))}
gbdt = HistGradientBoostingClassifier(max_iter=0, early_stopping=False, warm_start=True,
                                      random_state=0)
clock = Clock()
for epoch in range(EPOCHS):
    clock.start()
    gbdt.max_iter += 5
    gbdt.fit(x_tr, y_tr)
    clock.stop()
results["gbdt-digits"] = (clock.times, len(x_tr), gbdt.score(x_te, y_te))
report(results)
