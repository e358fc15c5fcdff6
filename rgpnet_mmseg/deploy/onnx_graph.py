# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Passes over exported ONNX graphs.

* :func:`fold_batchnorm` folds every inference ``BatchNormalization`` that
  follows a ``Conv`` or ``ConvTranspose`` into that convolution. The
  TorchScript exporter folds BN into ``Conv`` only, never into
  ``ConvTranspose`` (RGPNet's upsampling function U), and the dynamo
  exporter leaves BN after a convolution whose weight is used twice
  (RGPNet's shared-weight residual block). The pass gives each folded
  convolution its own weight, so a shared weight stays correct.
* :func:`op_types` and :data:`TENSORRT_OPS` describe what TensorRT parses.
* :func:`with_extra_outputs` exposes an inner tensor (the logits before
  ``ArgMax``) for parity checks.
* :func:`convert_to_fp16` moves a graph to float16 with float32 I/O, for
  strongly typed TensorRT builds (TensorRT 11 has no ``BuilderFlag.FP16``).
"""
import copy
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Set

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The ops an RGPNet graph may hold for TensorRT: convolutions (with BN
# folded), activations, the adaptor's sums, crop/pad of `match_size`, the
# final resize and argmax, and the shape arithmetic of dynamic graphs.
TENSORRT_OPS = frozenset({
    'Conv', 'ConvTranspose', 'Relu', 'Add', 'MaxPool', 'Resize', 'ArgMax',
    'Slice', 'Pad', 'Cast', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze',
    'Concat', 'Constant', 'Reshape', 'Div', 'Mul', 'Sub', 'Floor', 'Ceil',
    'Identity', 'Expand', 'ConstantOfShape', 'Range', 'Min', 'Max', 'Clip'
})
# Never in a deployable graph: un-folded or training-mode BN, dropout, and
# anything TensorRT has no parser for without plugins.
FORBIDDEN_OPS = frozenset({'BatchNormalization', 'Dropout'})


def op_types(model: onnx.ModelProto) -> Set[str]:
    """The op types of the main graph, e.g. ``{'Conv', 'Relu', ...}``."""
    return {node.op_type for node in model.graph.node}


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


class _Graph:
    """Index of a graph's producers, consumers and constants."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.inits = {init.name: init for init in graph.initializer}
        self.const_nodes = {
            node.output[0]: node
            for node in graph.node if node.op_type == 'Constant'
        }
        self.producer = {}
        self.consumers = defaultdict(list)
        for node in graph.node:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        self.graph_outputs = {out.name for out in graph.output}
        self.names = set(self.inits) | set(self.producer) | {
            i.name
            for i in graph.input
        }

    def value(self, name: str) -> Optional[np.ndarray]:
        """The constant value of tensor ``name``, or None."""
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name])
        node = self.const_nodes.get(name)
        if node is not None:
            value = _attr(node, 'value')
            if isinstance(value, TensorProto):
                return numpy_helper.to_array(value)
            return None
        node = self.producer.get(name)
        if node is not None and node.op_type == 'Identity':
            # the TorchScript exporter deduplicates equal initializers
            # (e.g. a zero BN mean and bias) into Identity nodes
            return self.value(node.input[0])
        return None

    def unique(self, base: str) -> str:
        name, i = base, 0
        while name in self.names:
            i += 1
            name = f'{base}_{i}'
        self.names.add(name)
        return name


def _remove_unused_constants(graph: onnx.GraphProto) -> None:
    outputs = {out.name for out in graph.output}
    while True:  # Constant/Identity nodes whose outputs nobody reads
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [
            node for node in graph.node
            if node.op_type in ('Constant', 'Identity')
            and not any(o in used for o in node.output)
        ]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)
            for inp in list(graph.input):
                if inp.name == init.name:
                    graph.input.remove(inp)


