"""The networks: the lesson's CNN (and PlainCNN, in plain PyTorch), FastNet, FastDropout, the Muon optimizer."""
