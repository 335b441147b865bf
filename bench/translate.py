"""Translation speed benchmark (a measurement, not a test: nothing here asserts a timing).

    python bench/translate.py [--files N] [--repeat R] [--keep DIR]

1. builds a corpus of N Keras scripts (default 200, 50-300 lines each) by varying the
   fixtures in ``fixtures/keras`` with a seeded ``random.Random(0)``, and checks once
   that every file translates without raising;
2. in-process throughput (lines/s) of ``translate_source`` against the LibCST floor,
   ``libcst.parse_module(src).code``, on the same files in the same run;
3. wall time of ``tfpt translate FILE -o OUT`` as a fresh process on a ~200-line file,
   with the import-time split;
4. a cProfile of ``translate_source`` over the corpus, restricted to tfpt and LibCST.

Targets (see bench/README.md): throughput >= 50% of the LibCST floor; CLI < 0.4 s.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "keras"
if str(ROOT) not in sys.path:  # run from a checkout even when tfpt is not installed
    sys.path.insert(0, str(ROOT))

import libcst as cst  # noqa: E402

from translator.translate import translate_source  # noqa: E402

THROUGHPUT_TARGET = 0.50  # translate_source lines/s as a fraction of the LibCST floor
CLI_TARGET_S = 0.4  # one ~200-line file, fresh process
CLI_RUNS = 5
PROFILE_TOP = 15
PROFILE_FILES = 40  # the profile's proportions settle long before the whole corpus


# ============================================================================ corpus

_MODULE = cst.Module(body=[])
_FRAMEWORK_ROOTS = ("tensorflow", "keras", "tf_keras")
#: canonical layer -> index of its size argument
_SIZED_LAYERS = {"keras.layers.Dense": 0, "keras.layers.Conv2D": 0, "keras.layers.Conv1D": 0,
                 "keras.layers.LSTM": 0, "keras.layers.GRU": 0, "keras.layers.SimpleRNN": 0,
                 "keras.layers.Embedding": 1}
_SIZES = ["8", "16", "24", "32", "48", "64", "96", "128", "256", "512"]
_RENAMED = ("model", "restored", "history", "sgd")  # per-section names, so sections never collide


def _dotted(node) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def _canonical(qualified: str) -> str:
    """``tensorflow.keras.layers.Dense`` -> ``keras.layers.Dense``; other TF names keep ``tensorflow.``."""
    for prefix in ("tensorflow.keras.", "tf_keras."):
        if qualified.startswith(prefix):
            qualified = "keras." + qualified[len(prefix):]
    if qualified in ("tensorflow.keras", "tf_keras"):
        qualified = "keras"
    if qualified == "keras.models.Sequential":
        qualified = "keras.Sequential"
    return qualified


class _ChainTransformer(cst.CSTTransformer):
    """Rewrites outermost Name/Attribute chains through ``self.chain(dotted) -> str | None``."""

    def __init__(self):
        super().__init__()
        self._skip: set[int] = set()

    def visit_Attribute(self, node):
        self._skip.add(id(node.value))
        self._skip.add(id(node.attr))

    def visit_Arg(self, node):
        if node.keyword is not None:
            self._skip.add(id(node.keyword))

    def visit_Param(self, node):
        self._skip.add(id(node.name))

    def visit_FunctionDef(self, node):
        self._skip.add(id(node.name))

    def visit_ClassDef(self, node):
        self._skip.add(id(node.name))

    def chain(self, dotted: str) -> str | None:
        raise NotImplementedError

    def _leave(self, original, updated):
        if id(original) in self._skip:
            return updated
        dotted = _dotted(original)
        new = None if dotted is None else self.chain(dotted)
        return updated if new is None or new == dotted else cst.parse_expression(new)

    def leave_Name(self, original, updated):
        return self._leave(original, updated)

    def leave_Attribute(self, original, updated):
        return self._leave(original, updated)


class _Canonicalise(_ChainTransformer):
    """Every framework reference of a fixture body spelled ``keras.<path>`` (or ``tensorflow.<path>``)."""

    def __init__(self, bindings: dict[str, str]):
        super().__init__()
        self.bindings = bindings

    def chain(self, dotted):
        head, _, rest = dotted.partition(".")
        if head not in self.bindings:
            return None
        return _canonical(self.bindings[head] + ("." + rest if rest else ""))


class Fixture:
    """A fixture split into docstring, plain imports and a canonical body."""

    def __init__(self, path: Path):
        self.name = path.stem
        module = cst.parse_module(path.read_text(encoding="utf-8"))
        body = list(module.body)
        self.doc = ""
        if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) \
                and isinstance(body[0].body[0].value, cst.SimpleString):
            self.doc = body[0].body[0].value.evaluated_value.strip()
            body = body[1:]
        self.plain_imports: list[str] = []
        bindings: dict[str, str] = {}
        stmts = []
        for stmt in body:
            small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) else None
            if isinstance(small, cst.Import):
                if any(a.evaluated_name.split(".")[0] in _FRAMEWORK_ROOTS for a in small.names):
                    for a in small.names:
                        full = a.evaluated_name
                        local = a.evaluated_alias if a.asname else full.split(".")[0]
                        bindings[local] = full if a.asname else local
                else:
                    self.plain_imports.append(_MODULE.code_for_node(stmt.with_changes(leading_lines=[])).strip())
                continue
            if isinstance(small, cst.ImportFrom):
                module_name = _MODULE.code_for_node(small.module)
                if module_name.split(".")[0] in _FRAMEWORK_ROOTS:
                    for a in small.names:
                        bindings[a.evaluated_alias or a.evaluated_name] = f"{module_name}.{a.evaluated_name}"
                else:
                    self.plain_imports.append(_MODULE.code_for_node(stmt.with_changes(leading_lines=[])).strip())
                continue
            stmts.append(stmt)
        canon = cst.Module(body=stmts).visit(_Canonicalise(bindings))
        self.body = list(canon.body)


class Spelling:
    """One file's import spelling: which names are bound, and how each reference is written."""

    ROOTS = [  # (weight, imports, root expression, package)
        (3, ["import keras"], "keras", "keras"),
        (3, ["from tensorflow import keras"], "keras", "tensorflow.keras"),
        (3, ["import tensorflow as tf"], "tf.keras", "tensorflow.keras"),
        (1, ["import tensorflow.keras as K"], "K", "tensorflow.keras"),
    ]

    def __init__(self, rng: random.Random):
        self.rng = rng
        _, self.root_imports, self.root, self.pkg = rng.choices(self.ROOTS, weights=[r[0] for r in self.ROOTS])[0]
        self.tf = self.root.startswith("tf.") or rng.random() < 0.25  # also `import tensorflow as tf`
        self.module_alias: dict[str, str] = {}
        if rng.random() < 0.4:
            self.module_alias["layers"] = rng.choice(["layers", "layers", "L"])
        for sub in ("optimizers", "losses"):
            if rng.random() < 0.2:
                self.module_alias[sub] = sub
        self.direct = {sub for sub, p in (("layers", 0.3), ("models", 0.35), ("utils", 0.15)) if rng.random() < p}
        self.sequential_from = rng.choice([f"{self.pkg}.models", self.pkg])
        self.alias_direct = rng.random() < 0.15  # `from keras.layers import Dense as KDense`
        self.mix = rng.choice([0.0, 0.1, 0.3])  # chance of the plain root spelling for any one reference
        self.used_root = False
        self.used_tf = False
        self.used_alias: dict[str, str] = {}
        self.used_direct: dict[str, list[tuple[str, str | None]]] = {}

    def _direct(self, module: str, name: str) -> str:
        alias = f"K{name}" if self.alias_direct and module.endswith("layers") else None
        names = self.used_direct.setdefault(module, [])
        if (name, alias) not in names:
            names.append((name, alias))
        return alias or name

    def spell(self, canonical: str) -> str:
        rng = self.rng
        if canonical == "tensorflow.random.set_seed" or (
                canonical == "keras.utils.set_random_seed" and self.tf and rng.random() < 0.3):
            if self.tf:
                self.used_tf = True
                return "tf.random.set_seed"
            canonical = "keras.utils.set_random_seed"
        if canonical.startswith("tensorflow."):
            self.used_tf = True
            return "tf." + canonical[len("tensorflow."):]
        parts = canonical.split(".")
        options = []
        if canonical == "keras.Sequential":
            if "models" in self.direct:
                options.append(lambda: self._direct(self.sequential_from, "Sequential"))
            plain = [f"{self.root}.Sequential", f"{self.root}.models.Sequential"]
        else:
            plain = [f"{self.root}.{'.'.join(parts[1:])}"]
            if len(parts) == 3:
                sub, name = parts[1], parts[2]
                if sub in self.direct:
                    options.append(lambda: self._direct(f"{self.pkg}.{sub}", name))
                if sub in self.module_alias:
                    alias = self.module_alias[sub]

                    def via_alias(sub=sub, alias=alias, name=name):
                        self.used_alias[sub] = alias
                        return f"{alias}.{name}"
                    options.append(via_alias)
        if not options or rng.random() < self.mix:
            self.used_root = True
            spelled = plain[0] if len(plain) == 1 or rng.random() < 0.7 else plain[1]
            return spelled
        return options[0]()

    def imports(self) -> list[str]:
        lines = []
        if self.used_root or self.rng.random() < 0.2:
            lines += self.root_imports
        if (self.used_tf or self.tf) and "import tensorflow as tf" not in lines:
            lines.insert(0, "import tensorflow as tf")
        for sub, alias in self.used_alias.items():
            lines.append(f"from {self.pkg} import {sub}" + ("" if alias == sub else f" as {alias}"))
        for module, names in self.used_direct.items():
            spelled = [n if a is None else f"{n} as {a}" for n, a in names]
            line = f"from {module} import {', '.join(spelled)}"
            if len(line) > 99:  # the way isort/black wrap it
                line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in spelled) + ")"
            lines.append(line)
        return lines


