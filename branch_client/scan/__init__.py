"""The document pipeline on the terminal: from a document camera's still to a straight page.

Pure functions over numpy arrays (BGR uint8, OpenCV's convention), no I/O and no clock:

* :mod:`.pipeline`: ``process(image_bytes) -> ScanResult``, ``decode_image``, ``detect_image``;
* :mod:`.detect`: ``detect(img) -> Detection`` (corners as the document reads, confidence);
* :mod:`.warp`: ``warp(img, corners, skew)`` at full resolution, ``residual_skew``;
* :mod:`.enhance`: ``flatten_lighting``, ``encode_for_reading``;
* :mod:`.errors`: ``ScanError`` and its codes;
* :mod:`.synthetic`: the simulated document camera (scenes with their true corners);
* :mod:`.cli`: ``madoguchi scan detect|process``.

These modules (and only these, besides the camera adapter) import ``cv2``; this package's
``__init__`` does not, so importing the CLI's parser stays cheap. All of it is CPU-bound and
blocking: the terminal runs it off the event loop, in a worker thread.
"""
