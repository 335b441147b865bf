"""What happens to each Keras/TensorFlow construct beyond the layer table: one row each.

The README's construct table is rendered from here (``translator.support_table``), so
the status users read is the one the code declares. Status is one of ``translated``,
``caveat`` (translated, with the difference the note names) or ``todo`` (left as it
is, with a ``# TODO(tfpt)`` at its line and a report entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import metrics

TRANSLATED, CAVEAT, TODO = "translated", "caveat", "todo"


@dataclass(frozen=True)
class Construct:
    area: str
    construct: str
    status: str
    note: str = ""


CONSTRUCTS: list[Construct] = [
    Construct("Models", "`Sequential([...])`, `Sequential()` + `.add()` (static loops too)", TRANSLATED),
    Construct("Models", "Functional `Model(inputs, outputs)`: one or several `Input`s and outputs (list or dict)",
              TRANSLATED, "`forward(self, a, b)` returns a tensor, a tuple or a dict, like the Keras model"),
    Construct("Models", "Functional layer calls, nested calls, `x = block(x, 64)` helper functions, static "
              "`for`/`if`, `x.shape[-1]`", TRANSLATED,
              "followed like the interpreter would; helpers used only by translated models are removed"),
    Construct("Models", "`Add`/`Subtract`/`Multiply`/`Average`/`Maximum`/`Minimum`/`Concatenate`/`Dot` "
              "(classes and `layers.add(...)` functions), `a + b`, `a - b`, `a * b`, `x += shortcut`, "
              "a tensor times a number", TRANSLATED, "equal shapes only (no broadcasting); `Dot` on rank-2 inputs"),
    Construct("Models", "Shared layers (one layer object called several times)", TRANSLATED,
              "one submodule, called at each use; a layer shared between inputs of different shapes stays Keras"),
    Construct("Models", "A model used as a layer (`encoder(x)`, a `Sequential` head)", TRANSLATED,
              "the translated model is passed to the outer class's `__init__`, so weights stay shared as in Keras"),
    Construct("Models", "`tf.*` / `keras.ops.*` ops on Keras tensors: arithmetic, `matmul`/`@`, `bias_add`, "
              "element-wise functions and activations, `softmax`, per-sample reductions (`reduce_mean`, `ops.mean`, "
              "... with a static `axis`)", TRANSLATED,
              "the op's TF row gives the torch expression (shared with TF1 code), its shape rule the output shape"),
    Construct("Models", "Slicing Keras tensors, other `tf.*` ops on them (reshape, concat, gather ...), reductions "
              "over the batch axis, `layer(x, training=True)`, loops over non-static ranges inside a graph", TODO,
              "the model stays Keras with one TODO at the exact node"),
    Construct("Models", "A `Sequential` without an input shape called inside a Functional graph", TRANSLATED,
              "the graph gives it its input shape; never called on a Keras tensor, it stays Keras with a TODO"),
    # subclassed models (translator/subclassing.py)
    Construct("Subclassing", "`class M(keras.Model)` / `class L(keras.layers.Layer)` with `__init__` layers and "
              "`call(self, inputs, training=None)`", TRANSLATED,
              "an `nn.Module` with the same class name, constructor signature and attribute names; `call` becomes "
              "`forward` (one line per layer call, helper methods inlined); the input shape comes from "
              "`model.build(...)`, `model(keras.Input(...))` or the arrays fed to `fit`/`predict`/`model(x)`"),
    Construct("Subclassing", "A custom `Layer` subclass built in another subclass's `__init__` "
              "(`self.block1 = ResidualBlock(64)`) or called in a Functional graph (`x = Block(64)(x)`), a "
              "`keras.Sequential([...])` made in `__init__`", TRANSLATED,
              "a torch submodule the outer class builds the same way; a block called on inputs of several sizes "
              "takes the size as its first constructor argument (`in_features`/`in_channels`, like `nn.Linear`), "
              "a Sequential becomes a class of its own"),
    Construct("Subclassing", "Weights of a custom layer: `self.add_weight(shape=..., initializer=..., "
              "trainable=...)` in `__init__` or `build(input_shape)` (tf.keras 2's name-first order too), used by "
              "ops in `call` (`tf.matmul(x, self.w) + self.b`)", TRANSLATED,
              "an `nn.Parameter` made in `__init__`, initialised in `reset_parameters()` with Keras' initializer "
              "and defaults (fan-scaled ones with Keras' fan rule); `trainable=False` -> `requires_grad=False`; "
              "an initializer tfpt does not know, a regularizer or constraint -> TODO at the parameter; weight "
              "updates (`assign`), ops on weights alone -> TODO"),
    Construct("Subclassing", "`training` in `call`: `layer(x, training=training)`, `if training:` around "
              "Dropout-like layers", TRANSLATED, "the module's mode (`self.training`): the same behaviour in "
              "`train()` and `eval()`"),
    Construct("Subclassing", "`get_config`, `from_config`, `compute_output_shape`", CAVEAT,
              "dropped with a note: a torch module is rebuilt from its constructor arguments"),
    Construct("Subclassing", "`train_step`/`test_step` overrides, other conditions on `training`, several inputs, "
              "a custom layer called on inputs that differ beyond their last size, input shape not found", TODO,
              "the class stays Keras with one TODO at the line that stopped it"),
    # custom training loops (translator/custom_training.py)
    Construct("Custom training", "`with tf.GradientTape() as tape:` (several tapes in one `with`, `persistent=True`)",
              TRANSLATED, "unwrapped: torch records autograd whenever parameters take part"),
    Construct("Custom training", "`grads = tape.gradient(loss, model.trainable_variables)` + "
              "`optimizer.apply_gradients(zip(grads, model.trainable_variables))`, one gradient in the function",
              TRANSLATED, "`optimizer.zero_grad()`, `loss.backward()` at the gradient, `optimizer.step()` at the apply"),
    Construct("Custom training", "Several gradients in one function (a GAN's generator and discriminator tapes)",
              TRANSLATED, "`grads = torch.autograd.grad(loss, model.parameters(), retain_graph=True)` (not on the "
              "last) and `param.grad = grad` before `step()`: every gradient is taken before any model changes, as "
              "in TF"),
    Construct("Custom training", "`opt = keras.optimizers.Adam(1e-4)` used only by `apply_gradients` on one model",
              TRANSLATED, "built over `model.parameters()` with Keras' defaults (the optimizer table below); an "
              "optimizer built before its model or applied to several models stays Keras with a TODO"),
    Construct("Custom training", "Loss objects called directly (`loss_fn(y_true, y_pred)`), "
              "`tf.reduce_mean(keras.losses.<fn>(y_true, y_pred))`", TRANSLATED,
              "the runtime's loss functions, called `(prediction, target)`, with Keras' mean reduction"),
    Construct("Custom training", "`model(x, training=True)` / `model(x, training=False)` / `model(x)`", TRANSLATED,
              "`model.train()` / `model.eval()` before the statement where the mode changes; without `training` a "
              "model with Dropout or BatchNorm gets `eval()` (Keras' inference mode); only where the input is known "
              "to be a torch tensor (a TF op, a model output, a batch of a translated `tf.data` pipeline)"),
    Construct("Custom training", "`@tf.function` (with arguments too), `step = tf.function(step)`", TRANSLATED,
              "dropped: torch runs the function eagerly (a `print` inside runs at every call: a note says so)"),
    Construct("Custom training", "TF ops in eager code (`tf.random.normal`, `tf.ones_like`, `tf.reduce_mean` ...), "
              "`tensor.numpy()`", TRANSLATED, "through the op table below; `.numpy()` becomes `.detach().numpy()`"),
    Construct("Custom training", "Keras metric objects: `m = keras.metrics.Mean(name=...)`, then `m(...)`, "
              "`m.update_state(...)`, `m.result()`, `m.reset_state()` (`reset_states()`), `m.name`, or built and "
              "called at once (`keras.metrics.Mean()(x)`); classes "
              f"{metrics.NAMES}", TRANSLATED,
              "the runtime's class of the same name: Keras' float32 running totals and sample weighting, `result()` a "
              "0-d tensor (0 before any update) that formats and scales like Keras' scalar, values detached; metrics "
              "of a target take `(y_pred, y_true)`, like the losses. A metric passed around (to a function, to "
              "`compile`), bound twice, or of another class (`AUC`, `Precision` ...) stays Keras with a TODO"),
    Construct("Data", "`x[..., tf.newaxis]`", TRANSLATED,
              "`x[..., None]`, in any script (inside a statement another part rewrites, such as "
              "`model.fit(x[..., tf.newaxis], y)`, it stays a TODO)"),
    Construct("Custom training", "`tape.watch`, `tape.jacobian`, `GradientTape(watch_accessed_variables=False)`, "
              "`tf.Variable` in eager code, `model.trainable_variables` elsewhere, `tf.clip_by_global_norm`, Keras "
              "metric objects of other classes or used otherwise, a loss computed outside its tape, "
              "`train_step`/`test_step` overrides in `keras.Model` subclasses", TODO, "a TODO at the line with the reason"),
]


def render() -> list[str]:
    label = {TRANSLATED: "translated", CAVEAT: "translated, with a caveat", TODO: "marked TODO"}
    rows = ["| area | construct | status | notes |", "|---|---|---|---|"]
    for c in CONSTRUCTS:
        rows.append(f"| {c.area} | {c.construct} | {label[c.status]} | {c.note} |")
    return rows


__all__ = ["CAVEAT", "CONSTRUCTS", "Construct", "TODO", "TRANSLATED", "render"]
