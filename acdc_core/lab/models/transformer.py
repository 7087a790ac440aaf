"""A small decoder-only character-level transformer whose feed-forward layers (and optionally
attention projections) are dense, ACDC, Monarch, low-rank or butterfly maps; its parameter and
multiply-add counts; the knob of each structure that meets a budget; and the recipes of the
transformer study.

The model is nanoGPT's shape: token and learned position embeddings, pre-LayerNorm blocks of
causal multi-head self-attention and a feed-forward ``width → hidden → width`` with GELU, a final
LayerNorm and a linear head. Every layer keeps its own initialisation, except the embeddings,
drawn from N(0, 0.02²) as nanoGPT's.

Structures (:data:`STRUCTURES`) and their knob:
- ``"dense"``: ``nn.Linear``; knob the feed-forward's hidden width (default 4 × width).
- ``"acdc"``: :class:`~acdc_core.StackedACDC` of ``knob`` layers, linear (no ReLU, no
  BatchNorm), ``form="auto"`` (the cost rule of :mod:`acdc_core.forms` picks the cheaper of the
  FFT and collapsed forms each call), widening by repeating the input's features and narrowing by
  summing groups of the output (``grow="repeat"``, ``shrink="sum"``).
- ``"monarch"``: :class:`~acdc_core.structured.Monarch` with ``knob`` blocks; ``"lowrank"``:
  :class:`~acdc_core.structured.LowRank` of rank ``knob``; ``"butterfly"``: a product of ``knob``
  :class:`~acdc_core.structured.Butterfly` matrices. These are square: between widths they run at the larger
  width inside :class:`Widened`, which repeats and sums as the ACDC stack does.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ...base import StructuredLinear, parameter_count
from ...checks import check_choice, check_positive_int
from ...costs import layer_costs
from ...stack import StackedACDC, grow, shrink
from ...structured import Butterfly, Cascade, LowRank, Monarch

STRUCTURES = ("dense", "acdc", "monarch", "lowrank", "butterfly")


@dataclass(frozen=True)
class TransformerConfig:
    """The model's sizes and structures (defaults: nanoGPT's CPU example).

    ``feed_forward`` and ``knob``: the feed-forward layers' structure and its knob (None: the
    structure's default, :func:`default_knob`); ``attention`` and ``attention_knob``: the same for
    the query, key, value and output projections. ``vocabulary``: characters of the text."""
    vocabulary: int
    context: int = 64
    layers: int = 4
    heads: int = 4
    width: int = 128
    feed_forward: str = "dense"
    knob: int | None = None
    attention: str = "dense"
    attention_knob: int | None = None
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocabulary", "context", "layers", "heads", "width"):
            check_positive_int(name, getattr(self, name))
        check_choice("feed_forward", self.feed_forward, STRUCTURES)
        check_choice("attention", self.attention, STRUCTURES)
        if self.width % self.heads:
            raise ValueError(f"width={self.width} must be a multiple of heads={self.heads}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def hidden(self) -> int:
        """The feed-forward's hidden width: the dense knob, else 4 × width."""
        return (self.knob or 4 * self.width) if self.feed_forward == "dense" else 4 * self.width


