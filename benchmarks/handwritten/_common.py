"""Shared by the hand-written loops: the digits split and the timing/JSON output (no harness)."""

import json
import statistics
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

EPOCHS = 6  # the first is warm-up, the other five are timed


def digits():
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x.astype(np.float32), y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    return (scaler.transform(x_tr).astype(np.float32), y_tr,
            scaler.transform(x_te).astype(np.float32), y_te)


class Clock:
    def __init__(self):
        self.times = []
        self.t0 = 0.0

    def start(self):
        self.t0 = time.perf_counter()

    def stop(self):
        self.times.append(time.perf_counter() - self.t0)


def report(results):
    """results: {workload: (epoch seconds list, n_train, accuracy)} -> one JSON line."""
    out = {}
    for name, (times, n, acc) in results.items():
        out[name] = {"samples_per_s": statistics.median(n / t for t in times[1:]),
                     "accuracy": float(acc)}
    print(json.dumps(out))
    sys.stdout.flush()


def keras_row_transformer(keras):
    """attn-digits from Keras layers (``keras`` is Keras 3 or TensorFlow's ``tf.keras``): 8 row
    tokens -> dense 64 + learned positions -> 2 post-norm encoder layers (4 heads, feed-forward
    128, GELU) -> mean over tokens -> dense 10."""
    layers = keras.layers

    class Positions(layers.Layer):
        def build(self, shape):
            self.pos = self.add_weight(shape=(1, 8, 64), initializer="zeros")

        def call(self, x):
            return x + self.pos

    def encoder_layer(h):
        h = layers.LayerNormalization(epsilon=1e-5)(h + layers.MultiHeadAttention(4, 16)(h, h))
        f = layers.Dense(64)(layers.Dense(128, activation="gelu")(h))
        return layers.LayerNormalization(epsilon=1e-5)(h + f)

    inp = keras.Input((8, 8))
    h = encoder_layer(encoder_layer(Positions()(layers.Dense(64)(inp))))
    return keras.Model(inp, layers.Dense(10)(layers.GlobalAveragePooling1D()(h)))