class _Respell(_ChainTransformer):
    def __init__(self, spelling: Spelling, renames: dict[str, str]):
        super().__init__()
        self.spelling = spelling
        self.renames = renames

    def chain(self, dotted):
        if dotted.startswith(("keras.", "tensorflow.")):
            return self.spelling.spell(dotted)
        head, dot, rest = dotted.partition(".")
        return self.renames[head] + dot + rest if head in self.renames else None


def _call_name(node) -> str | None:
    return _dotted(node.func) if isinstance(node, cst.Call) else None


def _kw(call: cst.Call, keyword: str):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    return None


def _is_output_layer(call: cst.Call) -> bool:
    act = _kw(call, "activation")
    return isinstance(act, cst.SimpleString) and act.evaluated_value in ("softmax", "sigmoid")


def _returns_sequences(call: cst.Call) -> bool:
    if _call_name(call) == "keras.layers.Bidirectional" and call.args:
        call = call.args[0].value
    flag = _kw(call, "return_sequences") if isinstance(call, cst.Call) else None
    return isinstance(flag, cst.Name) and flag.value == "True"


def _hidden_dense(rng: random.Random) -> cst.Call:
    act = rng.choice(["relu", "relu", "tanh", "gelu"])
    return cst.parse_expression(f"keras.layers.Dense({rng.choice(_SIZES[1:8])}, activation='{act}')")