def default_knob(structure: str, in_features: int, out_features: int) -> int:
    """A structure's knob when none is given: 2 ACDC layers, ≈√N Monarch blocks (a power of two),
    rank N/8, one butterfly (N = the larger width)."""
    n = max(in_features, out_features)
    return {"dense": 4 * n, "acdc": 2, "monarch": 2 ** (n.bit_length() // 2), "lowrank": max(n // 8, 1),
            "butterfly": 1}[structure]


class Widened(StructuredLinear):
    """A square ``layer`` of width ``max(in_features, out_features)`` between ``in_features`` and
    ``out_features``: the input's features repeated up to its width, consecutive groups of
    ``out_features`` of its output summed (as :class:`~acdc_core.StackedACDC`'s
    ``grow="repeat"``, ``shrink="sum"``). The bias is the layer's own.

    Shape: ``(*, in_features) -> (*, out_features)``."""

    def __init__(self, layer: nn.Module, in_features: int, out_features: int):
        width = max(in_features, out_features)
        if (layer.in_features, layer.out_features) != (width, width):
            raise ValueError(f"layer must map {width} features to {width}, got "
                             f"{layer.in_features} to {layer.out_features}")
        if width % min(in_features, out_features):
            raise ValueError(f"the larger width {width} must be a multiple of the smaller "
                             f"{min(in_features, out_features)} to repeat or sum by it")
        super().__init__(in_features, out_features, bias=False)
        self.layer = layer

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        y = self.layer(grow(rows, self.layer.in_features, "repeat", None))
        return shrink(y, self.out_features, "sum", None).reshape(*x.shape[:-1], self.out_features)


def linear(structure: str, in_features: int, out_features: int, knob: int | None = None) -> nn.Module:
    """A map ``(*, in_features) -> (*, out_features)`` of ``structure`` with its ``knob``."""
    check_choice("structure", structure, STRUCTURES)
    knob = knob or default_knob(structure, in_features, out_features)
    check_positive_int("knob", knob)
    if structure == "dense":
        return nn.Linear(in_features, out_features)
    if structure == "acdc":
        return StackedACDC(in_features, out_features, knob, grow="repeat", shrink="sum", form="auto")
    width = max(in_features, out_features)
    if structure == "monarch":
        square = Monarch(width, knob)
    elif structure == "lowrank":
        square = LowRank(width, knob)
    else:
        factors = [Butterfly(width) for _ in range(knob)]
        square = factors[0] if knob == 1 else Cascade(factors, shuffle="none")
    return square if in_features == out_features else Widened(square, in_features, out_features)


class FeedForward(nn.Module):
    """``down(GELU(up(x)))``: ``width → hidden → width`` in the config's feed-forward structure."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        structure, knob, hidden = config.feed_forward, config.knob, config.hidden
        self.up = linear(structure, config.width, hidden, None if structure == "dense" else knob)
        self.down = linear(structure, hidden, config.width, None if structure == "dense" else knob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class SelfAttention(nn.Module):
    """Causal multi-head self-attention, its four projections in the config's attention structure."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        make = lambda: linear(config.attention, config.width, config.width, config.attention_knob)  # noqa: E731
        self.query, self.key, self.value, self.out = make(), make(), make(), make()
        self.heads, self.dropout = config.heads, config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        split = lambda y: y.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                           dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    """``x + attention(LN(x))``, then ``x + feed_forward(LN(x))`` (pre-LayerNorm)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(config.width), SelfAttention(config)
        self.norm2, self.ff = nn.LayerNorm(config.width), FeedForward(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attention(self.norm1(x)))
        return x + self.drop(self.ff(self.norm2(x)))


class CharTransformer(nn.Module):
    """A decoder-only character-level transformer: tokens ``(B, T)`` int64, T <= context, to
    next-character logits ``(B·T, vocabulary)`` (flattened, for cross-entropy with flattened
    targets)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.tokens = nn.Embedding(config.vocabulary, config.width)
        self.positions = nn.Embedding(config.context, config.width)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.vocabulary)
        for embedding in (self.tokens, self.positions):
            nn.init.normal_(embedding.weight, 0.0, 0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 2 or tokens.dtype != torch.int64 or tokens.shape[1] > self.config.context:
            raise ValueError(f"expected int64 tokens (B, T) with T <= context={self.config.context}, "
                             f"got {tokens.dtype} of shape {tuple(tokens.shape)}")
        x = self.drop(self.tokens(tokens) + self.positions(torch.arange(tokens.shape[1], device=tokens.device)))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)).flatten(0, 1)


