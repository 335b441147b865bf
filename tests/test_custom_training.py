"""TF2 custom training code -> PyTorch (translator/custom_training.py).

- before/after tables, one construct per case: tapes, gradients (one per function:
  zero_grad/backward/step; several: autograd.grad + param.grad), optimizers, loss objects,
  model modes, ``@tf.function``, eager ops, dataset batches;
- what stays TODO, with its line and reason;
- numbers: the DCGAN fixture's ``train_step`` run by Keras and, translated, by torch from
  the same weights, noise and images: both models' weights agree after three steps;
- TensorFlow's advanced quickstart (fixtures/keras/quickstart_custom_loop.py, Keras metric
  objects in the loop) translated and run without TensorFlow, its printed metrics checked.
  The metric classes themselves are compared with keras.metrics in tests/test_metrics.py.

This module imports neither framework (the numbers run in one process per framework).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import EXPECTED, FIXTURES, ROOT
from translator.translate import translate_source

#: two translated models (one with Dropout: mode-dependent, one without) and two pipelines
HEAD = """\
import numpy as np
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(8), tf.keras.layers.Dropout(0.5),
                             tf.keras.layers.Dense(1)])
critic = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
x_data = np.zeros((8, 4), "float32")
images = tf.data.Dataset.from_tensor_slices(x_data).batch(4)
pairs = tf.data.Dataset.from_tensor_slices((x_data, x_data[:, :1])).batch(4)
# ---- case
"""


def tr(body: str):
    result = translate_source(HEAD + textwrap.dedent(body).lstrip(), "case.py")
    compile(result.code, "case.py", "exec")  # the output is always valid Python
    return result


def case_of(result) -> str:
    """The translation of the case (what follows the head's marker)."""
    return result.code.split("# ---- case\n", 1)[1]


CASES = [
    pytest.param("""
        opt = tf.keras.optimizers.Adam(1e-3)
        loss_fn = tf.keras.losses.MeanSquaredError()

        def step(x, y):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                loss = loss_fn(y, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        for xb, yb in pairs:
            step(xb, yb)
    """, """
        opt = KerasAdam(model.parameters(), lr=1e-3)
        loss_fn = mean_squared_error

        def step(x, y):
            model.train()
            pred = model(x)
            loss = loss_fn(pred, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        for xb, yb in pairs:
            step(xb, yb)
    """, id="one-gradient-is-zero_grad-backward-step"),
    pytest.param("""
        model_opt = tf.keras.optimizers.Adam(1e-4)
        critic_opt = tf.keras.optimizers.SGD(0.1)
        bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)

        def step(x):
            with tf.GradientTape() as m_tape, tf.GradientTape() as c_tape:
                out = model(x, training=True)
                score = critic(out, training=True)
                m_loss = bce(tf.ones_like(score), score)
                c_loss = bce(tf.zeros_like(score), score)
            m_grads = m_tape.gradient(m_loss, model.trainable_variables)
            c_grads = c_tape.gradient(c_loss, critic.trainable_variables)
            model_opt.apply_gradients(zip(m_grads, model.trainable_variables))
            critic_opt.apply_gradients(zip(c_grads, critic.trainable_variables))

        for batch in images:
            step(batch)
    """, """
        model_opt = KerasAdam(model.parameters(), lr=1e-4)
        critic_opt = torch.optim.SGD(critic.parameters(), lr=0.1)
        bce = binary_crossentropy_from_logits

        def step(x):
            model.train()
            out = model(x)
            critic.train()
            score = critic(out)
            m_loss = bce(score, torch.ones_like(score))
            c_loss = bce(score, torch.zeros_like(score))
            m_grads = torch.autograd.grad(m_loss, model.parameters(), retain_graph=True)
            c_grads = torch.autograd.grad(c_loss, critic.parameters())
            for param, grad in zip(model.parameters(), m_grads):
                param.grad = grad
            model_opt.step()
            for param, grad in zip(critic.parameters(), c_grads):
                param.grad = grad
            critic_opt.step()

        for batch in images:
            step(batch)
    """, id="two-tapes-gan-faithful-form"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.01)

        def step(x):
            with tf.GradientTape(persistent=True) as tape:
                pred = model(x, training=True)
                a = tf.reduce_mean(pred)
                b = tf.reduce_sum(tf.square(pred))
            grads_a = tape.gradient(a, model.trainable_variables)
            grads_b = tape.gradient(b, model.trainable_variables)
            del tape
            grads = [ga + gb for ga, gb in zip(grads_a, grads_b)]
            opt.apply_gradients(zip(grads, model.trainable_variables))

        step(tf.random.normal([4, 4]))
    """, """
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step(x):
            model.train()
            pred = model(x)
            a = torch.mean(pred)
            b = torch.sum(torch.square(pred))
            grads_a = torch.autograd.grad(a, model.parameters(), retain_graph=True)
            grads_b = torch.autograd.grad(b, model.parameters())
            grads = [ga + gb for ga, gb in zip(grads_a, grads_b)]
            for param, grad in zip(model.parameters(), grads):
                param.grad = grad
            opt.step()

        step(torch.randn(4, 4))
    """, id="persistent-tape-two-gradients-combined"),
    pytest.param("""
        @tf.function
        def a(x):
            return model(x, training=False)

        @tf.function(jit_compile=True, reduce_retracing=True)
        def b(x):
            return critic(x)

        def c(x):
            return x * 2

        c = tf.function(c)
        fast_c = tf.function(c)
        b(a(tf.zeros([1, 4])))
    """, """
        def a(x):
            model.eval()
            return model(x)

        def b(x):
            return critic(x)

        def c(x):
            return x * 2
        fast_c = c
        b(a(torch.zeros(1, 4)))
    """, id="tf.function-dropped"),
    pytest.param("""
        x = tf.random.normal([2, 4])
        y = model(x)
        z = critic(y)
        w = model(x, training=True)
        v = model(x, training=True) + model(x * 2.0, training=True)
        u = model(x)
        for batch in images:
            t = model(batch, training=True)
            s = model(batch, training=True)
        r = model(x, training=True)
    """, """
        x = torch.randn(2, 4)
        model.eval()
        y = model(x)
        z = critic(y)
        model.train()
        w = model(x)
        v = model(x) + model(x * 2.0)
        model.eval()
        u = model(x)
        for batch in images:
            model.train()
            t = model(batch)
            s = model(batch)
        model.train()
        r = model(x)
    """, id="modes-deduplicated-within-a-block"),
    pytest.param("""
        def run(net, data):
            for step, (xb, yb) in enumerate(data):
                loss = tf.reduce_mean(tf.keras.losses.mse(yb, net(xb, training=False)))
                print(step, loss.numpy())

        run(model, pairs)
    """, """
        def run(net, data):
            for step, (xb, yb) in enumerate(data):
                net.eval()
                loss = mean_squared_error(net(xb), yb)
                print(step, loss.detach().numpy())

        run(model, pairs)
    """, id="parameters-followed-to-their-callers"),
    pytest.param("""
        @tf.function
        def ops():
            a = tf.ones_like(tf.zeros([3]))
            b = tf.concat([a, a], axis=0)
            c = tf.stop_gradient(b)
            d = tf.clip_by_norm(c, 1.0)
            e = tf.convert_to_tensor([1, 2])
            f = tf.cast(tf.argmax(tf.stack([d, d]), axis=1), tf.float32)
            return tf.reduce_mean(tf.keras.losses.binary_crossentropy(a, b, from_logits=True))
    """, """
        def ops():
            a = torch.ones_like(torch.zeros(3))
            b = torch.cat([a, a], dim=0)
            c = b.detach()
            d = c * 1.0 / torch.clamp(torch.linalg.vector_norm(c), min=1.0)
            e = torch.as_tensor([1, 2], dtype=torch.int32)
            f = torch.argmax(torch.stack([d, d]), dim=1).to(torch.float32)
            return binary_crossentropy_from_logits(b, a)
    """, id="eager-ops-through-the-table"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        loss_fn = tf.keras.losses.MeanSquaredError()
        train_loss = tf.keras.metrics.Mean(name="train_loss")  # running mean
        train_mae = tf.keras.metrics.MeanAbsoluteError()
        seen = tf.keras.metrics.Sum('seen', dtype=tf.float32)

        @tf.function
        def step(x, y, w):
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                loss = loss_fn(y, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            train_loss.update_state(loss)
            train_mae.update_state(y_true=y, y_pred=pred, sample_weight=w)
            seen(tf.ones_like(y))
            return train_mae(y, pred)

        for epoch in range(2):
            train_loss.reset_states()
            train_mae.reset_state()
            for xb, yb in pairs:
                step(xb, yb, tf.ones_like(yb))
            print(f"{train_loss.name}: {train_loss.result():.4f}, {train_mae.name}: {train_mae.result().numpy():.4f}")
    """, """
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = mean_squared_error
        train_loss = Mean(name="train_loss")  # running mean
        train_mae = MeanAbsoluteError()
        seen = Sum('seen')

        def step(x, y, w):
            model.train()
            pred = model(x)
            loss = loss_fn(pred, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            train_loss.update_state(loss)
            train_mae.update_state(pred, y, w)
            seen(torch.ones_like(y))
            return train_mae(pred, y)

        for epoch in range(2):
            train_loss.reset_state()
            train_mae.reset_state()
            for xb, yb in pairs:
                step(xb, yb, torch.ones_like(yb))
            print(f"{train_loss.name}: {train_loss.result():.4f}, {train_mae.name}: {train_mae.result().numpy():.4f}")
    """, id="metric-objects-updated-read-reset"),
    pytest.param("""
        acc = tf.keras.metrics.BinaryAccuracy('acc', None, 0.7)
        xent = tf.keras.metrics.CategoricalCrossentropy(from_logits=True, axis=-1, dtype="float32")
        sparse = tf.keras.metrics.SparseCategoricalCrossentropy(
            name="sparse_xent",
            from_logits=True,
        )

        @tf.function
        def evaluate(x):
            out = critic(x[..., tf.newaxis][..., 0])
            acc(tf.ones_like(out), tf.sigmoid(out))
            xent(tf.ones_like(out), out)
            sparse(tf.zeros_like(out), out)
            return acc.result(), xent.result(), sparse.result()

        evaluate(tf.zeros([4, 1]))
    """, """
        acc = BinaryAccuracy('acc', threshold=0.7)
        xent = CategoricalCrossentropy(from_logits=True)
        sparse = SparseCategoricalCrossentropy(
            name="sparse_xent",
            from_logits=True,
        )

        def evaluate(x):
            out = critic(x[..., None][..., 0])
            acc(torch.sigmoid(out), torch.ones_like(out))
            xent(out, torch.ones_like(out))
            sparse(out, torch.zeros_like(out))
            return acc.result(), xent.result(), sparse.result()

        evaluate(torch.zeros(4, 1))
    """, id="metric-constructor-arguments-and-newaxis"),
    pytest.param("""
        @tf.function
        def f(x, y):
            out = model(x, training=True)
            batch_loss = tf.keras.metrics.Mean()(tf.reduce_sum(out))
            return batch_loss, tf.keras.metrics.BinaryAccuracy(threshold=0.0)(y, out)

        f(tf.zeros([2, 4]), tf.ones([2, 1]))
    """, """
        def f(x, y):
            model.train()
            out = model(x)
            batch_loss = Mean()(torch.sum(out))
            return batch_loss, BinaryAccuracy(threshold=0.0)(out, y)

        f(torch.zeros(2, 4), torch.ones(2, 1))
    """, id="metric-built-and-called-at-once"),
]


