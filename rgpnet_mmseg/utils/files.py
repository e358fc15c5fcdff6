# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Image files: which endings are images, and the images of a folder."""
import os
import os.path as osp
from typing import List

#: File name endings read as images (by OpenCV).
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp',
                    '.ppm', '.pgm', '.pbm', '.jp2')


def list_images(folder: str) -> List[str]:
    """The image files under ``folder`` (recursively, sorted), by ending."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [osp.join(root, name) for name in sorted(files)
                  if name.lower().endswith(IMAGE_EXTENSIONS)]
    return found