# ------------------------------------------------------------------------------------- counts
def counts(config: TransformerConfig) -> dict:
    """Parameters and multiply-adds (MA) per token of the model, and of its feed-forward layers
    (all blocks), for a full context window.

    The linear maps are counted by :func:`acdc_core.costs.layer_costs` in the structures' own
    forms (an ACDC stack in its FFT form, whatever form the cost rule trains it in). The whole
    model adds attention's two products per token and layer, ``2 · context · width`` (scores and
    mixing over the full window, as ``FlopCounterMode`` counts a causal attention); embeddings,
    LayerNorm, GELU, biases and the width adapters' repeats and sums are not counted (as there)."""
    model = CharTransformer(config)
    rows = layer_costs(model, torch.zeros(1, config.context, dtype=torch.int64), form="fft")
    per_token = lambda selected: sum(r.mult_adds for r in selected) / config.context  # noqa: E731
    ff = [r for r in rows if ".ff." in r.name]
    attention = config.layers * 2 * config.context * config.width
    return {"parameters": parameter_count(model),
            "feed_forward_parameters": sum(parameter_count(b.ff) for b in model.blocks),
            "mult_adds": per_token(rows) + attention, "feed_forward_mult_adds": per_token(ff)}


def feed_forward_counts(width: int, structure: str, knob: int | None) -> tuple[int, float]:
    """(parameters, MA per token) of one block's feed-forward of ``structure`` at ``width``."""
    config = TransformerConfig(vocabulary=1, context=1, layers=1, heads=1, width=width,
                               feed_forward=structure, knob=knob)
    ff = FeedForward(config)
    rows = layer_costs(ff, torch.zeros(1, width), form="fft")
    return parameter_count(ff), sum(r.mult_adds for r in rows)


def knob_range(structure: str, width: int) -> list[int]:
    """The knobs tried when matching a budget: dense hidden widths 1..4·width; ACDC layers 1..64;
    Monarch blocks dividing 4·width; ranks 1..4·width; butterfly factors 1..32."""
    n = 4 * width
    return {"dense": list(range(1, n + 1)), "acdc": list(range(1, 65)),
            "monarch": [b for b in range(1, n + 1) if n % b == 0], "lowrank": list(range(1, n + 1)),
            "butterfly": list(range(1, 33))}[structure]


