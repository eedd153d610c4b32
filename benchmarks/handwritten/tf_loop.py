"""Hand-written TensorFlow loop: tf.data pipeline + tf.function step + GradientTape.

Uses the Keras layers and optimizer that ship with TensorFlow, as most TF 2 code does.
"""

import sys

import tensorflow as tf
from _common import EPOCHS, Clock, digits, keras_row_transformer, report

n_threads = int(sys.argv[1])
tf.config.threading.set_intra_op_parallelism_threads(n_threads)
tf.config.threading.set_inter_op_parallelism_threads(n_threads)
x_tr, y_tr, x_te, y_te = digits()
L = tf.keras.layers


def model_for(name):
    if name == "attn-digits":
        return keras_row_transformer(tf.keras)
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
