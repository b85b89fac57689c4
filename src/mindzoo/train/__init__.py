"""Training building blocks: LR schedules, loss, optimizer and the train-step Cell.

Import the submodules directly (``mindzoo.train.lr`` has no MindSpore dependency; the others load MindSpore).
"""