@pytest.mark.parametrize("before, after", CASES)
def test_translation(before, after):
    result = tr(before)
    assert case_of(result) == textwrap.dedent(after).lstrip()
    assert result.todos == [], [d.render() for d in result.todos]


def test_single_array_pipeline_batches_are_tensors():
    """``for batch in images:`` reads tensors, as tf.data yields them (not 1-element lists)."""
    result = tr("for batch in images:\n    print(model(batch, training=False))\n")
    assert "images = torch.utils.data.DataLoader(torch.as_tensor(x_data), batch_size=4)\n" in result.code
    assert "torch.utils.data.TensorDataset(torch.as_tensor(x_data), torch.as_tensor(x_data[:, :1]))" in result.code


def test_frozen_parameters_are_left_out_of_the_gradients():
    """An LSTM's second bias stays zero (requires_grad=False): Keras' trainable_variables do not hold it."""
    result = translate_source(textwrap.dedent("""\
        import tensorflow as tf
        rnn = tf.keras.Sequential([tf.keras.Input(shape=(5, 3)), tf.keras.layers.LSTM(4), tf.keras.layers.Dense(1)])
        opt = tf.keras.optimizers.SGD(0.1)

        def step(x):
            with tf.GradientTape() as tape, tf.GradientTape() as other:
                loss = tf.reduce_mean(rnn(x, training=True))
            g = tape.gradient(loss, rnn.trainable_variables)
            h = other.gradient(loss, rnn.trainable_variables)
            opt.apply_gradients(zip(g, rnn.trainable_variables))

        step(tf.random.normal([2, 5, 3]))
    """), "case.py")
    assert "g = torch.autograd.grad(loss, [p for p in rnn.parameters() if p.requires_grad], retain_graph=True)\n" \
        in result.code
    assert "h = torch.autograd.grad(loss, [p for p in rnn.parameters() if p.requires_grad])\n" in result.code
    assert "for param, grad in zip([p for p in rnn.parameters() if p.requires_grad], g):" in result.code
    assert result.todos == []


