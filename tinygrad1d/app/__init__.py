"""The application: model presets, the training loop with checkpoints, run reports, and the
`tinygrad1d` command. It imports the library (tensor, ops, functional, nn, optim, viz,
data) and the library never imports it (tests/test_repo.py checks both directions).

| module | holds |
|---|---|
| `models.py` | the presets (`paper_cnn`, `dilated_cnn`, `mnist_rows`, ...) as layer expressions |
| `train.py` | `Trainer`, `evaluate`, checkpoints |
| `report.py` | `write_report`: metrics, history and the pictures of a finished run |
| `cli.py` | `tinygrad1d train / evaluate / graph` |
"""
