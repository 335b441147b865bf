"""tf2onnx handlers for TensorFlow ops that Keras models use and tf2onnx cannot export.

Importing this module registers them (tf2onnx's ``@tf_op`` registry). TensorFlow only.
"""

from __future__ import annotations

import numpy as np
from tf2onnx import utils
from tf2onnx.handler import tf_op


@tf_op("Erfc")
class Erfc:
    """``erfc(x) = 1 - erf(x)``: Keras' exact GELU is ``0.5 x erfc(-x / sqrt 2)`` and ONNX has no Erfc.

    The subtraction loses erfc's relative precision in the far tail, where the
    result is below float32's epsilon anyway; GELU multiplies it by x, so the
    absolute error stays near 1e-7 times |x|.
    """

    @classmethod
    def version_9(cls, ctx, node, **kwargs):
        dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
        erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name, name="erf")
        one = ctx.make_const(utils.make_name(f"{node.name}/one"), np.array(1, dtype=dtype))
        node.type = "Sub"
        ctx.replace_inputs(node, [one.output[0], erf.output[0]])
