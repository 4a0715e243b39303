"""Shared pytest set-up: the tests use tiny tensors, for which extra threads only add
overhead (and timing noise) on a small, loaded machine."""

import torch

torch.set_num_threads(1)
