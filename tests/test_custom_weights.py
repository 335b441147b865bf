"""Custom layers with their own weights (``add_weight`` in ``__init__`` or ``build``) and tensor ops in ``call``.

Before/after of what tfpt writes; numeric equivalence (forward and training, the source's own
Keras classes against the translation) is in test_verify for the fixtures
``subclassed_custom_weights`` and ``functional_custom_weights``, and below for initializers.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from translator.spec import custom_weights
from translator.spec.values import Dim
from translator.translate import translate_source

HEADER = "import numpy as np\nimport keras\nimport tensorflow as tf\nfrom keras import layers, ops\n"


def tr(source: str):
    result = translate_source(HEADER + textwrap.dedent(source), "case.py")
    compile(result.code, "case.py", "exec")
    return result


def lines_of(result, start: str) -> list[str]:
    lines = result.code.split(start, 1)[1].splitlines()[1:]
    out = []
    for line in lines:
        if line.strip() and not line.startswith("        "):
            break
        if line.strip():
            out.append(line.strip())
    return out


LINEAR = """
    class Linear(keras.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=INIT, trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return CALL

    layer = Linear(4)
    layer.build((None, 3))
"""


def linear(init='"random_normal"', call="tf.matmul(inputs, self.w) + self.b"):
    return tr(LINEAR.replace("INIT", init).replace("CALL", call))


def test_build_weights_become_parameters_created_in_init_and_initialised_like_keras():
    result = linear()
    assert lines_of(result, "    def __init__(self, units=32):") == [
        "super().__init__()",
        "self.units = units",
        "self.w = nn.Parameter(torch.empty(3, units))",
        "self.b = nn.Parameter(torch.empty(units))",
        "self.reset_parameters()",
    ]
    assert lines_of(result, "    def reset_parameters(self):")[1:] == [
        "nn.init.normal_(self.w, std=0.05)", "nn.init.zeros_(self.b)"]
    assert lines_of(result, "    def forward(self, inputs):") == ["x = inputs @ self.w", "x = x + self.b", "return x"]
    assert not result.todos, result.todos


@pytest.mark.parametrize("call", [
    "tf.matmul(inputs, self.w) + self.b",
    "ops.matmul(inputs, self.w) + self.b",
    "keras.ops.add(keras.ops.matmul(inputs, self.w), self.b)",
    "inputs @ self.w + self.b",
    "tf.nn.bias_add(tf.linalg.matmul(inputs, self.w), self.b)",
])
def test_every_spelling_of_the_affine_op_translates_alike(call):
    body = lines_of(linear(call=call), "    def forward(self, inputs):")
    assert body == ["x = inputs @ self.w", "x = x + self.b", "return x"], body


@pytest.mark.parametrize("init, line", [
    ('"zeros"', "nn.init.zeros_(self.w)"),
    ('"ones"', "nn.init.ones_(self.w)"),
    ("None", "nn.init.xavier_uniform_(self.w)"),  # Keras' default for add_weight
    ('"glorot_uniform"', "nn.init.xavier_uniform_(self.w)"),
    ('"random_uniform"', "nn.init.uniform_(self.w, -0.05, 0.05)"),
    ("keras.initializers.RandomNormal(mean=0.1, stddev=0.01)", "nn.init.normal_(self.w, mean=0.1, std=0.01)"),
    ("keras.initializers.Constant(0.5)", "nn.init.constant_(self.w, 0.5)"),
    ("tf.random_normal_initializer()", "nn.init.normal_(self.w, std=0.05)"),
    ('"truncated_normal"', "nn.init.trunc_normal_(self.w, std=0.05, a=-0.1, b=0.1)"),
    ('"orthogonal"', "nn.init.orthogonal_(self.w, gain=1.0)"),
])
def test_initializers_keep_keras_defaults(init, line):
    result = linear(init=init)
    assert line in lines_of(result, "    def reset_parameters(self):"), result.code
    assert not result.todos, result.todos


@pytest.mark.parametrize("init, fan, scale, truncated", [
    ('"he_normal"', 3, 2.0, True),
    ('"lecun_uniform"', 3, 1.0, False),
    ('"glorot_normal"', 3.5, 1.0, True),
])
def test_fan_scaled_initializers_use_keras_fans_and_need_the_sizes(init, fan, scale, truncated):
    result = linear(init=init)
    # the numbers are Keras' fans for what the layer's instantiations all pass (units=4), with a note
    assert "self.w = nn.Parameter(torch.empty(3, units))" in result.code, result.code
    reset = lines_of(result, "    def reset_parameters(self):")
    if truncated:
        std = math.sqrt(scale / fan) / 0.87962566103423978
        assert f"nn.init.trunc_normal_(self.w, std={std!r}, a={-2 * std!r}, b={2 * std!r})" in reset, reset
    else:
        limit = math.sqrt(3 * scale / fan)
        assert f"nn.init.uniform_(self.w, {-limit!r}, {limit!r})" in reset, reset
    assert any("computed for units=4" in d.reason for d in result.diagnostics)


def test_fan_scaled_initializers_match_keras_statistics():
    """Keras draws; the translated line draws: same bounds and spread on a big weight."""
    import keras
    import torch

    shape = (64, 48, 3)
    for name in ("he_normal", "glorot_uniform", "lecun_normal"):
        kinit = custom_weights.STRING_INITIALIZERS[name]
        line = custom_weights.init_line(kinit, {}, tuple(Dim.of(d) for d in shape))
        p = torch.empty(shape)
        eval(line.replace("{m}", "p"), {"nn": torch.nn, "p": p})
        k = keras.ops.convert_to_numpy(keras.initializers.get(name)(shape))
        t = p.numpy()
        assert abs(t.std() - k.std()) / k.std() < 0.03, (name, t.std(), k.std())
        assert abs(np.abs(t).max() - np.abs(k).max()) / np.abs(k).max() < 0.05, name


def test_weights_made_in_init_keep_the_constructor_parameters_in_their_sizes():
    result = tr("""
        class Linear(keras.layers.Layer):
            def __init__(self, units=32, input_dim=32):
                super().__init__()
                self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
                self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=False)

            def call(self, inputs):
                return tf.matmul(inputs, self.w) + self.b

        layer = Linear(4, 2)
        layer.build((None, 2))
    """)
    assert lines_of(result, "    def __init__(self, units=32, input_dim=32):")[1:3] == [
        "self.w = nn.Parameter(torch.empty(input_dim, units))",
        "self.b = nn.Parameter(torch.empty(units), requires_grad=False)",  # trainable=False
    ]
    assert not result.todos, result.todos


def test_tf_keras_2_positional_name_first():
    result = tr(LINEAR.replace('self.w = self.add_weight(shape=', 'self.w = self.add_weight("kernel", shape=')
                .replace("INIT", '"zeros"').replace("CALL", "tf.matmul(inputs, self.w) + self.b"))
    assert "self.w = nn.Parameter(torch.empty(3, units))" in result.code
    assert not result.todos, result.todos


def test_a_block_called_on_several_sizes_takes_the_size_first_like_nn_linear():
    result = tr("""
        class Linear(keras.layers.Layer):
            def __init__(self, units=32):
                super().__init__()
                self.units = units

            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1], self.units))

            def call(self, inputs):
                return inputs @ self.w

        class MLP(keras.Model):
            def __init__(self):
                super().__init__()
                self.linear_1 = Linear(32)
                self.linear_2 = Linear(units=10)

            def call(self, inputs):
                return self.linear_2(tf.nn.relu(self.linear_1(inputs)))

        model = MLP()
        model.build((None, 20))
    """)
    assert "    def __init__(self, in_features, units=32):" in result.code
    assert "self.w = nn.Parameter(torch.empty(in_features, units))" in result.code
    assert lines_of(result, "    def __init__(self):")[1:3] == [
        "self.linear_1 = Linear(20, 32)", "self.linear_2 = Linear(30, units=10)".replace("30", "32")]
    assert not result.todos, result.todos


def test_ops_on_layer_outputs_in_a_functional_model():
    result = tr("""
        inputs = keras.Input(shape=(6, 4))
        x = layers.Dense(8)(inputs)
        x = ops.relu(x)
        x = keras.ops.mean(x, axis=1)
        x = tf.reduce_sum(x, axis=-1, keepdims=True)
        outputs = layers.Dense(1)(x)
        model = keras.Model(inputs, outputs)
    """)
    body = lines_of(result, "    def forward(self, inputs):")
    assert body == ["x = self.dense(inputs)", "x = torch.relu(x)", "x = torch.mean(x, dim=1)",
                    "x = torch.sum(x, dim=-1, keepdim=True)", "outputs = self.dense_1(x)", "return outputs"], body
    assert "nn.Linear(1, 1)" in result.code  # shapes followed through the ops
    assert not result.todos, result.todos


LEFT = [
    pytest.param(LINEAR.replace("INIT", '"random_normal"').replace("CALL", "tf.nn.embedding_lookup(self.w, inputs)"),
                 16, "tf.nn.embedding_lookup(...) on Keras tensors is not translated", id="op-not-in-the-tables"),
    pytest.param(LINEAR.replace("INIT", '"random_normal"').replace("CALL", "ops.sum(inputs) + self.b"),
                 16, "reduction over every axis", id="reduction-over-the-batch"),
    pytest.param(LINEAR.replace("INIT", '"random_normal"').replace("CALL", "self.w @ inputs"),
                 16, "no batch axis first", id="weight-on-the-left-of-matmul"),
    pytest.param(LINEAR.replace("INIT", '"random_normal"').replace("CALL", "tf.matmul(self.b, self.w) + inputs"),
                 16, "weights alone", id="op-on-weights-only"),
    pytest.param(LINEAR.replace("INIT", '"random_normal", dtype="int32"').replace("CALL", "inputs @ self.w"),
                 12, "only float32 weights", id="int-weight"),
]


@pytest.mark.parametrize("source, line, reason", LEFT)
def test_what_stays_keras_is_marked_at_its_line(source, line, reason):
    result = tr(source)
    todos = [d for d in result.todos if d.construct == "subclassed model"]
    assert len(todos) == 1, result.diagnostics
    assert todos[0].line == line, todos[0]
    assert reason in todos[0].reason, todos[0]
    assert "nn.Module" not in result.code


def test_an_unknown_initializer_is_a_todo_at_the_parameter_not_a_guess():
    result = linear(init="my_init")
    assert "self.w = nn.Parameter(torch.empty(3, units))" in result.code
    todo = [d for d in result.todos if "my_init" in d.reason]
    assert len(todo) == 1 and "initialise this parameter like Keras does" in todo[0].reason, result.todos
    assert "# TODO(tfpt): initializer my_init" in result.code
