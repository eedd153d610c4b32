"""Hand-written PyTorch training loop for the digits workloads (MLP, CNN, attention)."""

import sys

import torch
from _common import EPOCHS, Clock, digits, report
from torch import nn

torch.set_num_threads(int(sys.argv[1]))
x_tr, y_tr, x_te, y_te = digits()


class RowTransformer(nn.Module):
    """8 pixel-row tokens -> dense 64 + learned positions -> 2 post-norm encoder layers."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 64)
        self.pos = nn.Parameter(torch.zeros(1, 8, 64))
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(
            64, 4, dim_feedforward=128, dropout=0.0, activation="gelu", batch_first=True)
            for _ in range(2))
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        h = self.embed(x) + self.pos
        for layer in self.layers:
            h = layer(h)
        return self.head(h.mean(dim=1))


def model_for(name):
    if name == "attn-digits":
        return RowTransformer()
    if name == "mlp-digits":
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                             nn.Linear(64, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))


results = {}
SHAPES = {"mlp-digits": (-1, 64), "cnn-digits": (-1, 1, 8, 8), "attn-digits": (-1, 8, 8)}
for name, batch in (("mlp-digits", 32), ("cnn-digits", 128), ("attn-digits", 64)):
    torch.manual_seed(0)
    shape = SHAPES[name]
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