def test_files_without_custom_training_are_untouched():
    """A plain Keras script calling its model on an array keeps recognise.py's TODO (not this module's)."""
    result = tr("print(model(x_data))\n")
    assert [(d.line, d.construct) for d in result.todos] == [(10, "model(...)")]


# --------------------------------------------------------------------------- what stays TODO

#: (body, [(line, construct, reason fragment)]); the case starts at line 10
TODOS = [
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        with tf.GradientTape() as tape:
            x = tf.random.normal([2, 4])
            tape.watch(x)
            loss = tf.reduce_sum(model(x, training=True))
        g = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g, model.trainable_variables))
    """, [(13, "tape.watch", "torch records gradients for tensors that require them")], id="tape.watch"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            loss = tf.reduce_sum(model(tf.random.normal([2, 4]), training=True))
        g = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g, model.trainable_variables))
    """, [(11, "tf.GradientTape", "GradientTape(watch_accessed_variables=False) is not translated"),
          (13, "tape.gradient", "uses the tape `tape` (line 11), which stays TensorFlow"),
          (14, "apply_gradients", "does not come from a translated tape.gradient")], id="tape-not-watching"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        late = tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(1)])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(late(tf.random.normal([2, 4])))
        g = tape.gradient(loss, late.trainable_variables)
        opt.apply_gradients(zip(g, late.trainable_variables))
    """, [(10, "keras.optimizers.SGD", "is built before the model `late` exists"),
          (15, "apply_gradients", "uses the optimizer `opt`, which stays Keras")], id="optimizer-before-its-model"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(critic(model(tf.random.normal([2, 4]))))
        g1 = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g1, model.trainable_variables))
        with tf.GradientTape() as tape2:
            loss2 = tf.reduce_sum(critic(model(tf.random.normal([2, 4]))))
        g2 = tape2.gradient(loss2, critic.trainable_variables)
        opt.apply_gradients(zip(g2, critic.trainable_variables))
    """, [(10, "keras.optimizers.SGD", "is applied to `model` and `critic`"),
          (14, "apply_gradients", "uses the optimizer `opt`, which stays Keras"),
          (18, "apply_gradients", "uses the optimizer `opt`, which stays Keras")], id="optimizer-on-two-models"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        loss = tf.reduce_sum(model(tf.random.normal([2, 4])))
        with tf.GradientTape() as tape:
            other = model(tf.random.normal([2, 4]))
        g = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g, model.trainable_variables))
    """, [(14, "tape.gradient", "the loss is not computed inside the tape"),
          (15, "apply_gradients", "does not come from a translated tape.gradient")], id="loss-outside-the-tape"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        features = model(tf.random.normal([2, 4]))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(critic(features)) + tf.reduce_sum(model(tf.random.normal([2, 4])))
        g = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g, model.trainable_variables))
    """, [(14, "tape.gradient", "`features` was computed by `model` before the tape"),
          (15, "apply_gradients", "does not come from a translated tape.gradient")], id="computed-before-the-tape"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.random.normal([2, 4])))
        g = tape.gradient(loss, model.trainable_variables)
        g, _ = tf.clip_by_global_norm(g, 1.0)
        opt.apply_gradients(zip(g, model.trainable_variables))
    """, [(14, "tf.clip_by_global_norm", "clip_grad_norm_ scales by max_norm / (norm + 1e-6)")],
        id="clip_by_global_norm"),
    pytest.param("""
        v = tf.Variable(tf.zeros([2]))
        auc = tf.keras.metrics.AUC()

        @tf.function
        def f(x):
            return x
    """, [(10, "tf.Variable", "tf.Variable in eager code is not translated"),
          (11, "keras.metrics.AUC", "keras.metrics.AUC is not translated yet")], id="variable-and-metric"),
    pytest.param("""
        with tf.GradientTape() as tape:
            y = model(x_data, training=True)
        def g(flag):
            return model(tf.random.normal([2, 4]), training=flag)
        n = len(model.trainable_variables)
    """, [(11, "model(...)", "it now takes a torch tensor"),
          (13, "model(...)", "training= must be a literal True/False"),
          (14, "model.trainable_variables", "outside tape.gradient/apply_gradients")], id="model-calls"),
    pytest.param("""
        opt = tf.keras.optimizers.SGD(0.1)
        with tf.GradientTape() as tape:
            a = tf.reduce_sum(model(tf.random.normal([2, 4]), training=True))
            b = tf.reduce_sum(critic(tf.random.normal([2, 1]), training=True))
        ga = tape.gradient(a, model.trainable_variables)
        opt.apply_gradients(zip(ga, model.trainable_variables))
        gb = tape.gradient(b, critic.trainable_variables)
    """, [(16, "tape.gradient", "apply_gradients at line 15 runs between the tape and this gradient")],
        id="apply-before-another-gradient-of-the-tape"),
    pytest.param("""
        model.compile(optimizer="adam", loss="mse")

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))

        def gradients_of(tape, loss):
            return tape.gradient(loss, model.trainable_variables)
    """, [(17, "optimizer.apply_gradients", "only an optimizer built in this script"),
          (20, "tape.gradient", "may be a GradientTape passed in")], id="optimizer-and-tape-tfpt-cannot-follow"),
    pytest.param("""
        class Net(tf.keras.Model):
            def call(self, x, training=None):
                return x

        net = make_net()

        @tf.function
        def f(x):
            return net(x, training=True)
    """, [(18, "model(...)", "calling a model tfpt cannot follow")], id="model-tfpt-cannot-follow"),
    pytest.param("""
        x = tf.zeros([1, 4])
        later = lambda: model(x, training=False)

        @tf.function
        def f():
            return later()
    """, [(11, "model(...)", "a model called in a lambda or generator runs later")], id="model-in-a-lambda"),
    pytest.param("""
        mapped = tf.data.Dataset.from_tensor_slices(x_data).map(lambda v: v * 2.0).batch(4)

        @tf.function
        def f(x):
            return model(x, training=True)

        for batch in mapped:
            f(batch)
    """, [(16, "tf.data", "yields 1-element lists in torch")], id="mapped-one-array-dataset"),
    pytest.param("""
        acc = tf.keras.metrics.SparseCategoricalAccuracy()
        xent = tf.keras.metrics.SparseCategoricalCrossentropy(ignore_class=0)
        passed = tf.keras.metrics.Mean()
        twice = tf.keras.metrics.Mean()
        twice = tf.keras.metrics.Mean()
        auc = tf.keras.metrics.AUC()

        @tf.function
        def step(x, y):
            p = model(x, training=False)
            if acc(y, p) > 0.5:
                print(passed)
            auc(y, p)

        step(tf.zeros([2, 4]), tf.zeros([2]))
    """, [(10, "keras.metrics.SparseCategoricalAccuracy", "`acc` at line 20 is in a statement tfpt does not rewrite"),
          (11, "keras.metrics.SparseCategoricalCrossentropy", "(ignore_class=0) is not translated"),
          (12, "keras.metrics.Mean", "the metric object `passed` is used other than by calling it"),
          (13, "keras.metrics.Mean", "`twice` is bound more than once"),
          (14, "keras.metrics.Mean", "`twice` is bound more than once"),
          (15, "keras.metrics.AUC", "keras.metrics.AUC is not translated yet"),
          (22, "metric object", "updates the metric object `auc` (line 15), which stays Keras")], id="metric-objects"),
    pytest.param("""
        class Custom(tf.keras.Model):
            def train_step(self, data):
                return {}

            def test_step(self, data):
                return {}

        @tf.function
        def f(x):
            return x
    """, [(11, None, "train_step")], id="train_step-override"),
]


@pytest.mark.parametrize("body, expected", TODOS)
def test_what_stays_todo(body, expected):
    result = tr(body)
    got = [(d.line, d.construct, d.reason) for d in result.todos]
    for line, construct, fragment in expected:
        assert any(g[0] == line and construct in (g[1], None) and fragment in g[2] for g in got), (line, construct, got)
    for d in result.todos:  # each TODO is written above its line too
        assert f"# TODO(tfpt): {d.reason}\n" in result.code


def test_metric_objects_and_newaxis_outside_custom_loops():
    """A script with no tape or tf.function: metric objects used on their own, ``tf.newaxis`` in NumPy code."""
    result = translate_source(textwrap.dedent("""\
        import numpy as np
        import tensorflow as tf
        from tensorflow import newaxis

        m = tf.keras.metrics.Mean()
        m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        print(m.result().numpy())
        acc = tf.keras.metrics.Accuracy()
        print(float(acc([[1], [2]], [[1], [3]])))
        print(tf.keras.metrics.Mean()(np.arange(4.0)).numpy())
        x = np.zeros((4, 8, 8))[..., tf.newaxis]  # channels last
        y = x[:, newaxis]
    """), "plain.py")
    assert result.todos == [], [d.render() for d in result.todos]
    assert result.code.endswith(textwrap.dedent("""\
        m = Mean()
        m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        print(m.result().numpy())
        acc = Accuracy()
        print(float(acc([[1], [3]], [[1], [2]])))
        print(Mean()(np.arange(4.0)).numpy())
        x = np.zeros((4, 8, 8))[..., None]  # channels last
        y = x[:, None]
    """))
    assert "import tensorflow" not in result.code and "\nclass Mean(Metric):\n" in result.code


def test_newaxis_in_a_statement_another_part_translates_stays_todo():
    """``model.fit(x[..., tf.newaxis], ...)``: the plan replaces only calls and statements (rewrite.py)."""
    result = translate_source(textwrap.dedent("""\
        import numpy as np
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.Input(shape=(8, 1)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.zeros((4, 8))[..., tf.newaxis], np.zeros(4))
    """), "fit.py")
    assert [(d.line, d.construct) for d in result.todos] == [(5, "tf.newaxis")]


def test_print_in_a_tf_function_is_a_note():
    result = tr("@tf.function\ndef f(x):\n    print('tracing')\n    return x\n")
    assert [(d.line, d.construct, d.severity) for d in result.diagnostics] == [(10, "tf.function", "note")]
    assert "def f(x):\n    print('tracing')" in result.code


# --------------------------------------------------------------------------- numbers: Keras vs the translation

#: the fixture's train_step, driven step by step: same weights, noise and images on both sides
STEPS, BATCH, LEARNING_RATE = 3, 32, "1e-2"

_KERAS = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
source, out = open(sys.argv[1]).read(), sys.argv[2]
data = np.load(sys.argv[3])
tf.config.run_functions_eagerly(True)  # the noise below is drawn at every call, not baked in by tracing
ns = {"__name__": "gan"}
exec(compile(source, "gan.py", "exec"), ns)
models = {"generator": ns["generator"], "discriminator": ns["discriminator"]}
for layer in models["discriminator"].layers:  # dropout masks cannot match across frameworks
    if isinstance(layer, tf.keras.layers.Dropout):
        layer.rate = 0.0
noise = [tf.constant(n) for n in data["noise"]]
tf.random.normal = lambda *args, **kwargs: noise.pop(0)
result = {}
def weights(tag):
    for name, m in models.items():
        for i, layer in enumerate(m.layers):
            for j, w in enumerate(layer.weights):
                result[f"{tag}.{name}.{i}.{j}"] = w.numpy()
        result[f"{tag}.{name}.paths"] = np.array([[w.path for w in l.weights] for l in m.layers], dtype=object)
weights("initial")
losses = [[float(v) for v in ns["train_step"](tf.constant(images))] for images in data["images"]]
weights("final")
result["losses"] = np.array(losses)
np.savez(out, **{k: v for k, v in result.items() if not k.endswith("paths")})
json.dump({name: [[w.path for w in l.weights] for l in m.layers] for name, m in models.items()},
          open(out + ".json", "w"))
"""

