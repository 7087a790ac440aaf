"""The log's MNIST models (E1, E2, E11 in docs/experiments.md): shapes, exact layer counts,
parameter counts by hand, recipes."""
import pytest
import torch

from acdc_core import StackedACDC
from acdc_core.lab.analysis.mnist import log_setting, summary
from acdc_core.lab.models import MNIST_MODELS, build, parameter_count

# By hand: an ACDC layer of width n has 2n diagonal entries and an n-wide bias.
E11 = 32 * 3 * 784
E1_PADDED = 12 * 3 * 896 + 720 * 64 + (64 * 10 + 10)  # 784 padded to 7 blocks of 128; bias-free shrink; Linear
E1_UNPADDED = 12 * 3 * 784 + 720 * 64 + (64 * 10 + 10)  # one 784-wide block
# widths 896, 768, 768, 640, 640, 512, 512, 384, 384, 256, 256, 128: a grow 784 -> 896, five
# narrowings by 128 (a Linear(128, width) each), the last to 64 (Linear(64, 64)); no biases there
E1 = (3 * (896 + 2 * 768 + 2 * 640 + 2 * 512 + 2 * 384 + 2 * 256 + 128) + 784 * 112
                + 128 * (768 + 640 + 512 + 384 + 256 + 128) + 64 * 64 + (64 * 10 + 10))
# widths 896 ×2, 768 ×6, 640 ×5, 512 ×6, 384 ×5, 256 ×6, 128 ×2: a grow 784 -> 896, then
# narrowings that keep the first features (no residual), the last to 10
E2 = 3 * (896 * 2 + 768 * 6 + 640 * 5 + 512 * 6 + 384 * 5 + 256 * 6 + 128 * 2) + 784 * 112
DENSE = 32 * (784 * 784 + 784)
CONVNET = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (9216 * 128 + 128) + (128 * 10 + 10)


@pytest.mark.parametrize("name, count", [("e11", E11), ("e11_improved", E11), ("e1_normal", E1),
                                         ("e1_uniform", E1), ("e1_uniform_padded", E1_PADDED), ("e2", E2), ("dense_mlp", DENSE),
                                         ("convnet", CONVNET), ("e1_normal_unpadded", E1_UNPADDED)])
def test_logits_shape_and_parameter_count(name, count):
    torch.manual_seed(0)
    model = build(name)
    model.eval()
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert parameter_count(model) == count


def test_e11_is_exactly_32_acdc_layers_with_no_dense_layer():
    for name in ("e11", "e11_improved"):
        model = build(name)
        stacks = [m for m in model.modules() if isinstance(m, StackedACDC)]
        assert len(stacks) == 1 and stacks[0].n_layers == 32 and len(stacks[0].layers) == 32
        assert not [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]


def test_e11_logits_are_the_even_outputs_0_to_18_of_the_last_layer():
    torch.manual_seed(0)
    model = build("e11")
    stack = model[1]
    assert stack.shuffle_last and stack.shuffle == "unriffle"
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(model(x), stack(x.flatten(1))[:, :10])
    last_shuffle = getattr(stack, f"shuffle_{stack.n_layers - 1}")  # after the last layer
    assert last_shuffle[:10].tolist() == list(range(0, 20, 2))  # the log's logits: outputs 0, 2, ..., 18


def test_the_faithful_recipes_take_the_logs_riffle_and_bias():
    for name in ("e1_normal_padded", "e1_uniform_unpadded", "e11"):
        (stack,) = [m for m in build(name).modules() if isinstance(m, StackedACDC)]
        assert stack.shuffle == "unriffle" and stack.layers[0].bias_init == "uniform", name
        assert stack.shuffle_last, name
    for name, blocks in (("e1_normal", [112, 96, 96]), ("e2", [112, 112, 96])):  # the log's 8 groups
        narrowing = build(name)[1]
        assert [layer.block_size for layer in narrowing.layers][:3] == blocks
        assert all(layer.bias_init == "uniform" for layer in narrowing.layers)


def explicit_resize(x, d_to, weight):
    """The log's widening (concatenate ``x W^T``) or narrowing (the first ``d_to`` features, plus
    the dropped ones times ``W^T`` when ``weight`` is given), written out."""
    if d_to > x.shape[1]:
        return torch.cat([x, x @ weight.T], 1)
    return x[:, :d_to] + (x[:, d_to:] @ weight.T if weight is not None else 0)


