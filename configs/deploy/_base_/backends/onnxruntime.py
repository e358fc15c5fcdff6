# ONNX Runtime; intra_op_num_threads=N (ours) sets its thread count.
backend_config = dict(type='onnxruntime')