def matched_knob(structure: str, width: int, target: float, by: str = "parameters") -> int:
    """The knob whose feed-forward comes closest to ``target`` parameters (``by="parameters"``) or
    MA per token (``by="mult_adds"``); the smaller knob on a tie. Counts grow with the knob for
    every structure but Monarch (b and N/b give the same), so the others are bisected."""
    check_choice("by", by, ("parameters", "mult_adds"))
    which = 0 if by == "parameters" else 1
    knobs = knob_range(structure, width)
    count = lambda k: feed_forward_counts(width, structure, k)[which]  # noqa: E731
    if structure == "monarch":
        candidates = knobs[: (len(knobs) + 1) // 2]  # b <= N/b
    else:
        low, high = 0, len(knobs) - 1  # the first knob whose count reaches the target
        while low < high:
            middle = (low + high) // 2
            low, high = (middle + 1, high) if count(knobs[middle]) < target else (low, middle)
        candidates = knobs[max(low - 1, 0): low + 1]
    return min(candidates, key=lambda k: (abs(count(k) - target), k))


def _matched(base: TransformerConfig, budget: float, by: str) -> dict[str, TransformerConfig]:
    configs = {"dense": replace(base, feed_forward="dense", knob=None)}
    for name, structure in (("acdc", "acdc"), ("monarch", "monarch"), ("lowrank", "lowrank"),
                            ("butterfly", "butterfly"), ("narrow dense", "dense")):
        configs[name] = replace(base, feed_forward=structure,
                                knob=matched_knob(structure, base.width, budget, by))
    return configs


def at_equal_parameters(base: TransformerConfig, budget: int) -> dict[str, TransformerConfig]:
    """The comparison at ``budget`` feed-forward parameters per block: the dense reference at
    ``base``'s width (4 × width hidden), and ACDC, Monarch, low rank, butterfly and a narrower
    dense feed-forward, each with the knob that comes closest to the budget."""
    return _matched(base, budget, "parameters")


def at_equal_multiply_adds(base: TransformerConfig, budget: float) -> dict[str, TransformerConfig]:
    """As :func:`at_equal_parameters`, matched at ``budget`` feed-forward MA per token per block."""
    return _matched(base, budget, "mult_adds")


def comparison_budget(width: int) -> tuple[int, float]:
    """(parameters, MA per token) of one feed-forward block of the smallest Monarch at ``width``
    (≈√(4·width) blocks): the budget of the transformer study, the least any Monarch can meet."""
    n = 4 * width
    blocks = min((b for b in knob_range("monarch", width)), key=lambda b: (b + n // b, b))
    return feed_forward_counts(width, "monarch", blocks)


# ------------------------------------------------------------------------------------ recipes
@dataclass(frozen=True)
class TextRecipe:
    """One run of the transformer study: the model (structure, knob and sizes), what it was
    matched on (``"reference"``, ``"parameters"`` or ``"mult_adds"``), the training (AdamW at
    ``lr`` with ``weight_decay`` on every parameter of two or more dimensions, ``warmup`` steps
    of linear warmup then a cosine to lr/10, ``batch_size`` windows of ``context`` characters,
    ``epochs`` of ``steps`` batches, checkpointed every ``checkpoint_every`` batches) and the
    ``windows`` validation windows scored after every epoch."""
    structure: str
    knob: int | None
    matched: str
    profile: str
    width: int = 128
    layers: int = 4
    heads: int = 4
    context: int = 64
    batch_size: int = 12
    steps: int = 250
    epochs: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 100
    windows: int = 256
    checkpoint_every: int = 50

    def config(self, vocabulary: int) -> TransformerConfig:
        return TransformerConfig(vocabulary, self.context, self.layers, self.heads, self.width,
                                 self.structure, self.knob)

    def as_dict(self) -> dict:
        return asdict(self)


def _quick(structure: str, knob: int | None, matched: str) -> TextRecipe:
    return TextRecipe(structure, knob, matched, "quick", width=32, layers=2, heads=2, context=32,
                      batch_size=8, steps=100, epochs=5, warmup=50, windows=32, checkpoint_every=10)


def _cpu(structure: str, knob: int | None, matched: str) -> TextRecipe:
    return TextRecipe(structure, knob, matched, "cpu")


def _full(structure: str, knob: int | None, matched: str) -> TextRecipe:
    """nanoGPT's shakespeare-char depth, heads of 64 and context, at width 512 (a power of two,
    which the butterfly needs), for a GPU."""
    return TextRecipe(structure, knob, matched, "full", width=512, layers=6, heads=8, context=256,
                      batch_size=64, steps=500, epochs=10, warmup=200, windows=512, checkpoint_every=250)


# Knobs from at_equal_parameters / at_equal_multiply_adds at the budget of comparison_budget
# (tests/test_transformer.py checks they still are): width 128 (hidden 512) for cpu, 32 for quick,
# 512 (hidden 2048) for full.
RECIPES = {
    "quick_dense": _quick("dense", None, "reference"),
    "quick_acdc": _quick("acdc", 1, "mult_adds"),
    "quick_monarch": _quick("monarch", 8, "parameters"),
    "quick_lowrank": _quick("lowrank", 12, "parameters"),
    "dense": _cpu("dense", None, "reference"),
    "acdc_params": _cpu("acdc", 16, "parameters"),
    "acdc_mult_adds": _cpu("acdc", 1, "mult_adds"),
    "monarch": _cpu("monarch", 16, "parameters"),
    "lowrank": _cpu("lowrank", 24, "parameters"),
    "butterfly": _cpu("butterfly", 3, "parameters"),
    "narrow_dense": _cpu("dense", 195, "parameters"),
    "full_dense": _full("dense", None, "reference"),
    "full_acdc_params": _full("acdc", 32, "parameters"),
    "full_acdc_mult_adds": _full("acdc", 2, "mult_adds"),
    "full_monarch": _full("monarch", 32, "parameters"),
    "full_lowrank": _full("lowrank", 48, "parameters"),
    "full_butterfly": _full("butterfly", 4, "parameters"),
    "full_narrow_dense": _full("dense", 387, "parameters"),
}


def build(name: str, vocabulary: int) -> CharTransformer:
    """Recipe ``name``'s model for a text of ``vocabulary`` characters (draws from torch's RNG)."""
    check_choice("recipe", name, tuple(RECIPES))
    return CharTransformer(RECIPES[name].config(vocabulary))
