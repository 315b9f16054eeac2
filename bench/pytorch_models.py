"""Any experiment file's model in PyTorch, timed per epoch like `runner` (bench/run): the same IDX
files, the same split (validation_split holds out the last fraction of the training images, as
Keras does), batch size and optimizer, shuffled batches, and the validation pass inside each
epoch's time, as the runner's report counts an epoch. Augmentation (preprocess.augment) is a random
affine warp of each batch (affine_grid + grid_sample, the fast way in plain PyTorch).

The model is built from the file's layers, as a PyTorch user writes it: NCHW, cross-entropy on
logits (what Keras's softmax + categorical_crossentropy computes), "same" padding as TensorFlow's
(the extra row and column at the bottom and right). Layers: dense, conv2d, max_pooling2d,
average_pooling2d, global_average_pooling2d, batch_normalization, activation, dropout, flatten,
reshape.

  python bench/pytorch_models.py EXPERIMENT.yaml DATA_DIR THREADS EPOCHS

Needs torch and PyYAML. Prints one line per epoch and the median seconds per epoch.
"""
import gzip
import math
import statistics
import sys
import time

import numpy as np
import torch
import yaml
from torch import nn
import torch.nn.functional as F



def idx(path):
    """An IDX file (gzipped) as a NumPy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def same_padding(size, kernel, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def activation(name, last):
    if name in (None, "linear") or (name == "softmax" and last):
        return []           # the final softmax is the loss's (logits in, as CrossEntropyLoss takes)
    if name == "softmax":
        return [nn.Softmax(dim=1)]
    return [ACTIVATIONS[name]()]


def build(layers, input_shape):
    """nn.Sequential for the file's layers; shapes are (C, H, W) or (features,)."""
    shape = (input_shape[2], input_shape[0], input_shape[1]) if len(input_shape) == 3 else tuple(input_shape)
    modules = []
    for i, layer in enumerate(layers):
        kind, last = layer["type"], i == len(layers) - 1
        if kind == "flatten":
            modules.append(nn.Flatten())
            shape = (math.prod(shape),)
        elif kind == "dense":
            modules.append(nn.Linear(shape[0], layer["units"], bias=layer.get("use_bias", True)))
            modules += activation(layer.get("activation"), last)
            shape = (layer["units"],)
        elif kind == "dropout":
            modules.append(nn.Dropout(layer["rate"]))
        elif kind == "activation":
            modules += activation(layer["activation"], last)
        elif kind == "conv2d":
            (kh, kw), (sh, sw) = pair(layer["kernel_size"]), pair(layer.get("strides", 1))
            c, h, w = shape
            if layer.get("padding", "valid") == "same":
                oh, top, bottom = same_padding(h, kh, sh)
                ow, left, right = same_padding(w, kw, sw)
                if top or bottom or left or right:
                    modules.append(nn.ZeroPad2d((left, right, top, bottom)))
            else:
                oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
            modules.append(nn.Conv2d(c, layer["filters"], (kh, kw), (sh, sw), bias=layer.get("use_bias", True)))
            modules += activation(layer.get("activation"), last)
            shape = (layer["filters"], oh, ow)
        elif kind in ("max_pooling2d", "average_pooling2d"):
            size = pair(layer.get("pool_size", 2))
            stride = pair(layer.get("strides") or size)
            c, h, w = shape
            if layer.get("padding", "valid") == "same":
                oh, top, bottom = same_padding(h, size[0], stride[0])
                ow, left, right = same_padding(w, size[1], stride[1])
                fill = -math.inf if kind == "max_pooling2d" else 0.0
                modules.append(nn.ConstantPad2d((left, right, top, bottom), fill))
            else:
                oh, ow = (h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1
            modules.append((nn.MaxPool2d if kind == "max_pooling2d" else nn.AvgPool2d)(size, stride))
            shape = (c, oh, ow)
        elif kind == "global_average_pooling2d":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            shape = (shape[0],)
        elif kind == "batch_normalization":
            norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            modules.append(norm(shape[0], eps=layer.get("epsilon", 1e-3), momentum=1 - layer.get("momentum", 0.99)))
        elif kind == "reshape":
            target = tuple(layer["target_shape"])
            target = (target[2], target[0], target[1]) if len(target) == 3 else target
            modules.append(nn.Unflatten(1, target))
            shape = target
        else:
            raise SystemExit(f"layer type {kind} has no PyTorch twin here")
    return nn.Sequential(*modules)


def optimizer(spec, parameters):
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind, lr = spec.pop("type"), spec.get("learning_rate")
    if kind in ("adam", "adamw", "adamax", "nadam"):
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax,
               "nadam": torch.optim.NAdam}[kind]
        return cls(parameters, lr=lr or 1e-3, betas=(spec.get("beta_1", 0.9), spec.get("beta_2", 0.999)),
                   eps=spec.get("epsilon", 1e-7))
    if kind == "sgd":
        return torch.optim.SGD(parameters, lr=lr or 0.01, momentum=spec.get("momentum", 0.0),
                               nesterov=spec.get("nesterov", False))
    if kind == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr or 1e-3, alpha=spec.get("rho", 0.9), eps=spec.get("epsilon", 1e-7),
                                   momentum=spec.get("momentum", 0.0))
    if kind == "adadelta":
        return torch.optim.Adadelta(parameters, lr=lr or 1e-3, rho=spec.get("rho", 0.95), eps=spec.get("epsilon", 1e-7))
    if kind == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr or 1e-3, eps=spec.get("epsilon", 1e-7))
    raise SystemExit(f"optimizer {kind} has no PyTorch twin here")


