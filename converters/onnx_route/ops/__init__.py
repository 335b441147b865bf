"""tfpt's onnx2torch converters for ops ordinary Keras models produce and onnx2torch lacks.

Importing this package registers them in onnx2torch's registry: ``LSTM`` (also
bidirectional), ``Loop`` (GRU, SimpleRNN), ``GlobalMaxPool`` (GlobalMaxPooling*D), and
the shape arithmetic ``shape_ops`` marks (``shapes``: what makes the result traceable
by ``torch.export`` with a free batch axis).
ConvTranspose's asymmetric padding is a graph rewrite instead (``onnx_passes``):
onnx2torch already registers ConvTranspose and allows one converter per op version.
"""

from . import global_max_pool, loop, lstm, shapes

__all__ = ["global_max_pool", "loop", "lstm", "shapes"]