class _Vary(cst.CSTTransformer):
    """Layer sizes, dropout rates, epochs, extra hidden layers, conv-loop lengths."""

    def __init__(self, rng: random.Random):
        super().__init__()
        self.rng = rng

    def leave_Call(self, original, updated):
        rng = self.rng
        name = _call_name(updated)
        if name in _SIZED_LAYERS and not _is_output_layer(updated):
            i = _SIZED_LAYERS[name]
            if len(updated.args) > i and updated.args[i].keyword is None \
                    and isinstance(updated.args[i].value, cst.Integer) and updated.args[i].value.evaluated_value >= 8:
                args = list(updated.args)
                args[i] = args[i].with_changes(value=cst.Integer(rng.choice(_SIZES)))
                updated = updated.with_changes(args=args)
        elif name == "keras.layers.Dropout" and updated.args and isinstance(updated.args[0].value, cst.Float):
            args = list(updated.args)
            args[0] = args[0].with_changes(value=cst.Float(rng.choice(["0.1", "0.2", "0.25", "0.3", "0.5"])))
            updated = updated.with_changes(args=args)
        elif name == "keras.Sequential" and updated.args and isinstance(updated.args[0].value, cst.List):
            updated = updated.with_changes(args=[updated.args[0].with_changes(
                value=self._grow(updated.args[0].value)), *updated.args[1:]])
        return updated

    def _grow(self, lst: cst.List) -> cst.List:
        rng = self.rng
        elements = list(lst.elements)
        if len(elements) < 2:
            return lst
        commas = [e.comma for e in elements if isinstance(e.comma, cst.Comma) and "#" not in _MODULE.code_for_node(e.comma)]
        if not commas:
            return lst
        comma = commas[0]
        out = []
        for e in elements[:-1]:
            out.append(e)
            if isinstance(e.value, cst.Call) and _returns_sequences(e.value) and rng.random() < 0.4:
                out.append(e.with_changes(comma=comma))  # one more stacked recurrent layer
        last = elements[-1]
        if _call_name(last.value) == "keras.layers.Dense":
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                out.append(cst.Element(_hidden_dense(rng), comma=comma))
        out.append(last)
        return lst.with_changes(elements=out)

    def leave_Arg(self, original, updated):
        if updated.keyword is not None and isinstance(updated.value, cst.Integer):
            if updated.keyword.value == "epochs":
                return updated.with_changes(value=cst.Integer(str(self.rng.randint(1, 10))))
            if updated.keyword.value == "batch_size":
                return updated.with_changes(value=cst.Integer(self.rng.choice(["16", "32", "64", "128"])))
        return updated

    def leave_For(self, original, updated):
        it = updated.iter
        if isinstance(it, cst.Tuple) and it.elements and all(isinstance(e.value, cst.Integer) for e in it.elements):
            sizes = sorted(self.rng.sample([8, 16, 32, 64], self.rng.randint(1, 3)))
            return updated.with_changes(iter=cst.parse_expression("(" + ", ".join(map(str, sizes)) + ",)"))
        return updated


def _add_hidden_layers(stmts: list, rng: random.Random) -> list:
    """``model.add(Dense(...))`` style: a few more hidden Dense layers before the output layer."""
    adds = [i for i, s in enumerate(stmts) if isinstance(s, cst.SimpleStatementLine)
            and isinstance(s.body[0], cst.Expr) and _call_name(s.body[0].value) == "model.add"]
    if len(adds) < 2:
        return stmts
    last = adds[-1]
    inner = stmts[last].body[0].value.args[0].value
    if _call_name(inner) != "keras.layers.Dense":
        return stmts
    extra = [cst.parse_statement(f"model.add({_MODULE.code_for_node(_hidden_dense(rng))})")
             for _ in range(rng.choice([0, 1, 2]))]
    return stmts[:last] + extra + stmts[last:]


