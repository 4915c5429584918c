"""Device check: what new input shapes cost on the GPU inside a learner-like sequence, and what pre-warming the
planned shapes in the (uncharged) constructor saves. Usage: python .gpu/shapes.py MODE  (plain | prewarm)."""
import json, logging, os, sys, time
import numpy as np, torch
from learner.backbones import build_backbone
from learner.config import LearnerConfig
from learner.network import Classifier
from learner.runner import INFER_BATCH, NetRunner
from learner.training import StepTrainer

mode = sys.argv[1]
log = logging.getLogger("shapes"); log.addHandler(logging.NullHandler()); log.propagate = False
rng = np.random.default_rng(0)
BACKBONE, BATCH, SIDES, STORED = "efficientnet_lite1", 64, (64, 96, 128), 128
rows = []
def sync():
    torch.cuda.synchronize()
def timed(label, work):
    sync(); start = time.monotonic(); work(); sync(); seconds = time.monotonic() - start
    rows.append({"mode": mode, "what": label, "seconds": round(seconds, 4)}); print(f"{mode:8} {label:40} {seconds:8.3f}", flush=True)
t0 = time.monotonic()
cfg = LearnerConfig(backbone=BACKBONE, batch_size=BATCH)
net = Classifier(build_backbone(BACKBONE), 10, cfg.dropout, cfg.freeze_fraction, cfg.adapt_batchnorm)
runner = NetRunner(net, 1, log)
if mode == "fixed":  # the learner's own warm-up (learner.runner): the run's shapes at every side of the ladder
    timed("constructor warm_up (fixed)", lambda: runner.warm_up(STORED, SIDES[0], BATCH, later_sides=SIDES[1:]))
else:
    timed("constructor warm_up (as now)", lambda: runner.warm_up(STORED, SIDES[0]))
def train_step_at(side, batch):
    x = torch.zeros(batch, 1, STORED, STORED, 3, dtype=torch.uint8, device=runner.device)
    net.train()
    with runner.autocast():
        net(net.images(x, side), 1).float().sum().backward()
    net.zero_grad(set_to_none=True); net.eval()
def infer_at(side, batch):
    x = torch.zeros(batch, 1, STORED, STORED, 3, dtype=torch.uint8, device=runner.device)
    runner._logits(x, side)
if mode == "prewarm":
    def prewarm():
        for side in SIDES:
            train_step_at(side, BATCH); infer_at(side, INFER_BATCH)
    timed("prewarm all planned shapes", prewarm)
examples = rng.integers(0, 256, (500, 1, STORED, STORED, 3), dtype=np.uint8)
labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 500)]
timed("features 300 @64 (1st)", lambda: runner.features(examples[:300], 64))
timed("features 300 @64 (2nd)", lambda: runner.features(examples[:300], 64))
for side in SIDES:
    trainer = StepTrainer(net, runner, cfg, 1, log)
    trainer.set_data(examples[:256], labels[:256], side, multilabel=False)
    for i in range(3):
        timed(f"train step b{BATCH} @{side} ({i + 1})",
              lambda: trainer.train_until(0.0, np.inf, side, lambda: 0.0))
    timed(f"predict 500 @{side} (1st)", lambda: runner.predict(examples, side))
    timed(f"predict 500 @{side} (2nd)", lambda: runner.predict(examples, side))
for batch in (100, 101, 173):
    if mode == "fixed":
        timed(f"predict {batch} @128 (padded)", lambda: runner.predict(examples[:batch], 128))
    else:
        timed(f"infer batch {batch} @128 (new remainder)", lambda: infer_at(128, batch))
timed("infer batch 256 @80 (new side)", lambda: infer_at(80, 256))
rows.append({"mode": mode, "what": "process total", "seconds": round(time.monotonic() - t0, 2),
             "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
             "module_loading": os.environ.get("CUDA_MODULE_LOADING", "")})
out = os.environ.get("OUT", ".")
with open(f"{out}/shapes_{mode}_{os.environ.get('CUDA_MODULE_LOADING', 'default')}.json", "w") as handle:
    json.dump(rows, handle, indent=1)
