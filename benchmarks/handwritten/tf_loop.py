"""Hand-written TensorFlow loop: tf.data pipeline + tf.function step + GradientTape.

Uses the Keras layers and optimizer that ship with TensorFlow, as most TF 2 code does.
"""

import sys

import tensorflow as tf
from _common import EPOCHS, Clock, digits, report

n_threads = int(sys.argv[1])
tf.config.threading.set_intra_op_parallelism_threads(n_threads)
tf.config.threading.set_inter_op_parallelism_threads(n_threads)
x_tr, y_tr, x_te, y_te = digits()
L = tf.keras.layers


def encoder_layer(h):
    """Post-norm transformer encoder layer: d_model 64, 4 heads, feed-forward 128, GELU."""
    h = L.LayerNormalization(epsilon=1e-5)(h + L.MultiHeadAttention(4, 16)(h, h))
    f = L.Dense(64)(L.Dense(128, activation="gelu")(h))
    return L.LayerNormalization(epsilon=1e-5)(h + f)


class Positions(L.Layer):
    def build(self, shape):
        self.pos = self.add_weight(shape=(1, 8, 64), initializer="zeros")

    def call(self, x):
        return x + self.pos


def model_for(name):
    if name == "attn-digits":
        inp = tf.keras.Input((8, 8))
        h = encoder_layer(encoder_layer(Positions()(L.Dense(64)(inp))))
        return tf.keras.Model(inp, L.Dense(10)(L.GlobalAveragePooling1D()(h)))
    if name == "mlp-digits":
        return tf.keras.Sequential([tf.keras.Input((64,)), L.Dense(128, activation="relu"),
                                    L.Dense(64, activation="relu"), L.Dense(10)])
    return tf.keras.Sequential([
        tf.keras.Input((8, 8, 1)), L.Conv2D(32, 3, padding="same", activation="relu"),
        L.Conv2D(64, 3, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(128, activation="relu"), L.Dense(10)])


results = {}
SHAPES = {"mlp-digits": (-1, 64), "cnn-digits": (-1, 8, 8, 1), "attn-digits": (-1, 8, 8)}
for name, batch in (("mlp-digits", 32), ("cnn-digits", 128), ("attn-digits", 64)):
    tf.random.set_seed(0)
    shape = SHAPES[name]
    x = x_tr.reshape(shape)
    ds = tf.data.Dataset.from_tensor_slices((x, y_tr)).shuffle(len(x)).batch(batch)
    model = model_for(name)
    opt = tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    clock = Clock()
    for epoch in range(EPOCHS):
        clock.start()
        for xb, yb in ds:
            loss = train_step(xb, yb)
        loss.numpy()
        clock.stop()
    acc = (model(x_te.reshape(shape)).numpy().argmax(1) == y_te).mean()
    results[name] = (clock.times, len(x), acc)
report(results)