_TORCH = r"""
import sys
import numpy as np
import torch
source, out = open(sys.argv[1]).read(), sys.argv[2]
data, states = np.load(sys.argv[3]), np.load(sys.argv[4])
ns = {"__name__": "gan_torch"}
exec(compile(source, "gan_torch.py", "exec"), ns)
models = {"generator": ns["generator"], "discriminator": ns["discriminator"]}
for name, m in models.items():
    state = {k[len(name) + 1:]: torch.from_numpy(v) for k, v in states.items() if k.startswith(name + ".")}
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
for module in models["discriminator"].modules():
    if isinstance(module, torch.nn.Dropout):
        module.p = 0.0
noise = [torch.from_numpy(n) for n in data["noise"]]
torch.randn = lambda *args, **kwargs: noise.pop(0)
losses = [[float(v) for v in ns["train_step"](torch.from_numpy(images))] for images in data["images"]]
result = {"losses": np.array(losses)}
for name, m in models.items():
    for k, v in m.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            result[f"{name}.{k}"] = v.numpy()
assert not [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")], "TensorFlow imported"
np.savez(out, **result)
"""


def _run(script: str, *args) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _state(result, name: str, arrays, paths) -> dict[str, np.ndarray]:
    """Keras weights (per layer, as saved) -> the translated module's state dict, through the weight rules."""
    from converters import transfer

    class_name = {"generator": "GeneratorModel", "discriminator": "DiscriminatorModel"}[name]
    keras_layers = [[(path, arrays[f"{i}.{j}"]) for j, path in enumerate(layer)] for i, layer in enumerate(paths)]
    return transfer.model_to_state_dict(keras_layers, result.emitted[class_name].weights)


