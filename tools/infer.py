# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Segment an image, a folder of images or a video with RGPNet (``--help``:
the forms). Writes DIR/vis overlays (a video: <stem>.mp4), with
--save-labels DIR/pred class-id PNGs. Exit status: 0 every input
segmented; 1 some inputs could not be read or are outside a TensorRT
engine's shape profile (named on stderr, the others written); 2 nothing was
run (one line why: a bad command line, config, checkpoint, model file or
input)."""
import argparse
import os
import os.path as osp
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Segment an image, a folder of images or a video with '
        'RGPNet on PyTorch, ONNX Runtime or TensorRT.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='examples:\n  python tools/infer.py configs/rgpnet_r18_demo.py'
        ' work_dirs/rgpnet_r18_demo/iter_400.pth data/demo/leftImg8bit/val '
        '--out out\n  python tools/infer.py work_dirs/deploy_ort street.mp4 '
        '--out out --show-fps\n  python tools/infer.py work_dirs/deploy_trt '
        'end2end.engine img.png --out out --device cuda:0')
    add = parser.add_argument
    add('model', help='model config (.py), or a dir of tools/deploy.py')
    add('checkpoint', nargs='?', help='model file: .pth (pytorch), .onnx '
        '(onnxruntime) or .engine (tensorrt); may be left out for a deployed '
        'dir')
    add('input', help='image, folder of images or video')
    add('--out', required=True, help='output dir')
    add('--backend',
        choices=['pytorch', 'onnxruntime', 'tensorrt', 'openvino'],
        help='default: told by the model file (.pth/.onnx/.engine), for a '
        'deployed dir the model file in it')
    add('--device', help='cpu, cuda:N (default: cpu; tensorrt: cuda:0)')
    add('--threads', type=int, help='CPU threads of the network (torch / '
        'ONNX Runtime intra-op); default: all cores. 1 can be far faster on '
        'cores that other processes keep busy')
    add('--opacity', type=float, default=0.5, help='weight of the class '
        'colours in the overlays, 0..1 (default 0.5)')
    add('--show-fps', action='store_true', help='write the segmenter\'s '
        'frames per second into each overlay')
    add('--save-labels', action='store_true', help='also write label PNGs '
        '(class ids) to OUT/pred')
    add('--no-progress', action='store_true', help='no progress bars')
    add('--no-video-threads', action='store_true', help='decode and encode '
        'video frames in the main thread (no overlap with inference)')
    args = parser.parse_args(argv)
    if not 0.0 <= args.opacity <= 1.0:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    err = sys.stderr
    if not osp.exists(args.input):
        err.write(f'Input not found: {args.input}\n')
        return 2
    if osp.isfile(args.model) and args.checkpoint is None and \
            args.backend in (None, 'pytorch'):
        err.write(f'{args.model} is a config: name its checkpoint (.pth) '
                  f'as the second argument\n')
        return 2

    from rgpnet_mmseg.apis import (InferenceError, InferenceRunner,
                                   build_segmenter)
    from rgpnet_mmseg.compat import CheckpointError
    try:
        segmenter = build_segmenter(args.model, args.checkpoint,
                                    args.backend, args.device, args.threads)
    except (InferenceError, CheckpointError) as e:
        err.write(f'{e}\n')
        return 2
    print(f'{segmenter.backend} segmenter, {len(segmenter.classes)} classes')

    os.makedirs(args.out, exist_ok=True)
    # OpenCV's decoder warnings would precede our report of unreadable inputs
    import cv2
    log_level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    runner = InferenceRunner(segmenter, args.out, args.opacity,
                             args.save_labels, args.show_fps,
                             not args.no_progress, not args.no_video_threads)
    try:
        runner.run([args.input])
    finally:
        cv2.utils.logging.setLogLevel(log_level)
    print(runner.throughput())
    print(f'Results in {args.out}')
    if runner.failed:
        err.write(f'{len(runner.failed)} input(s) could not be read:\n' +
                  ''.join(f'  {path}\n' for path, _ in runner.failed))
    return 1 if runner.failed else 0


if __name__ == '__main__':
    sys.exit(main())