# --- filler: unrelated helpers (@s@ snake suffix, @S@ Camel suffix, @U@ upper, @a@/@b@ ints, @f@ float)

FILLERS: list[tuple[str, str]] = [
    ("", r'''
def moving_average_@s@(values, window=@b@):
    """Simple moving average over a list of floats."""
    if window <= 0:
        raise ValueError("window must be positive")
    out = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
'''),
    ("", r'''
class RunningStats@S@:
    """Welford's online mean and variance."""

    def __init__(self):
        self.count = 0
        self.mean = 0.0
        self._m2 = 0.0

    def update(self, value):
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (value - self.mean)

    @property
    def variance(self):
        return self._m2 / (self.count - 1) if self.count > 1 else 0.0
'''),
    ("from dataclasses import dataclass", r'''
@dataclass
class @S@Config:
    """Hyper-parameters for the @s@ experiment."""

    learning_rate: float = @f@
    batch_size: int = @a@
    epochs: int = @b@
    tags: tuple = ("baseline", "@s@")

    def describe(self):
        return f"lr={self.learning_rate} bs={self.batch_size} epochs={self.epochs}"
'''),
    ("", r'''
# ----------------------------------------------------------------------------
# @S@ helpers: not part of any model; they were copied in from the shared
# experiment scripts and are kept here so this file runs on its own.
# TODO: move these into a utils module once the API settles.
# ----------------------------------------------------------------------------
'''),
    ("import time", r'''
class Timer@S@:
    """Context manager that records wall time in seconds."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.start
        return False
'''),
    ("", r'''
def chunked_@s@(items, size=@a@):
    """Yield successive lists of at most `size` items."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
'''),
    ("import math", r'''
def cosine_schedule_@s@(step, total=@a@00, base_lr=@f@, warmup=@b@):
    # linear warm-up, then cosine decay to zero
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * min(progress, 1.0)))
'''),
    ("", r'''
def describe_@s@(array):
    """One-line summary of a numpy array for logs."""
    array = np.asarray(array)
    return "shape=%s dtype=%s min=%.3f max=%.3f" % (array.shape, array.dtype, array.min(), array.max())
'''),
    ("", r'''
def retry_@s@(fn, attempts=@b@, exceptions=(OSError,)):
    """Call fn() until it succeeds or `attempts` runs out."""
    last = None
    for attempt in range(attempts):
        try:
            return fn()
        except exceptions as exc:  # transient I/O
            last = exc
            print("attempt %d failed: %s" % (attempt + 1, exc))
    raise RuntimeError("gave up after %d attempts" % attempts) from last
'''),
    ("", r'''
# label names for the confusion-matrix printout
LABELS_@U@ = {
    0: "negative",
    1: "positive",
    2: "neutral",
}
PALETTE_@U@ = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
SEED_@U@ = @a@
'''),
    ("import argparse", r'''
def parse_args_@s@(argv=None):
    parser = argparse.ArgumentParser(description="@s@ experiment")
    parser.add_argument("--epochs", type=int, default=@b@)
    parser.add_argument("--batch-size", type=int, default=@a@)
    parser.add_argument("--lr", type=float, default=@f@)
    parser.add_argument("--out", default="runs/@s@")
    return parser.parse_args(argv)
'''),
    ("", r'''
class LeastSquares@S@:
    """Closed-form linear regression; unrelated to the Keras models in this file."""

    def fit(self, x, y):
        x = np.c_[np.ones(len(x)), x]
        self.coef_ = np.linalg.lstsq(x, y, rcond=None)[0]
        return self

    def predict(self, x):
        return np.c_[np.ones(len(x)), x] @ self.coef_
'''),
    ("", r'''
def confusion_matrix_@s@(y_true, y_pred, num_classes=None):
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred).astype(int).ravel()
    n = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    matrix = np.zeros((n, n), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        matrix[t, p] += 1
    return matrix
'''),
    ("import collections", r'''
def top_tokens_@s@(sequences, k=@b@):
    """Most frequent token ids across integer sequences."""
    counts = collections.Counter()
    for seq in sequences:
        counts.update(int(t) for t in seq)
    return [token for token, _ in counts.most_common(k)]
'''),
    ("", r'''
def save_report_@s@(path, metrics):
    # 把指标写成简单的文本报告
    lines = ["%s: %s" % (k, v) for k, v in sorted(metrics.items())]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)
'''),
    ("", r'''
class Callback@S@:
    def on_epoch_end(self, epoch, logs=None):
        pass


class PrintEvery@S@(Callback@S@):
    def __init__(self, every=@b@):
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every == 0:
            print("epoch", epoch, logs or {})
'''),
]

_WORDS = ["alpha", "bravo", "cedar", "delta", "ember", "fjord", "gale", "harbor", "iris", "juniper", "kite",
          "lumen", "maple", "nova", "onyx", "pine", "quartz", "raven", "sierra", "tundra", "umber", "vale",
          "willow", "xenon", "yarrow", "zephyr"]