@pytest.fixture(scope="module")
def gan_runs(tmp_path_factory):
    """Keras and the translation, each in its own process: (keras initial, keras final, torch final, losses)."""
    tmp = tmp_path_factory.mktemp("gan")
    source = (FIXTURES / "gan.py").read_text(encoding="utf-8")
    assert source.count("Adam(1e-4)") == 2 and "\nEPOCHS = 2\n" in source
    # no epochs (the steps are driven below), and a learning rate that moves the weights visibly
    source = source.replace("\nEPOCHS = 2\n", "\nEPOCHS = 0\n").replace("Adam(1e-4)", f"Adam({LEARNING_RATE})")
    result = translate_source(source, "gan.py")
    assert result.todos == [], [d.render() for d in result.todos]
    (tmp / "gan.py").write_text(source, encoding="utf-8")
    (tmp / "gan_torch.py").write_text(result.code, encoding="utf-8")
    rng = np.random.default_rng(0)
    noise_dim, image_dim = 8, 16
    np.savez(tmp / "data.npz", noise=rng.standard_normal((STEPS, BATCH, noise_dim)).astype("float32"),
             images=rng.uniform(-1, 1, (STEPS, BATCH, image_dim)).astype("float32"))
    _run(_KERAS, tmp / "gan.py", tmp / "keras.npz", tmp / "data.npz")
    keras = dict(np.load(tmp / "keras.npz"))
    paths = json.loads((tmp / "keras.npz.json").read_text())
    initial, final = {}, {}
    for name in ("generator", "discriminator"):
        for tag, into in (("initial", initial), ("final", final)):
            arrays = {k[len(f"{tag}.{name}."):]: v for k, v in keras.items() if k.startswith(f"{tag}.{name}.")}
            into.update({f"{name}.{k}": v for k, v in _state(result, name, arrays, paths[name]).items()})
    np.savez(tmp / "initial.npz", **initial)
    _run(_TORCH, tmp / "gan_torch.py", tmp / "torch.npz", tmp / "data.npz", tmp / "initial.npz")
    torch_final = dict(np.load(tmp / "torch.npz"))
    return initial, final, torch_final, keras["losses"]


