"""The CIFAR networks of the log and the follow-up work: the common CIFAR ResNet18 and
WideResNet-d-k, and a tiny ConvNet for the FLOP tables (the log's experiments, E12 to E23, are
described in docs/experiments.md). Both map images ``(B, 3, 32, 32)`` to logits ``(B, classes)``; with
``attention=True`` they return ``(logits, [output of each group])`` for attention transfer.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """ResNet's two 3×3 convolutions with BatchNorm, and a 1×1 projection shortcut when the shape
    changes (the convolution the log's E12 replaced)."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR ResNet18: a 3×3 stem of 64 channels, four groups of two basic blocks (64, 128,
    256, 512 channels; the last three start with stride 2), global average pooling, Linear."""

    def __init__(self, classes: int = 10, attention: bool = False):
        super().__init__()
        self.attention = attention
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        widths, groups, planes = (64, 128, 256, 512), [], 64
        for i, width in enumerate(widths):
            groups.append(nn.Sequential(BasicBlock(planes, width, 1 if i == 0 else 2),
                                        BasicBlock(width, width, 1)))
            planes = width
        self.groups = nn.ModuleList(groups)
        self.classifier = nn.Linear(512, classes)

    def forward(self, x):
        return _run(self, self.stem(x), lambda h: h)


class WideBlock(nn.Module):
    """WideResNet's pre-activation block: BN-ReLU-conv3×3, BN-ReLU-(dropout)-conv3×3, and a 1×1
    shortcut convolution when the shape changes."""

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = (nn.Conv2d(in_planes, planes, 1, stride, bias=False)
                         if stride != 1 or in_planes != planes else None)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        y = self.conv1(o)
        y = self.conv2(self.dropout(F.relu(self.bn2(y))))
        return y + (self.shortcut(o) if self.shortcut is not None else x)


class WideResNet(nn.Module):
    """WRN-``depth``-``widen``: a 3×3 stem of 16 channels, three groups of (depth − 4) / 6 blocks
    of 16k, 32k, 64k channels (strides 1, 2, 2), BN-ReLU, global average pooling, Linear.
    WRN-40-2 and WRN-28-10 are the log's and the follow-up's."""

    def __init__(self, depth: int = 40, widen: int = 2, classes: int = 10, dropout: float = 0.0,
                 attention: bool = False):
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WideResNet depth must be 6n + 4 with n >= 1, got {depth}")
        n, self.attention = (depth - 4) // 6, attention
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        widths, groups, planes = (16 * widen, 32 * widen, 64 * widen), [], 16
        for i, width in enumerate(widths):
            groups.append(nn.Sequential(*(WideBlock(planes if j == 0 else width, width,
                                                    (1 if i == 0 else 2) if j == 0 else 1, dropout)
                                          for j in range(n))))
            planes = width
        self.groups = nn.ModuleList(groups)
        self.head = nn.Sequential(nn.BatchNorm2d(planes), nn.ReLU())
        self.classifier = nn.Linear(planes, classes)

    def forward(self, x):
        return _run(self, self.stem(x), self.head)


class TinyConvNet(nn.Sequential):
    """Three 3×3 convolutions (32, 64, 128 channels) with BatchNorm, ReLU and 2×2 max-pooling,
    global average pooling, Linear(128, 10): 94,762 parameters. The log's "Tiny ConvNet" (89,674
    parameters) is not described anywhere; this one stands in for it in the FLOP tables."""

    def __init__(self, classes: int = 10):
        layers, planes = [], 3
        for width in (32, 64, 128):
            layers += [nn.Conv2d(planes, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(), nn.MaxPool2d(2)]
            planes = width
        super().__init__(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def _run(model, h, head):
    """Groups, then head, pooling and classifier; the group outputs too when asked."""
    maps = []
    for group in model.groups:
        h = group(h)
        maps.append(h)
    logits = model.classifier(F.adaptive_avg_pool2d(head(h), 1).flatten(1))
    return (logits, maps) if model.attention else logits