def _filler(rng: random.Random, used: set[str]) -> tuple[str, str]:
    imp, template = rng.choice(FILLERS)
    word = rng.choice(_WORDS)
    k = 2
    while word in used:
        word = f"{rng.choice(_WORDS)}{k}"
        k += 1
    used.add(word)
    text = (template.strip("\n").replace("@s@", word).replace("@S@", word.capitalize())
            .replace("@U@", word.upper()).replace("@a@", str(rng.choice([16, 32, 64, 128])))
            .replace("@b@", str(rng.randint(2, 9))).replace("@f@", rng.choice(["0.1", "0.01", "0.001", "3e-4"])))
    return imp, text


_GLUED = re.compile(r"(?:[ \t]*#.*\n|[ \t]*\n)*(?:\w+\.add\(|for )")


def _lines(text: str) -> int:
    return text.count("\n") + (not text.endswith("\n"))


def generate_file(fixtures: list[Fixture], rng: random.Random, index: int) -> tuple[str, str]:
    """One corpus file: ``(name, source)``."""
    n_models = rng.choices([1, 2, 3], weights=[55, 30, 15])[0]
    chosen = rng.sample(fixtures, n_models)
    spelling = Spelling(rng)
    base = rng.choice(["model", "model", "net", "clf", "keras_model"])
    # (kind, text): "top" starts a section or is a filler; a filler may also go before a "stmt", never before
    # a "glued" one (a model.add or a loop of them: tfpt translates a run of adds only while nothing comes between)
    blocks: list[tuple[str, str]] = []
    plain_imports: list[str] = []
    for k, fx in enumerate(chosen):
        var = base if k == 0 else f"{base}_{k + 1}"
        renames = {"model": var, **{n: f"{n}_{k + 1}" for n in _RENAMED[1:] if k}}
        stmts = _add_hidden_layers(fx.body, rng)
        module = cst.Module(body=stmts).visit(_Vary(rng)).visit(_Respell(spelling, renames))
        texts = [module.code_for_node(s) for s in module.body]
        texts[0] = texts[0].lstrip("\n")
        for imp in fx.plain_imports:
            if imp not in plain_imports:
                plain_imports.append(imp)
        if rng.random() < 0.2:  # the whole section inside a function
            fn = f"train_{fx.name}" + (f"_{k + 1}" if k else "")
            text = f"def {fn}():\n" + textwrap.indent("".join(texts), "    ")
            call = f"{fn}()\n" if rng.random() < 0.5 else f'if __name__ == "__main__":\n    {fn}()\n'
            blocks.append(("top", text + "\n\n" + call))
        else:
            blocks.append(("top", texts[0]))
            blocks.extend(("glued" if _GLUED.match(t) else "stmt", t) for t in texts[1:])
    # fillers up to a target length, mostly between sections
    target = rng.randint(50, 300)
    filler_imports: list[str] = []
    used_words: set[str] = set()
    header_lines = 3 + len(plain_imports) + 4  # docstring, blank lines, imports (estimated)
    current = header_lines + sum(_lines(t) for _, t in blocks) + 2 * len(blocks)
    while current < target:
        imp, text = _filler(rng, used_words)
        size = _lines(text) + 3
        if current + size > 295:
            break
        inside = rng.random() >= 0.7
        slots = [i for i, (kind, _) in enumerate(blocks) if kind == "top" or (inside and kind == "stmt")]
        blocks.insert(rng.choice(slots + [len(blocks)]), ("top", "\n\n" + text + "\n\n\n"))
        if imp and imp not in filler_imports:
            filler_imports.append(imp)
        current += size
    # header: docstring, imports
    doc = chosen[0].doc or f"{chosen[0].name} example"
    if n_models > 1:
        doc += "\n\nAlso in this file:\n" + "\n".join(f"- {fx.doc}" for fx in chosen[1:]) + "\n"
    framework = spelling.imports()
    third = [i for i in plain_imports if "numpy" in i]
    head = f'"""{doc}"""\n'
    if rng.random() < 0.2:
        head += "from __future__ import annotations\n"
    groups = [third, framework] if rng.random() < 0.8 else [framework, third]

    def assemble() -> str:
        stdlib = sorted({*filler_imports, *(i for i in plain_imports if "numpy" not in i)},
                        key=lambda s: (s.startswith("from"), s))
        text = head + "\n" + "".join(i + "\n" for i in stdlib)
        for group in groups:
            text += "\n" + "".join(i + "\n" for i in group)
        text += "\n"
        for kind, block in blocks:
            if kind == "top" and not text.endswith("\n\n"):
                text += "\n"
            text += block
        return re.sub(r"\n{4,}", "\n\n\n", text).rstrip("\n") + "\n"

    source = assemble()
    while _lines(source) < 50:  # the estimate above fell short: top up at the end
        imp, text = _filler(rng, used_words)
        blocks.append(("top", "\n\n" + text + "\n\n\n"))
        if imp and imp not in filler_imports:
            filler_imports.append(imp)
        source = assemble()
    name = f"gen_{index:04d}_{'+'.join(fx.name for fx in chosen)}.py"
    return name, source


