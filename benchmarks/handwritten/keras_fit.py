"""Hand-written Keras 3 training: Sequential + compile + fit (backend from KERAS_BACKEND)."""

import time

import keras
from _common import EPOCHS, digits, keras_row_transformer, report

x_tr, y_tr, x_te, y_te = digits()
L = keras.layers


class EpochTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t0)


results = {}
for name, batch in (("mlp-digits", 32), ("cnn-digits", 128), ("attn-digits", 64)):
    if name == "attn-digits":
        model = keras_row_transformer(keras)
        x, xt = x_tr.reshape(-1, 8, 8), x_te.reshape(-1, 8, 8)
    elif name == "mlp-digits":
        model = keras.Sequential([keras.Input((64,)), L.Dense(128, activation="relu"),
                                  L.Dense(64, activation="relu"), L.Dense(10)])
        x, xt = x_tr, x_te
    else:
        model = keras.Sequential([
            keras.Input((8, 8, 1)), L.Conv2D(32, 3, padding="same", activation="relu"),
            L.Conv2D(64, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
            L.Dense(128, activation="relu"), L.Dense(10)])
        x, xt = x_tr.reshape(-1, 8, 8, 1), x_te.reshape(-1, 8, 8, 1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = EpochTimes()
    model.fit(x, y_tr, batch_size=batch, epochs=EPOCHS, verbose=0, callbacks=[timer])
    acc = (model.predict(xt, verbose=0).argmax(1) == y_te).mean()
    results[name] = (timer.times, len(x), acc)
report(results)
