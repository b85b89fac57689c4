"""Everything about weights on disk, importing no model class (``models/`` builds networks on top of it).

``pretrained``: what a checkpoint records about the network it needs (:class:`ResNetVariant`, :class:`PretrainedCfg`).
``files``: atomic, durable checkpoint writes and reads. ``naming``: ``<net>-<epoch>_<step>.ckpt`` names, listing,
newest (MindSpore-free). ``torch_io``: torch / safetensors files as numpy. ``formats``: the other zoos' formats and
their renaming rules. ``checkpoint``: open any of them and load it strictly into a network passed in.

Nothing is imported here, so the MindSpore-free ``naming`` stays MindSpore-free.
"""