def _close(torch_value, keras_value, rel):
    scale = max(float(np.abs(keras_value).max(initial=0.0)), 1e-6)
    return float(np.abs(torch_value - keras_value).max(initial=0.0)) <= rel * scale


#: Keras moves BatchNormalization's moving variance with the biased batch variance, torch with the unbiased
#: one (n / (n - 1)): the layer row (translator/spec/layers.py) does not correct it yet
_BIASED_VARIANCE = ("generator.batch_normalization.running_var",)


@pytest.mark.slow
def test_gan_steps_match_keras(gan_runs):
    """Three GAN steps from the same weights, noise and images: same losses, same weights (both models)."""
    initial, keras_final, torch_final, keras_losses = gan_runs
    assert _close(torch_final["losses"], keras_losses, 1e-4), (torch_final["losses"], keras_losses)
    keys = [k for k in sorted(keras_final) if k not in _BIASED_VARIANCE]
    assert {k.split(".")[0] for k in keys} == {"generator", "discriminator"}
    assert [k for k in keys if k.endswith(("weight", "bias")) and np.abs(keras_final[k] - initial[k]).max() < 1e-3] \
        == []  # the steps did train every parameter
    assert [k for k in keys if not _close(torch_final[k], keras_final[k], 1e-4)] == []
    # the updates themselves agree, not only the weights they were added to
    assert [k for k in keys if not _close(torch_final[k] - initial[k], keras_final[k] - initial[k], 1e-3)] == []


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="BatchNorm's moving variance: Keras averages the biased batch variance, torch "
                                       "the unbiased one (spec/layers.py's row does not correct it yet)")