@pytest.mark.parametrize("name, out_features", [("e1_normal", 64), ("e2", 10)])
def test_the_narrowing_stacks_resize_as_written_out_with_the_same_gradients(name, out_features):
    torch.manual_seed(0)
    stack = build(name)[1]
    widths = [784, *(layer.features for layer in stack.layers), out_features]
    for resize, d, d_to in zip([*stack.resizes, stack.last], widths, widths[1:]):
        if d == d_to:
            continue
        linear = getattr(resize, "linear", None)
        x = torch.randn(5, d, requires_grad=True)
        ours, expected = resize(x), explicit_resize(x, d_to, linear and linear.weight)
        assert ours.shape == (5, d_to) and torch.equal(ours, expected)
        inputs = [x, *resize.parameters()]
        got = torch.autograd.grad(ours.square().sum(), inputs)
        wanted = torch.autograd.grad(expected.square().sum(), inputs)
        assert all(torch.equal(a, b) for a, b in zip(got, wanted))


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="model must be one of .*'e11'.*got 'e12'"):
        build("e12")


def test_recipes_of_the_log():
    assert MNIST_MODELS["e11"].optimiser == "adam" and MNIST_MODELS["e11"].lr == 1e-3
    for name in ("e1_uniform", "e1_normal", "e2"):
        recipe = MNIST_MODELS[name]
        assert (recipe.optimiser, recipe.lr, recipe.momentum, recipe.batch_size) == ("sgd", 0.01, 0.5, 64)



def test_the_improved_e11_changes_only_its_training_and_says_so():
    """Against the log's E11 (Adam at 1e-3, constant, unshifted digits): the same network, and
    every setting that differs is named in its ``change``."""
    log, improved = MNIST_MODELS["e11"], MNIST_MODELS["e11_improved"]
    assert improved.build is log.build
    assert (improved.schedule, improved.lr, improved.shift) == ("onecycle", 1e-2, 1)
    assert (log.schedule, log.lr, log.shift) == ("constant", 1e-3, 0)
    for named in ("one-cycle", "1e-2", "1e-3", "shifted"):
        assert named in improved.change


def test_the_logs_setting_for_the_verdicts():
    assert log_setting("mnist", 10) == {"data": ("mnist", "mnist"), "epochs": (10, 10)}
    assert log_setting("mnist_subset", 4)["epochs"] == (4, 10)


def test_a_recipe_run_checkpoints_and_is_picked_up_again(tmp_path):
    from acdc_core.lab.experiments.mnist import run
    from acdc_core.training.data import load

    train, test = load("mnist_subset")
    train, test = train.first(256), test.first(200)
    first = run("e11", train, test, 2, seed=1, device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [
        "e11-mnist-subset-train-4000-first-256-s1.pt"]
    again = run("e11", train, test, 2, seed=1, device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert again.history.records == first.history.records  # read back, not retrained
    s = summary([first, again])
    assert s["seeds"] == 2 and s["std"] == 0.0 and 0.0 < s["mean"] <= s["peak"] <= 1.0


def test_a_longer_rerun_extends_a_constant_schedule_and_restarts_an_epoch_dependent_one(tmp_path):
    """e11 trains at a constant rate: asked for 3 epochs after 2, it reads the 2 and trains one
    more into the same file. e11_improved's one-cycle schedule depends on the epochs: its runs of
    2 and 3 epochs are two runs, in two files."""
    from acdc_core.lab.experiments.mnist import run
    from acdc_core.training.data import load

    train, test = (split.first(128) for split in load("mnist_subset"))
    kwargs = dict(seed=0, device="cpu", checkpoint_dir=tmp_path, progress=False)
    short, longer = (run("e11", train, test, epochs, **kwargs) for epochs in (2, 3))
    assert longer.history.resumed == 2 and longer.history.records[:2] == short.history.records
    assert len(longer.history.records) == 3
    for epochs in (2, 3):
        assert run("e11_improved", train, test, epochs, **kwargs).history.resumed == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e11-improved-mnist-subset-train-4000-first-128-e2-s0.pt",
        "e11-improved-mnist-subset-train-4000-first-128-e3-s0.pt",
        "e11-mnist-subset-train-4000-first-128-s0.pt"]
