# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Convert a segmentor to ONNX Runtime or TensorRT with mmdeploy 1.3.1 (what
mmdeploy's own ``tools/deploy.py`` does; its wheel does not ship it), then
check the result against PyTorch.

    python tools/deploy.py DEPLOY_CFG MODEL_CFG CHECKPOINT IMAGE
        [--work-dir DIR] [--device cpu|cuda[:N]]
        [--exporter auto|legacy|dynamo] [--argmax] [--test-img IMAGE]
        [--miou | --no-miou] [--miou-max-images N] [--data-root DIR]
        [--no-parity] [--no-sdk-info] [--cfg-options k=v ...]

Leaves in the work dir: ``end2end.onnx`` (and ``end2end.engine`` for
TensorRT), the two configs it used (``deploy_cfg.py``, ``model_cfg.py``)
and mmdeploy's SDK files ``deploy.json``, ``pipeline.json``,
``detail.json``. Prints the parity of the backend with PyTorch and, for
TensorRT FP16 or with ``--miou``, the mIoU of both on the val split.

Exit status: 0 done; 1 the conversion cannot run (bad shape, missing file
or backend); 2 converted, but FP32 parity below the threshold.
"""
import argparse
import logging
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a segmentor to a backend with mmdeploy and '
        'check it against PyTorch')
    parser.add_argument('deploy_cfg', help='deploy config (configs/deploy/)')
    parser.add_argument('model_cfg', help='model config')
    parser.add_argument('checkpoint', help='model checkpoint')
    parser.add_argument('img', help='image used for the conversion')
    parser.add_argument(
        '--test-img', help='image for the parity check (default: IMG)')
    parser.add_argument('--work-dir', default='work_dirs/deploy')
    parser.add_argument(
        '--device', default='cpu', help='cpu, or cuda[:N] (TensorRT)')
    parser.add_argument(
        '--exporter',
        choices=['auto', 'legacy', 'dynamo'],
        help='ONNX exporter (default: $RGPNET_ONNX_EXPORTER, else auto: the '
        'TorchScript-based one while torch has it)')
    parser.add_argument(
        '--argmax',
        action='store_true',
        help='label map (argmax in the graph, at the input size) instead of '
        'the logits (codebase_config.with_argmax=True)')
    parser.add_argument('--no-parity', action='store_true')
    parser.add_argument(
        '--miou',
        action='store_true',
        help='compare the mIoU of backend and PyTorch on the val split '
        '(always for TensorRT FP16)')
    parser.add_argument(
        '--no-miou', action='store_true', help='not even for TensorRT FP16')
    parser.add_argument('--miou-max-images', type=int)
    parser.add_argument('--data-root', help='data root of the val split')
    parser.add_argument(
        '--dump-info',
        action='store_true',
        help="accepted as mmdeploy's tool does: the SDK files are always "
        'written (see --no-sdk-info)')
    parser.add_argument(
        '--no-sdk-info',
        action='store_true',
        help='do not write deploy.json/pipeline.json/detail.json')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override model config settings')
    parser.add_argument(
        '--log-level',
        default='INFO',
        choices=['DEBUG', 'INFO', 'WARNING', 'ERROR'])
    return parser.parse_args(argv)


def setup_logging(level: str) -> None:
    """Show our messages (not every library's INFO) on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            '%(asctime)s - rgpnet_mmseg - %(levelname)s - %(message)s',
            datefmt='%m/%d %H:%M:%S'))
    log = logging.getLogger('rgpnet_mmseg')
    log.addHandler(handler)
    log.setLevel(getattr(logging, level))
    log.propagate = False


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    for path, what in ((args.deploy_cfg, 'Deploy config'),
                       (args.model_cfg, 'Model config')):
        if not osp.isfile(path):
            print(f'error: {what} file not found: {path}', file=sys.stderr)
            return 1

    import rgpnet_mmseg  # noqa: F401  (registers RGPNet)
    from rgpnet_mmseg.deploy import ExporterError
    from rgpnet_mmseg.deploy.convert import DeployError, run_deploy
    from rgpnet_mmseg.deploy.verify import format_miou, format_parity
    try:
        result = run_deploy(
            args.deploy_cfg,
            args.model_cfg,
            args.checkpoint,
            args.img,
            args.work_dir,
            device=args.device,
            exporter=args.exporter,
            with_argmax=True if args.argmax else None,
            test_img=args.test_img,
            parity=not args.no_parity,
            miou=True if args.miou else (False if args.no_miou else None),
            miou_max_images=args.miou_max_images,
            data_root=args.data_root,
            cfg_options=args.cfg_options,
            dump_info=not args.no_sdk_info)
    except (DeployError, ExporterError, FileNotFoundError, ImportError,
            ValueError) as err:  # ValueError: DeployConfigError, shapes
        print(f'error: {err}', file=sys.stderr)
        return 1
    log = logging.getLogger('rgpnet_mmseg.deploy')
    log.info(f'ONNX: {result.onnx_file} ({result.export["exporter"]} '
             f'exporter, opset {result.export["opset"]}; ops: '
             f'{", ".join(result.ops)})')
    log.info(f'{result.backend} files: {", ".join(result.backend_files)}')
    status = 0
    if result.parity is not None:
        print(format_parity(result.parity), flush=True)
        status = 2 if result.parity['ok'] is False else 0
    if result.miou is not None:
        print(format_miou(result.miou), flush=True)
    return status


if __name__ == '__main__':
    sys.exit(main())