def build_corpus(n: int) -> list[tuple[str, str]]:
    fixtures = [Fixture(p) for p in sorted(FIXTURES.glob("*.py"))]
    rng = random.Random(0)
    corpus = []
    for i in range(n):
        name, source = generate_file(fixtures, rng, i)
        compile(source, name, "exec")  # the generator itself must produce valid Python
        corpus.append((name, source))
    return corpus


# ============================================================================ measurements

def _pass(fn, corpus) -> float:
    gc.collect()
    t0 = time.perf_counter()
    for name, source in corpus:
        fn(source, name)
    return time.perf_counter() - t0


def _floor(source, _name):
    return cst.parse_module(source).code


def _parse_only(source, _name):
    return cst.parse_module(source)


def check_corpus(corpus) -> dict:
    """The warm-up pass: every file once; records failures and what was translated."""
    stats = {"failed": [], "out_lines": 0, "models": 0, "constructs": 0, "todos": 0, "files_with_todos": 0, "not_compiling": []}
    for name, source in corpus:
        try:
            result = translate_source(source, name)
        except Exception:  # noqa: BLE001 - a benchmark reports every failure, then stops
            stats["failed"].append((name, traceback.format_exc()))
            continue
        stats["out_lines"] += _lines(result.code)
        stats["models"] += len(result.models)
        stats["constructs"] += result.translated
        stats["todos"] += len(result.todos)
        stats["files_with_todos"] += bool(result.todos)
        try:
            compile(result.code, name, "exec")
        except SyntaxError as e:
            stats["not_compiling"].append(f"{name}: {e}")
    return stats


def _run(cmd, **kw) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)
    return time.perf_counter() - t0, proc


def _median_run(cmd, runs=CLI_RUNS) -> float:
    _run(cmd)  # warm the page cache and __pycache__; not counted
    times = []
    for _ in range(runs):
        t, proc = _run(cmd)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        times.append(t)
    return statistics.median(times)


def _importtime(module: str) -> tuple[float, list[tuple[int, str]]]:
    """``-X importtime``: cumulative seconds of ``import module`` and its biggest top-level imports."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          cwd=ROOT, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    total = next((us for us, _, name in reversed(rows) if name == module), 0)
    # the direct children worth naming: depth-2 entries (module's own imports), biggest first
    top = sorted(((us, name) for us, depth, name in rows if depth <= 3 and name != module), reverse=True)
    return total / 1e6, top[:6]


def measure_cli(corpus, workdir: Path) -> dict:
    name, source = min(corpus, key=lambda item: (abs(_lines(item[1]) - 200), item[0]))
    src = workdir / "cli_input.py"
    src.write_text(source, encoding="utf-8")
    out = workdir / "cli_output.py"
    exe = sys.executable
    res = {"file": name, "lines": _lines(source)}
    res["cli"] = _median_run([exe, "-m", "translator.cli", "translate", str(src), "-o", str(out)])
    res["python"] = _median_run([exe, "-c", "pass"])
    res["import_cli"] = _median_run([exe, "-c", "import translator.cli"])
    res["import_translate"] = _median_run([exe, "-c", "import translator.cli, translator.translate"])
    res["importtime_cli"], _ = _importtime("translator.cli")
    res["importtime_translate"], res["top_imports"] = _importtime("translator.translate")
    runs = [_cold_split(src) for _ in range(3)]
    for key in ("import_cli_s", "import_translate_s", "first_s", "second_s"):
        res[key] = statistics.median(r[key] for r in runs)
    res["lazy_modules"] = runs[0]["lazy_modules"]
    return res


_COLD_SPLIT = r"""
import json, sys, time
t0 = time.perf_counter()
import translator.cli
t1 = time.perf_counter()
import translator.translate as T
t2 = time.perf_counter()
before = set(sys.modules)
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    src = f.read()
T.translate_source(src, path)
t3 = time.perf_counter()
lazy = sorted(set(sys.modules) - before)
T.translate_source(src, path)
t4 = time.perf_counter()
print(json.dumps({"import_cli_s": t1 - t0, "import_translate_s": t2 - t1, "first_s": t3 - t2,
                  "second_s": t4 - t3, "lazy_modules": lazy}))
