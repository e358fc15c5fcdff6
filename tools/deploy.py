# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Convert a segmentor with mmdeploy 1.3.1 to ONNX Runtime, OpenVINO or
TensorRT into ``--work-dir``, then check it against PyTorch
(:func:`rgpnet_mmseg.deploy.convert.run_deploy`; docs/deployment.md).

Exit: 0 done; 1 cannot run (bad shape, missing, corrupt or unsafe file,
missing backend); 2 parity (or an OpenVINO mIoU drop) below its threshold;
3 the checkpoint does not fit the model config (one line, before anything
is written)."""
import argparse
import logging
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a segmentor with mmdeploy, check it vs PyTorch')
    add = parser.add_argument
    add('deploy_cfg', help='deploy config (configs/deploy/)')
    add('model_cfg', help='model config')
    add('checkpoint', help='model checkpoint')
    add('img', help='image used for the conversion')
    add('--test-img', help='parity image (default: IMG)')
    add('--work-dir', default='work_dirs/deploy')
    add('--device', default='cpu', help='cpu or cuda[:N]')
    add('--exporter', choices=['auto', 'legacy', 'dynamo'],
        help='ONNX exporter (onnx_config.exporter; default: auto)')
    add('--argmax', action='store_true',
        help='label map at the input size (argmax in the graph) instead of '
        'the logits (codebase_config.with_argmax=True)')
    add('--no-parity', action='store_true')
    add('--miou', action='store_true', help='compare the val mIoU of '
        'backend and PyTorch (always for TensorRT TF32/FP16 and INT8)')
    add('--no-miou', action='store_true')
    add('--miou-max-images', type=int)
    add('--data-root', help='data root of the val split')
    add('--calib-dataset-cfg', help='INT8: calibrate on the val set of '
        'this config (default: the model config\'s)')
    add('--calib-image-dir', help='INT8: calibrate on the images in this '
        'folder (through the test pipeline)')
    add('--calib-num-images', type=int,
        help='INT8: calibrate on the first N images')
    add('--dump-info', action='store_true',
        help="as mmdeploy's tool: the SDK files are always written")
    add('--no-sdk-info', action='store_true',
        help='do not write deploy.json/pipeline.json/detail.json')
    add('--cfg-options', nargs='+', action=DictAction,
        help='override model config settings')
    add('--log-level', default='INFO',
        choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'])
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    log = logging.getLogger('rgpnet_mmseg')  # ours, not every library's
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(
        '%(asctime)s - rgpnet_mmseg - %(levelname)s - %(message)s'))
    log.addHandler(handler)
    log.setLevel(args.log_level)
    log.propagate = False

    from rgpnet_mmseg.utils import load_run_config
    from rgpnet_mmseg.utils.checkpoint import (CheckpointError,
                                               CheckpointMismatchError,
                                               check_checkpoint_fits)
    try:  # before anything is written; a missing model config: run_deploy
        if osp.isfile(args.model_cfg):
            check_checkpoint_fits(load_run_config(
                args.model_cfg, cfg_options=args.cfg_options), args.checkpoint)
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 3 if isinstance(err, CheckpointMismatchError) else 1
    from rgpnet_mmseg.deploy import ExporterError
    from rgpnet_mmseg.deploy.convert import DeployError, run_deploy
    from rgpnet_mmseg.deploy.verify import format_miou, format_parity
    try:
        result = run_deploy(
            args.deploy_cfg, args.model_cfg, args.checkpoint, args.img,
            args.work_dir, device=args.device, exporter=args.exporter,
            with_argmax=True if args.argmax else None,
            test_img=args.test_img, parity=not args.no_parity,
            miou=True if args.miou else (False if args.no_miou else None),
            miou_max_images=args.miou_max_images, data_root=args.data_root,
            cfg_options=args.cfg_options, dump_info=not args.no_sdk_info,
            calib=dict(dataset_cfg=args.calib_dataset_cfg,
                       image_dir=args.calib_image_dir,
                       num_images=args.calib_num_images))
    except (DeployError, ExporterError, FileNotFoundError, ImportError,
            ValueError) as err:  # ValueError: DeployConfigError, shapes
        print(f'error: {err}', file=sys.stderr)
        return 1
    log.info(f'ONNX: {result["onnx_file"]} ({result["exporter"]} exporter, '
             f'opset {result["opset"]}; ops: {", ".join(result["ops"])})')
    log.info(f'{result["backend"]} files: '
             f'{", ".join(result["backend_files"])}')
    for key, fmt in (('parity', format_parity), ('miou', format_miou)):
        if result[key] is not None:
            print(fmt(result[key]), flush=True)
    return 2 if any((result[key] or {}).get('ok') is False
                    for key in ('parity', 'miou')) else 0


if __name__ == '__main__':
    sys.exit(main())
