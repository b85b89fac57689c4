"""Everything about weights on disk, importing no model class (``models/`` builds networks on top of it).

``pretrained``: what a checkpoint records about the network it needs (:class:`ResNetVariant`, :class:`PretrainedCfg`).
``files``: atomic, durable checkpoint writes and reads. ``naming``: ``<net>-<epoch>_<step>.ckpt`` names, listing,
newest. ``torch_io``: torch / safetensors files as numpy. ``formats``: the other zoos' formats and their renaming
rules. ``checkpoint``: open any of them and load it strictly into a network passed in.

``naming``, ``pretrained``, ``torch_io`` and ``formats`` import without MindSpore (it loads when a tensor is made or
a .ckpt read), so the launchers and ``mindzoo-convert``'s usage errors start fast; nothing is imported here to keep
it so.
"""
