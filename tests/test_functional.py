"""Functional API: before/after of the forward the tracer writes, and what stays Keras (with where and why).

Numeric equivalence of whole Functional programs is in test_verify (fixtures
functional_*); here each case pins one construct of the language the tracer follows.
"""

from __future__ import annotations

import textwrap

import pytest

from translator.translate import translate_source

HEADER = "import keras\nfrom keras import layers\n"


def tr(source: str):
    result = translate_source(HEADER + textwrap.dedent(source), "case.py")
    compile(result.code, "case.py", "exec")
    return result


def forward_of(result) -> list[str]:
    """The forward body of the (last) translated class, stripped."""
    lines = result.code.split("    def forward(")[-1].splitlines()[1:]
    out = []
    for line in lines:
        if not line.startswith("        "):
            break
        out.append(line.strip())
    return out


def signature_of(result) -> str:
    return "def forward(" + result.code.split("    def forward(")[-1].splitlines()[0]


# --------------------------------------------------------------------------- what the forward reads like

FORWARDS = [
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        x = layers.Dense(8, activation="relu")(inputs)
        outputs = layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
    """, "def forward(self, inputs):",
        ["x = torch.relu(self.dense(inputs))", "outputs = self.dense_1(x)", "return outputs"], id="chain"),
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        x = layers.Dense(4)(inputs)
        x += inputs
        model = keras.Model(inputs=inputs, outputs=x)
    """, "def forward(self, inputs):",
        ["x = self.dense(inputs)", "x = x + inputs", "return x"], id="augmented-add-residual"),
    pytest.param("""
        a = keras.Input(shape=(4,))
        b = keras.Input(shape=(4,))
        s = a - b
        p = layers.multiply([a, b])
        m = layers.maximum([a, b, s])
        model = keras.Model([a, b], [s * 2.0, p, m])
    """, "def forward(self, a, b):",
        ["s = a - b", "p = a * b", "m = torch.maximum(torch.maximum(a, b), s)", "x = s * 2.0", "return x, p, m"],
        id="operators-and-merge-functions-several-outputs"),
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        shared = layers.Dense(4, name="shared")
        y = shared(shared(inputs))
        model = keras.Model(inputs, {"out": y})
    """, "def forward(self, inputs):",
        ["y = self.shared(inputs)", "y = self.shared(y)", "return {'out': y}"], id="shared-layer-dict-output"),
    pytest.param("""
        inputs = keras.Input(shape=(8, 8, 3))
        x = layers.Conv2D(4, 3, padding="same")(inputs)
        skip = x
        x = layers.Conv2D(4, 3, padding="same")(x)
        x = layers.Concatenate()([x, skip])
        x = layers.Flatten()(x)
        model = keras.Model(inputs, x)
    """, "def forward(self, inputs):",
        ["x = inputs.permute(0, 3, 1, 2)  # channels-last (Keras) -> channels-first (torch)",
         "x = self.conv2d(x)",
         "x_2 = self.conv2d_1(x)",
         "x = torch.cat([x_2, x], dim=1)",
         "x = x.permute(0, 2, 3, 1)  # back to channels-last, as Keras lays it out",
         "x = x.flatten(1)",
         "return x"], id="channels-first-concat-keeps-the-skip-alive"),
    pytest.param("""
        def block(x, units, activation=None):
            if activation is not None:
                x = layers.Dense(units, activation=activation)(x)
            else:
                x = layers.Dense(units)(x)
            return x

        inputs = keras.Input(shape=(4,))
        x = inputs
        for units in (8, 6):
            x = block(x, units, activation="tanh" if units == 8 else None)
        model = keras.Model(inputs, x)
    """, "def forward(self, inputs):",
        ["x = torch.tanh(self.dense(inputs))", "x = self.dense_1(x)", "return x"], id="helper-function-loop-static-if"),
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        x = layers.Dense(2)(layers.Dropout(0.1)(inputs))
        model = keras.Model(inputs, x)
    """, "def forward(self, inputs):",
        ["x = self.dropout(inputs)", "x = self.dense(x)", "return x"], id="nested-calls-take-the-statements-name"),
    pytest.param("""
        inputs = keras.Input(shape=(6,))
        x = layers.Dense(4)(inputs)
        units = x.shape[-1]
        x = layers.Dense(units * 2)(x)
        model = keras.Model(inputs, x)
    """, "def forward(self, inputs):",
        ["x = self.dense(inputs)", "x = self.dense_1(x)", "return x"], id="static-shape-of-a-keras-tensor"),
]


