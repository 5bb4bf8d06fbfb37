"""The dataset splits every `--split` option accepts (kept apart so the CLI starts without numpy).

train / val / test: known environments (val and test hold unseen subjects); test-unseen: unseen
subjects in environments, textures and lighting never used in training (the in-field case).
"""

SPLITS = ("train", "val", "test", "test-unseen")