"""


def _cold_split(src: Path) -> dict:
    """Inside one fresh process: import times, then the first (cold) and second translate_source."""
    import json

    _, proc = _run([sys.executable, "-c", _COLD_SPLIT, str(src)])
    if proc.returncode != 0:
        sys.exit(f"bench: cold-split run failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def _where(key) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    path = filename.replace("\\", "/")
    for marker in ("/translator/", "/libcst/"):
        if marker in path:
            path = marker.strip("/") + "/" + path.split(marker, 1)[1]
            break
    return f"{path}:{line}({func})"


def _relevant(key) -> bool:
    filename, _, func = key
    path = filename.replace("\\", "/")
    return "/translator/" in path or "/libcst/" in path or (filename == "~" and "libcst" in func)


def profile(corpus) -> tuple[pstats.Stats, float]:
    prof = cProfile.Profile()
    prof.enable()
    for name, source in corpus[:PROFILE_FILES]:
        translate_source(source, name)
    prof.disable()
    stats = pstats.Stats(prof)
    total = max(ct for (_, _, func), (_, _, _, ct, _) in stats.stats.items() if func == "translate_source")
    return stats, total


def _stage_functions() -> list[tuple[str, object]]:
    """The pipeline's steps in call order (see translate_source); a step renamed away is left out."""
    from translator import recognise, rewrite, translate

    candidates = [("parse input (translate.parse)", lambda: translate.parse),
                  ("index (Recogniser.__init__)", lambda: recognise.Recogniser.__init__),
                  ("recognise (Recogniser.run)", lambda: recognise.Recogniser.run),
                  ("rewrite (rewrite.apply)", lambda: rewrite.apply),
                  ("codegen (Module.code)", lambda: cst.Module.code.fget)]
    found = []
    for label, get in candidates:
        try:
            found.append((label, get()))
        except AttributeError:
            pass
    return found


def print_profile(stats: pstats.Stats, total: float) -> None:
    rows = [(key, v) for key, v in stats.stats.items() if _relevant(key)]

    def table(title, sort_index):
        print(f"\n  {title}")
        print(f"  {'ncalls':>9} {'tottime':>8} {'cumtime':>8} {'cum%':>5}  function")
        for key, (cc, nc, tt, ct, _) in sorted(rows, key=lambda r: r[1][sort_index], reverse=True)[:PROFILE_TOP]:
            calls = str(nc) if cc == nc else f"{nc}/{cc}"
            print(f"  {calls:>9} {tt:8.3f} {ct:8.3f} {100 * ct / total:4.0f}%  {_where(key)}")

    table(f"top {PROFILE_TOP} by cumulative time (translator + libcst)", 3)
    table(f"top {PROFILE_TOP} by own time (translator + libcst)", 2)

    # the pipeline stages, found by name in the profile (cumulative, so they overlap where one calls another)
    print("\n  stages of translate_source, as the profile times them (cumulative; share of translate_source)")
    covered = 0.0
    for label, func in _stage_functions():
        code = func.__code__
        ct = stats.stats.get((code.co_filename, code.co_firstlineno, code.co_name), (0, 0, 0, 0.0))[3]
        covered += ct
        print(f"  {label:<32} {ct:7.3f} s  {100 * ct / total:5.1f}%")
    print(f"  {'other':<32} {total - covered:7.3f} s  {100 * (total - covered) / total:5.1f}%")
    parses = [(v[1], v[3]) for (f, _, fn), v in stats.stats.items()
              if fn == "_parse" and f.replace("\\", "/").endswith("/libcst/_parser/entrypoints.py")]
    if parses:
        n, ct = parses[0]
        print(f"  (libcst parsing in all: {n} calls, {ct:.3f} s = {100 * ct / total:.1f}%; one per file is the input, "
              f"the rest parse generated code)")


