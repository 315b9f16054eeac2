"""The seed MLP in PyTorch, timed per epoch on the same IDX files as `runner` (bench/run).

Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10), Adam(lr=1e-3, eps=1e-7), cross-entropy
on logits (what Keras's softmax + categorical_crossentropy computes), batch 32, shuffled, 60,000
training images. Prints one line per epoch and the median seconds per epoch.
"""
import gzip
import statistics
import sys
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    root, threads, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    x = torch.from_numpy(idx(f"{root}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    y = torch.from_numpy(idx(f"{root}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(idx(f"{root}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    yt = torch.from_numpy(idx(f"{root}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 32):
            batch = order[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
        print(f"pytorch epoch {epoch + 1}: {times[-1]:.3f} s", flush=True)
    with torch.no_grad():
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    print(f"pytorch {torch.__version__}, {threads} threads: median {statistics.median(times):.3f} s/epoch, "
          f"test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
