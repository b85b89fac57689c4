"""Reference networks for the tests only (not shipped): torchvision's ResNet rebuilt in PyTorch
(``torch_reference``) and the model zoos' ResNets rebuilt from their published source (``zoo_nets``)."""