def fold_batchnorm(model: onnx.ModelProto) -> int:
    """Fold inference BatchNormalization nodes into the Conv/ConvTranspose
    that feeds them, in place.

    A BN is folded when its input is produced by a ``Conv`` or
    ``ConvTranspose`` with a constant weight (and bias) and is read by the
    BN alone. The folded convolution gets a new weight and bias (the old
    ones may be shared by another convolution); unused constants are
    removed afterwards.

    Args:
        model (onnx.ModelProto): The model, changed in place.

    Returns:
        int: The number of folded BN nodes.
    """
    graph = model.graph
    index = _Graph(graph)
    folded = []
    for bn in [n for n in graph.node if n.op_type == 'BatchNormalization']:
        if _attr(bn, 'training_mode', 0) or len(
            [o for o in bn.output if o]) != 1:
            continue
        x = bn.input[0]
        conv = index.producer.get(x)
        if (conv is None or conv.op_type not in ('Conv', 'ConvTranspose')
                or len(index.consumers[x]) != 1
                or x in index.graph_outputs):
            continue
        weight = index.value(conv.input[1])
        stats = [index.value(name) for name in bn.input[1:5]]
        if weight is None or any(s is None for s in stats):
            continue
        has_bias = len(conv.input) > 2 and conv.input[2]
        bias = index.value(conv.input[2]) if has_bias else None
        if has_bias and bias is None:
            continue
        gamma, beta, mean, var = (s.astype(np.float64) for s in stats)
        scale = gamma / np.sqrt(var + _attr(bn, 'epsilon', 1e-5))
        w = weight.astype(np.float64)
        if conv.op_type == 'Conv':
            w = w * scale.reshape((-1, ) + (1, ) * (w.ndim - 1))
        else:  # ConvTranspose: weight (C_in, C_out / group, k...)
            group = _attr(conv, 'group', 1)
            c_in, c_out_g = w.shape[:2]
            kernel = w.shape[2:]
            w = (w.reshape((group, c_in // group, c_out_g) + kernel) *
                 scale.reshape((group, 1, c_out_g) +
                               (1, ) * len(kernel))).reshape(weight.shape)
        b = bias.astype(np.float64) if bias is not None else np.zeros_like(
            mean)
        b = (b - mean) * scale + beta
        base = conv.name or conv.output[0]
        w_name = index.unique(f'{base}.bn_folded.weight')
        b_name = index.unique(f'{base}.bn_folded.bias')
        graph.initializer.extend([
            numpy_helper.from_array(w.astype(weight.dtype), w_name),
            numpy_helper.from_array(b.astype(weight.dtype), b_name)
        ])
        conv.input[1] = w_name
        if has_bias:
            conv.input[2] = b_name
        else:
            conv.input.append(b_name)
        conv.output[0] = bn.output[0]
        folded.append(bn)
        for vi in list(graph.value_info):
            if vi.name == x:
                graph.value_info.remove(vi)
    for bn in folded:
        graph.node.remove(bn)
    if folded:
        _remove_unused_constants(graph)
    return len(folded)


def find_argmax_input(model: onnx.ModelProto) -> Optional[str]:
    """The tensor that the graph's ``ArgMax`` reads (the logits), if any."""
    for node in model.graph.node:
        if node.op_type == 'ArgMax':
            return node.input[0]
    return None


def with_extra_outputs(model: onnx.ModelProto,
                       names: Iterable[str]) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs the tensors ``names``."""
    model = copy.deepcopy(model)
    have = {out.name for out in model.graph.output}
    for name in names:
        if name not in have:
            model.graph.output.append(
                helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return model


# ops whose outputs are not of the input's float type
_NON_FLOAT_OUTPUT_OPS = {'Shape', 'ArgMax', 'ArgMin', 'Size', 'NonZero'}
# (op type, input index) that must stay float32 whatever the data type
_FLOAT32_INPUTS = {('Resize', 1), ('Resize', 2), ('Upsample', 1)}


def convert_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of ``model`` that keeps float32 inputs and outputs.

    Float graph inputs are cast to float16; every op reached from them
    computes in float16, with its float constants (weights, biases) stored
    as float16; float outputs are cast back to float32. Integer shape
    arithmetic and ``Resize`` scales are left alone. This is what
    TensorRT's strongly typed mode (the only one in TensorRT 11) needs for
    an FP16 engine.

    Args:
        model (onnx.ModelProto): A float32 model (not changed).

    Returns:
        onnx.ModelProto: The float16 model.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    index = _Graph(graph)
    half: Set[str] = set()  # float16 activation tensors
    new_nodes: List[onnx.NodeProto] = []
    renamed: Dict[str, str] = {}
    for inp in graph.input:
        if inp.name in index.inits:
            continue
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            cast_out = index.unique(f'{inp.name}.fp16')
            new_nodes.append(
                helper.make_node(
                    'Cast', [inp.name], [cast_out],
                    to=TensorProto.FLOAT16,
                    name=index.unique(f'{inp.name}.to_fp16')))
            renamed[inp.name] = cast_out
            half.add(cast_out)
    converted: Dict[str, str] = {}

    def fp16_constant(name: str) -> str:
        if name not in converted:
            value = index.value(name)
            new = index.unique(f'{name}.fp16')
            graph.initializer.append(
                numpy_helper.from_array(value.astype(np.float16), new))
            converted[name] = new
        return converted[name]

    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        reads_half = any(name in half for name in node.input)
        if reads_half and node.op_type not in _NON_FLOAT_OUTPUT_OPS:
            for i, name in enumerate(node.input):
                if not name or name in half or (node.op_type,
                                                 i) in _FLOAT32_INPUTS:
                    continue
                value = index.value(name)
                if value is not None and value.dtype == np.float32:
                    node.input[i] = fp16_constant(name)
            if node.op_type == 'Cast':
                if _attr(node, 'to') == TensorProto.FLOAT:
                    for attr in node.attribute:
                        if attr.name == 'to':
                            attr.i = TensorProto.FLOAT16
                    half.update(node.output)
            else:
                half.update(o for o in node.output if o)
        new_nodes.append(node)
    outputs = list(graph.output)
    for out in outputs:
        if out.name in half:
            inner = index.unique(f'{out.name}.fp16')
            for node in new_nodes:
                for i, name in enumerate(node.output):
                    if name == out.name:
                        node.output[i] = inner
                for i, name in enumerate(node.input):
                    if name == out.name:
                        node.input[i] = inner
            new_nodes.append(
                helper.make_node(
                    'Cast', [inner], [out.name],
                    to=TensorProto.FLOAT,
                    name=index.unique(f'{out.name}.to_fp32')))
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.value_info[:]
    _remove_unused_constants(graph)
    return model