# ============================================================================ main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200, help="corpus size (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per measurement; the best counts (default 3)")
    ap.add_argument("--keep", metavar="DIR", help="also write the corpus to DIR (for a look at what is measured)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    print(f"tfpt translation benchmark  (python {sys.version.split()[0]}, libcst {_libcst_version()}, "
          f"{os.cpu_count()} CPUs, {_load()})")

    # 1. corpus ---------------------------------------------------------------
    with tempfile.TemporaryDirectory(prefix="tfpt-bench-") as tmp:
        tmpdir = Path(tmp)
        t0 = time.perf_counter()
        corpus = build_corpus(args.files)
        for name, source in corpus:
            (tmpdir / name).write_text(source, encoding="utf-8")
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                (Path(args.keep) / name).write_text(source, encoding="utf-8")
        corpus = [(name, (tmpdir / name).read_text(encoding="utf-8")) for name, _ in corpus]
        lengths = sorted(_lines(s) for _, s in corpus)
        total_lines = sum(lengths)
        multi = sum(name.count("+") > 0 for name, _ in corpus)
        print(f"\n[1] corpus: {len(corpus)} files in {tmpdir} ({time.perf_counter() - t0:.1f} s to build)")
        print(f"    {total_lines} lines; per file min {lengths[0]} / median {lengths[len(lengths) // 2]} "
              f"/ max {lengths[-1]}; {multi} files with several models")
        t0 = time.perf_counter()
        check = check_corpus(corpus)  # also the warm-up pass
        print(f"    check (warm-up) pass: {time.perf_counter() - t0:.1f} s; {check['models']} models, "
              f"{check['constructs']} constructs translated; {check['todos']} TODOs in "
              f"{check['files_with_todos']} files; {len(check['not_compiling'])} outputs that do not compile")
        print(f"    the translations have {check['out_lines']} lines ({check['out_lines'] / total_lines:.1f}x the input: "
              "models and runtime helpers are written out)")
        for line in check["not_compiling"][:5]:
            print(f"      does not compile: {line}")
        if check["failed"]:
            print(f"\nbench: translate_source raised on {len(check['failed'])} generated file(s); first one:")
            name, tb = check["failed"][0]
            print(f"--- {name}\n{tb}")
            return 1

        # 2. throughput ------------------------------------------------------
        _pass(_floor, corpus[:20])  # warm LibCST's floor path too
        best = {"translate": float("inf"), "floor": float("inf"), "parse": float("inf")}
        for _ in range(args.repeat):  # interleaved, so drift hits all three alike
            best["floor"] = min(best["floor"], _pass(_floor, corpus))
            best["translate"] = min(best["translate"], _pass(translate_source, corpus))
            best["parse"] = min(best["parse"], _pass(_parse_only, corpus))
        rate = {k: total_lines / v for k, v in best.items()}
        ratio = rate["translate"] / rate["floor"]
        print(f"\n[2] throughput, in-process, best of {args.repeat} passes over {total_lines} lines")
        print(f"    translate_source          {rate['translate']:>9,.0f} lines/s  ({best['translate']:.2f} s/pass)")
        print(f"    LibCST floor (parse+code) {rate['floor']:>9,.0f} lines/s  ({best['floor']:.2f} s/pass)")
        print(f"      parse_module alone      {rate['parse']:>9,.0f} lines/s  ({best['parse']:.2f} s/pass)")
        print(f"    ratio                     {100 * ratio:8.0f}%  of the floor (target >= {100 * THROUGHPUT_TARGET:.0f}%)")
        print(f"    translate_source beyond the floor: {best['translate'] - best['floor']:.2f} s/pass "
              f"({1000 * (best['translate'] - best['floor']) / len(corpus):.1f} ms/file)")

        # 3. CLI ---------------------------------------------------------------
        cli = measure_cli(corpus, tmpdir)
        work = cli["cli"] - cli["import_translate"]
        print(f"\n[3] CLI: tfpt translate {cli['file']} ({cli['lines']} lines) -o OUT, fresh process, "
              f"median of {CLI_RUNS}")
        print(f"    wall time                              {cli['cli']:.3f} s  (target < {CLI_TARGET_S} s)")
        print(f"    python -c pass                         {cli['python']:.3f} s")
        print(f"    python -c 'import translator.cli'      {cli['import_cli']:.3f} s  "
              f"(-X importtime: {cli['importtime_cli'] * 1000:.0f} ms)")
        print(f"    ... plus translator.translate (libcst) {cli['import_translate']:.3f} s  "
              f"(-X importtime: {cli['importtime_translate'] * 1000:.0f} ms)")
        print(f"    => the rest (read, translate, write)   {work:.3f} s")
        print(f"    inside one fresh process (median of 3): import translator.cli {cli['import_cli_s']:.3f} s, "
              f"import translator.translate {cli['import_translate_s']:.3f} s,")
        print(f"      first translate_source {cli['first_s']:.3f} s (cold), second {cli['second_s']:.3f} s (warm)")
        lazy = cli["lazy_modules"]
        heads = sorted({".".join(m.split(".")[:2]) for m in lazy})
        print(f"      the first call imports {len(lazy)} more modules: {', '.join(heads[:12])}"
              + (" ..." if len(heads) > 12 else ""))
        print("    biggest imports under translator.translate (-X importtime, cumulative):")
        for us, name in cli["top_imports"]:
            print(f"      {us / 1000:7.1f} ms  {name}")

    # 4. profile ----------------------------------------------------------------
    stats, total = profile(corpus)
    print(f"\n[4] profile: cProfile of translate_source over the first {min(PROFILE_FILES, len(corpus))} files "
          f"({total:.2f} s under the profiler, which inflates per-call overhead)")
    print_profile(stats, total)

    # summary ---------------------------------------------------------------------
    def verdict(ok):
        return "met" if ok else "NOT met"

    print("\n" + "=" * 78)
    print("summary")
    print(f"  throughput   translate_source {rate['translate']:,.0f} lines/s vs LibCST floor "
          f"{rate['floor']:,.0f} lines/s = {100 * ratio:.0f}%   target >= {100 * THROUGHPUT_TARGET:.0f}%: "
          f"{verdict(ratio >= THROUGHPUT_TARGET)}")
    print(f"  CLI          {cli['cli']:.3f} s for a {cli['lines']}-line file (median of {CLI_RUNS})"
          f"          target < {CLI_TARGET_S} s: {verdict(cli['cli'] < CLI_TARGET_S)}")
    print(f"  startup      {cli['import_translate']:.3f} s of it is python + imports "
          f"(python alone {cli['python']:.3f} s; translator.cli {cli['import_cli']:.3f} s)")
    print(f"  corpus       {len(corpus)} files, {total_lines} lines, all translated without raising; "
          f"run took {time.perf_counter() - started:.0f} s")
    print(f"  machine      {os.cpu_count()} CPUs, {_load()} (other work on the machine inflates every number)")
    print("=" * 78)
    return 0


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except (AttributeError, OSError):
        return "load average unknown"


def _libcst_version() -> str:
    try:
        from importlib.metadata import version
        return version("libcst")
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    sys.exit(main())