@pytest.mark.parametrize("source, signature, forward", FORWARDS)
def test_forward_reads_like_the_source(source, signature, forward):
    result = tr(source)
    assert result.todos == [], result.code
    assert signature_of(result) == signature
    assert forward_of(result) == forward, result.code


def test_graph_statements_and_helpers_are_removed_unused_code_kept():
    result = tr("""
        def block(x):
            return layers.Dense(3)(x)

        n = 5
        inputs = keras.Input(shape=(n,))
        print("building")
        outputs = block(inputs)
        model = keras.Model(inputs, outputs)
    """)
    assert "def block" not in result.code
    assert "keras.Input" not in result.code and "layers.Dense" not in result.code
    assert 'print("building")' in result.code and "n = 5" in result.code
    assert "self.dense = nn.Linear(n, 3)" in result.code  # the module constant keeps its name
    assert "model = Model()" in result.code


def test_nested_model_is_passed_in_so_weights_stay_shared():
    result = tr("""
        enc_in = keras.Input(shape=(4,))
        encoder = keras.Model(enc_in, layers.Dense(2)(enc_in), name="encoder")
        inputs = keras.Input(shape=(4,))
        outputs = layers.Dense(1)(encoder(inputs))
        model = keras.Model(inputs, outputs)
    """)
    assert result.todos == []
    assert "encoder = Encoder()" in result.code
    assert "def __init__(self, encoder):" in result.code
    assert "self.encoder = encoder" in result.code
    assert "model = Model(encoder)" in result.code


def test_sequential_used_as_a_layer():
    result = tr("""
        head = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3)])
        inputs = keras.Input(shape=(4,))
        x = layers.Dense(4)(inputs)
        model = keras.Model(inputs, head(x))
    """)
    assert result.todos == [], result.code
    assert "self.head = head" in result.code and "model = Model(head)" in result.code


def test_sequential_without_input_shape_takes_it_from_the_graph():
    result = tr("""
        augment = keras.Sequential([layers.Dense(8), layers.Dense(3)])
        inputs = keras.Input(shape=(5,))
        model = keras.Model(inputs, augment(inputs))
    """)
    assert result.todos == [], result.code
    assert "self.dense = nn.Linear(5, 8)" in result.code
    assert "augment = Augment()" in result.code and "model = Model(augment)" in result.code


def test_sequential_without_input_shape_and_no_graph_stays_keras():
    result = tr("""
        head = keras.Sequential([layers.Dense(8)])
        head.summary()
    """)
    assert [d.construct for d in result.todos] == ["Sequential"]
    assert "input shape is unknown" in result.todos[0].reason


def test_builder_parameters_become_init_parameters_and_call_sites_fix_the_structure():
    result = tr("""
        def build(input_dim, n_classes, depth=2):
            inp = keras.Input(shape=(input_dim,))
            x = inp
            for _ in range(depth):
                x = layers.Dense(8, activation="relu")(x)
            out = layers.Dense(n_classes)(x)
            return keras.Model(inp, out)

        model = build(10, 3)
        other = build(4, 2)
    """)
    assert result.todos == [], result.code
    assert "def __init__(self, input_dim, n_classes):" in result.code
    assert "self.dense = nn.Linear(input_dim, 8)" in result.code and "self.dense_2 = nn.Linear(8, n_classes)" in result.code
    assert "return Build(input_dim, n_classes)" in result.code