def augment(x, shift, rotation, zoom):
    """Each image of the batch warped by a random shift, rotation and zoom (bilinear, zero fill)."""
    n = x.shape[0]
    angle = (torch.rand(n) * 2 - 1) * math.radians(rotation)
    scale = 1 + (torch.rand(n) * 2 - 1) * zoom
    tx, ty = (torch.rand(n) * 2 - 1) * 2 * shift, (torch.rand(n) * 2 - 1) * 2 * shift
    theta = torch.stack([torch.stack([angle.cos() * scale, -angle.sin() * scale, tx], 1),
                         torch.stack([angle.sin() * scale, angle.cos() * scale, ty], 1)], 1)
    return F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False)


def main():
    path, root, threads, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    spec = yaml.safe_load(open(path))
    torch.set_num_threads(threads)
    torch.manual_seed(spec.get("seed", 42))
    model_spec, train = spec["model"], spec.get("train", {})
    preprocess = spec.get("preprocess", {})
    input_shape = model_spec["input_shape"]
    scale = preprocess.get("scale", 255)
    images = idx(f"{root}/train-images-idx3-ubyte.gz").astype(np.float32) / scale
    labels = idx(f"{root}/train-labels-idx1-ubyte.gz").astype(np.int64)
    x = torch.from_numpy(images)
    if len(input_shape) == 3:
        x = x.unsqueeze(1)
    y = torch.from_numpy(labels)
    held = int(len(x) * train.get("validation_split", 0.0))
    x, y, xv, yv = x[:len(x) - held], y[:len(y) - held], x[len(x) - held:], y[len(y) - held:]
    model = build(model_spec["layers"], input_shape)
    parameters = sum(p.numel() for p in model.parameters())
    opt = optimizer(spec.get("compile", {}).get("optimizer", "adam"), model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    batch_size = train.get("batch_size", 32)
    warp = preprocess.get("augment")
    times = []
    for epoch in range(epochs):
        start, cpu = time.perf_counter(), time.process_time()
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            inputs = x[batch]
            if warp:
                inputs = augment(inputs, warp.get("shift", 0), warp.get("rotation", 0), warp.get("zoom", 0))
            opt.zero_grad()
            loss = loss_fn(model(inputs), y[batch])
            loss.backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xv), 1000):
                correct += (model(xv[i:i + 1000]).argmax(1) == yv[i:i + 1000]).sum().item()
        times.append(time.perf_counter() - start)
        accuracy = f", val_accuracy {correct / len(xv):.4f}" if len(xv) else ""
        print(f"pytorch {spec['name']} epoch {epoch + 1}: {times[-1]:.3f} s (CPU {time.process_time() - cpu:.3f} s)"
              f"{accuracy}", flush=True)
    print(f"pytorch {torch.__version__} {spec['name']} ({parameters:,} parameters), {threads} threads: "
          f"median {statistics.median(times):.3f} s/epoch")


if __name__ == "__main__":
    main()
