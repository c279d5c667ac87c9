"""TensorFlow's tutorial loop ("writing a training loop from scratch"): a ``tf.data.Dataset``
shuffled and batched each epoch, a ``@tf.function`` train step with ``tf.GradientTape`` and
``optimizer.apply_gradients``, a Keras ``Mean`` metric for the running loss, and the test split
evaluated batch by batch after every epoch. Mixed precision: Keras's ``mixed_bfloat16`` policy.

    python src/droplab/bench/loops/tensorflow_tutorial.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

from typing import Any

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    with models.keras_mlp(s, data.train_x.shape[1]) as (tf, net):
        keras = tf.keras
        optimizer = keras.optimizers.SGD(s.lr)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        train_ds = tf.data.Dataset.from_tensor_slices((data.train_x, data.train_y))
        train_ds = train_ds.shuffle(len(data.train_y), seed=s.seed).batch(s.batch_size)
        val_ds = tf.data.Dataset.from_tensor_slices((data.val_x, data.val_y)).batch(s.batch_size)
        mean_loss = keras.metrics.Mean()
        accuracy = keras.metrics.SparseCategoricalAccuracy()

        @tf.function
        def train_step(x: Any, y: Any) -> None:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, net(x, training=True))
            grads = tape.gradient(loss, net.trainable_variables)
            optimizer.apply_gradients(zip(grads, net.trainable_variables))
            mean_loss.update_state(loss, sample_weight=tf.shape(y)[0])

        @tf.function
        def eval_step(x: Any, y: Any) -> None:
            accuracy.update_state(y, net(x, training=False))

        epochs = script.Epochs()
        for _ in range(s.epochs):
            epochs.start()
            mean_loss.reset_state()
            accuracy.reset_state()
            for x, y in train_ds:
                train_step(x, y)
            for x, y in val_ds:
                eval_step(x, y)
            epochs.stop(float(mean_loss.result()), float(accuracy.result()))
    return epochs.result()


run = script.loop(train)

if __name__ == "__main__":
    raise SystemExit(script.main(run))