def test_call_sites_that_disagree_on_the_structure_leave_it_keras():
    result = tr("""
        def build(depth):
            inp = keras.Input(shape=(4,))
            x = inp
            for _ in range(depth):
                x = layers.Dense(4)(x)
            return keras.Model(inp, x)

        small, big = build(1), build(3)
    """)
    assert [d.construct for d in result.todos] == ["Model"]


def test_functional_model_compiles_and_trains_like_sequential():
    result = tr("""
        inputs = keras.Input(shape=(4,))
        outputs = layers.Dense(3, activation="softmax")(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=2)
    """)
    assert result.todos == []
    assert "model.loss_fn = categorical_crossentropy" in result.code
    assert "fit(model, x, y, epochs=2)" in result.code


# --------------------------------------------------------------------------- what stays Keras, and where

LEFT = [
    pytest.param("""
        inputs = keras.Input(shape=(4, 3))
        x = inputs[:, 0]
        model = keras.Model(inputs, x)
    """, 2, "slicing a Keras tensor", id="slicing"),
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        x = layers.Dense(4)(inputs)
        x = layers.add([x, layers.Dense(3)(inputs)])
        model = keras.Model(inputs, x)
    """, 3, "inputs of different shapes", id="merge-shape-mismatch"),
    pytest.param("""
        a = keras.Input(shape=(4,))
        b = keras.Input(shape=(4,))
        model = keras.Model(a, layers.add([a, b]))
    """, 3, "not in Model(inputs=...)", id="disconnected-input"),
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        x = layers.Dense(4)(inputs, training=True)
        model = keras.Model(inputs, x)
    """, 2, "training=", id="forced-training-call"),
    pytest.param("""
        inputs = keras.Input(shape=(4,))
        x = inputs
        for i in range(n_layers):
            x = layers.Dense(4)(x)
        model = keras.Model(inputs, x)
    """, 3, "uses Keras tensors or layers", id="loop-over-a-non-static-range"),
    pytest.param("""
        import tensorflow as tf
        inputs = keras.Input(shape=(4,))
        x = tf.reshape(inputs, (-1, 2, 2))
        model = keras.Model(inputs, x)
    """, 3, "tf.reshape(...) on Keras tensors", id="tf-op-on-keras-tensor"),
    pytest.param("""
        inputs = keras.Input(shape=(4, 4, 3))
        shared = layers.Conv2D(2, 3)
        a = shared(inputs)
        b = shared(layers.Conv2D(5, 1)(inputs))
        model = keras.Model(inputs, [a, b])
    """, 2, "shared between inputs of different shapes", id="shared-layer-different-shapes"),
]


@pytest.mark.parametrize("source, line, reason", LEFT)
def test_what_stays_keras_is_marked_at_its_line(source, line, reason):
    result = tr(source)
    todos = [d for d in result.todos if d.construct == "Model"]
    assert len(todos) == 1, result.diagnostics
    # `line` counts from the first line of the case (after the blank one dedent keeps)
    assert todos[0].line == line + 1 + HEADER.count("\n"), todos[0]
    assert reason in todos[0].reason and "left in Keras" in todos[0].reason
    assert "keras.Model(" in result.code and "nn.Module" not in result.code
    # one explanation, not one TODO per graph statement
    assert len(result.todos) == 1, result.todos


def test_keras_1_input_output_keywords():
    """Old tutorials write Model(input=..., output=...): the same graph."""
    result = tr("""
        a = keras.Input(shape=(4,))
        b = layers.Dense(2)(a)
        model = keras.Model(input=a, output=b)
    """)
    assert forward_of(result) == ["b = self.dense(a)", "return b"]
    assert not result.todos


def test_an_earlier_models_compile_does_not_stop_the_next_graph():
    result = tr("""
        a = keras.Input(shape=(4,))
        m0 = keras.Model(a, layers.Dense(2)(a))
        m0.compile(optimizer="adam", loss="mse")
        b = keras.Input(shape=(3,))
        m1 = keras.Model(b, layers.Dense(2)(b))
    """)
    assert "m0 = M0()" in result.code and "m1 = M1()" in result.code
    assert "m0.optimizer = " in result.code
    assert not result.todos, result.todos
