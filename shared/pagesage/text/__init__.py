"""Unicode text rules: token clean-up, search normalization and CER/WER scoring."""
