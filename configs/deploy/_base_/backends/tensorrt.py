# TensorRT: mmdeploy's backend (TensorRT < 10) or rgpnet_mmseg.deploy.backends.tensorrt (10, 11).
# The FP16 configs inherit an FP32 one and set fp16_mode=True; their
# `fp16_typing` (rgpnet_mmseg): 'auto' uses BuilderFlag.FP16 where TensorRT
# has it (8.6, 10) and a float16 graph in a strongly typed network where it
# does not (11); 'flag' / 'strong' force one.
backend_config = dict(
    type='tensorrt',
    common_config=dict(fp16_mode=False, max_workspace_size=1 << 30))