def test_gan_batchnorm_moving_variance_matches_keras(gan_runs):
    _, keras_final, torch_final, _ = gan_runs
    assert [k for k in _BIASED_VARIANCE if not _close(torch_final[k], keras_final[k], 1e-4)] == []


# --------------------------------------------------------------------------- the advanced quickstart, end to end

_QUICKSTART = r"""
import contextlib, io, re, sys
sys.modules["tensorflow"] = sys.modules["keras"] = None  # importing either fails
import torch
source = open(sys.argv[1]).read()
ns, out = {"__name__": "__main__"}, io.StringIO()
with contextlib.redirect_stdout(out):
    exec(compile(source, "quickstart_custom_loop.py", "exec"), ns)
print(out.getvalue(), end="")
line = re.fullmatch(r"Epoch 1, Loss: (\d+\.\d\d), Accuracy: (\d+\.\d\d), Test Loss: (\d+\.\d\d), "
                    r"Test Accuracy: (\d+\.\d\d)\n", out.getvalue())
assert line, out.getvalue()
# the test metrics by hand: the trained model on the 32 test images (one batch)
model = ns["model"].eval()
with torch.no_grad():
    logits = model(torch.as_tensor(ns["x_test"]))
labels = torch.as_tensor(ns["y_test"])
loss = torch.nn.functional.cross_entropy(logits, labels).item()
accuracy = (logits.argmax(dim=-1) == labels).float().mean().item() * 100
assert abs(float(line[3]) - loss) <= 0.005 + 1e-6 and abs(float(line[4]) - accuracy) <= 0.005 + 1e-6, (loss, accuracy)
# Keras' Mean counts one value per scalar loss (2 batches), accuracy one per sample (64)
assert (float(ns["train_loss"].count), float(ns["train_accuracy"].count)) == (2.0, 64.0)
assert [ns[n].name for n in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")] == \
    ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
assert 0 <= float(line[2]) <= 100 and float(line[1]) > 0
"""


def test_quickstart_translation_runs_without_tensorflow():
    """The golden translation of the quickstart (0 TODOs: test_golden.py) trains, evaluates and prints its metrics."""
    source = (FIXTURES / "quickstart_custom_loop.py").read_text(encoding="utf-8")
    result = translate_source(source, "quickstart_custom_loop.py")
    assert result.todos == [], [d.render() for d in result.todos]
    golden = EXPECTED / "quickstart_custom_loop.py"
    assert result.code == golden.read_text(encoding="utf-8")
    _run(_QUICKSTART, golden)


@pytest.mark.slow
def test_quickstart_prints_what_keras_prints():
    """The Keras original prints the same line (other numbers: other initial weights and shuffles)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    keras_run = subprocess.run([sys.executable, str(FIXTURES / "quickstart_custom_loop.py")], capture_output=True,
                               text=True, cwd=ROOT, env=env, timeout=600)
    assert keras_run.returncode == 0, keras_run.stderr[-3000:]
    pattern = r"Epoch 1, Loss: \d+\.\d\d, Accuracy: \d+\.\d\d, Test Loss: \d+\.\d\d, Test Accuracy: \d+\.\d\d"
    assert re.fullmatch(pattern + "\n", keras_run.stdout), keras_run.stdout
