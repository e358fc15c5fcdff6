# TensorRT, built by rgpnet_mmseg.deploy.tensorrt (TensorRT 8.6 to 11).
backend_config = dict(
    type='tensorrt',
    common_config=dict(fp16_mode=False, max_workspace_size=1 << 30))
