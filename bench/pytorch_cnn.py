"""experiments/cnn.yaml and experiments/lenet5.yaml in PyTorch, timed per epoch like `runner`
(bench/run-cnn): the same IDX files, 54,000 training images in shuffled batches and a validation
pass over the other 6,000 (Keras's validation_split=0.1 holds out the last tenth), both inside
each epoch's time, as the runner's report counts an epoch.

  cnn:    Conv2d(1, 32, 3) ReLU MaxPool(2) Conv2d(32, 64, 3) ReLU MaxPool(2) Flatten Dropout(0.5)
          Linear(1600, 10); batch 128 (keras.io's mnist_convnet, 34,826 parameters)
  lenet5: Conv2d(1, 6, 5, padding=2) ReLU MaxPool(2) Conv2d(6, 16, 5) ReLU MaxPool(2) Flatten
          Linear(400, 120) ReLU Linear(120, 84) ReLU Linear(84, 10); batch 64 (61,706 parameters)

Adam (lr 1e-3, eps 1e-7), cross-entropy on logits (what Keras's softmax +
categorical_crossentropy computes). PyTorch's default NCHW layout, as a PyTorch user writes it.

  python bench/pytorch_cnn.py DATA_DIR cnn|lenet5 THREADS EPOCHS
"""
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

from pytorch_mlp import idx     # the IDX reader (this folder is on the path when run as a script)


def model_and_batch(name):
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10)), 128
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10)), 64
    raise SystemExit(f"unknown model {name}: cnn or lenet5")


def main():
    root, name, threads, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    images = idx(f"{root}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    labels = idx(f"{root}/train-labels-idx1-ubyte.gz").astype(np.int64)
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels)
    x, y, xv, yv = x[:54000], y[:54000], x[54000:], y[54000:]
    xt = torch.from_numpy(idx(f"{root}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    yt = torch.from_numpy(idx(f"{root}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model, batch_size = model_and_batch(name)
    parameters = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(xv[i:i + 1000]).argmax(1) == yv[i:i + 1000]).sum().item()
                          for i in range(0, len(xv), 1000))
        times.append(time.perf_counter() - start)
        print(f"pytorch {name} epoch {epoch + 1}: {times[-1]:.3f} s, val_accuracy {correct / len(xv):.4f}",
              flush=True)
    with torch.no_grad():
        accuracy = sum((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
                       for i in range(0, len(xt), 1000)) / len(xt)
    print(f"pytorch {torch.__version__} {name} ({parameters:,} parameters), {threads} threads: "
          f"median {statistics.median(times):.3f} s/epoch, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
