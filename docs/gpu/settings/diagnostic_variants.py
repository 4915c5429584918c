"""Which cuDNN/torch setting removes the per-shape set-up cost? python .gpu/variants.py VARIANT"""
import json, logging, os, sys, time
import numpy as np, torch
from learner.backbones import build_backbone
from learner.config import LearnerConfig
from learner.network import Classifier
from learner.runner import NetRunner
from learner.training import StepTrainer
variant = sys.argv[1]
if variant == "deterministic":
    torch.backends.cudnn.deterministic = True
log = logging.getLogger("v"); log.addHandler(logging.NullHandler()); log.propagate = False
cfg = LearnerConfig(backbone="efficientnet_lite1", batch_size=64)
net = Classifier(build_backbone("efficientnet_lite1"), 10, cfg.dropout, cfg.freeze_fraction, cfg.adapt_batchnorm)
runner = NetRunner(net, 1, log)
if variant == "fp32":
    runner.amp = False
if variant == "contiguous":
    net.to(memory_format=torch.contiguous_format)
runner.warm_up(128, 64)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (300, 1, 128, 128, 3), dtype=np.uint8); y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 300)]
out = []
def timed(what, work):
    torch.cuda.synchronize(); s = time.monotonic(); work(); torch.cuda.synchronize(); t = time.monotonic() - s
    out.append((what, round(t, 4))); print(f"{variant:14} {what:28} {t:7.3f}", flush=True)
for side in (96, 112):
    tr = StepTrainer(net, runner, cfg, 1, log); tr.set_data(x[:256], y[:256], side, False)
    for i in range(3):
        timed(f"step b64 @{side} ({i+1})", lambda: tr.train_until(0.0, np.inf, side, lambda: 0.0))
    for i in range(2):
        timed(f"predict 256 @{side} ({i+1})", lambda: runner.predict(x[:256], side))
json.dump(out, open(f"{os.environ.get('OUT', '.')}/variant_{variant}.json", "w"))
