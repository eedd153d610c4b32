"""Hand-written PyTorch training loop for the two digits workloads."""

import sys

import torch
from _common import EPOCHS, Clock, digits, report
from torch import nn

torch.set_num_threads(int(sys.argv[1]))
x_tr, y_tr, x_te, y_te = digits()


def model_for(name):
    if name == "mlp-digits":
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                             nn.Linear(64, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))


results = {}
for name, batch in (("mlp-digits", 32), ("cnn-digits", 128)):
    torch.manual_seed(0)
    shape = (-1, 64) if name == "mlp-digits" else (-1, 1, 8, 8)
    x, y = torch.tensor(x_tr).reshape(shape), torch.tensor(y_tr)
    model = model_for(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    clock = Clock()
    for epoch in range(EPOCHS):
        clock.start()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        clock.stop()
    with torch.no_grad():
        acc = (model(torch.tensor(x_te).reshape(shape)).argmax(1).numpy() == y_te).mean()
    results[name] = (clock.times, len(x), acc)
report(results)
