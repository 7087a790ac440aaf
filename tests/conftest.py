import pytest
import torch

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")


def devices():
    """CPU always; CUDA as a skipped case where there is none, so the report says so."""
    return ["cpu", pytest.param("cuda", marks=CUDA)]


def randomise(module, seed=0):
    """Every parameter drawn from N(0, 1): far from any initialisation, so nothing cancels."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def gather_matrix(index):
    """P (float64) with P @ h == h[index]."""
    return torch.eye(len(index), dtype=torch.float64)[index]


def blobs(n, seed):
    """A two-class toy Dataset of 4×4 'images': bright vs dark upper half."""
    from acdc_core.training.data import Dataset

    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.randint(0, 128, (n, 1, 4, 4), generator=g, dtype=torch.uint8)
    images[:, :, :2] += (labels * 120).to(torch.uint8)[:, None, None, None]
    return Dataset(images, labels, ("dark", "bright"), (0.5,), (0.25,), source="blobs", split="train")


def notebook_file(folder, name, parameters, body):
    """A two-cell notebook ``folder/NAME.ipynb``: a cell tagged ``parameters``, then ``body``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def notebook_folder(root, parameters, body):
    """``root/notebooks`` holding notebooks alpha and beta and a params.yaml whose full profile
    sets alpha's ``steps`` to 5."""
    notebooks = root / "notebooks"
    notebooks.mkdir()
    for name in ("alpha", "beta"):
        notebook_file(notebooks, name, parameters, body)
    (notebooks / "params.yaml").write_text("quick: {}\nfull:\n  alpha:\n    steps: 5\n")
    return notebooks
