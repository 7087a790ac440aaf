"""What each notebook is given: a profile of params.yaml, then the ``-p`` overrides, checked
together before anything runs (``plan``)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import Refused, short
from .names import is_file_name
from .selection import NOTEBOOKS, available, check_folder, parameters, resolve
from .values import checked, from_text


def _strict_yaml_loader():
    """A safe YAML loader that refuses a mapping giving the same key twice."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *anchor' keys are meant to be overridden
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def _load_yaml(file: Path):
    import yaml

    try:
        return yaml.load(file.read_text(encoding="utf-8"), Loader=_strict_yaml_loader())
    except (OSError, UnicodeError, yaml.YAMLError, TypeError) as error:
        raise Refused(f"{file} cannot be read as YAML: {' '.join(str(error).split())}") from None


def _check_profile(file: Path, profile, notebooks) -> dict:
    """One profile of params.yaml as {notebook -> {parameter -> value}}, or Refused."""
    if not is_file_name(profile):
        raise Refused(f"{file}: profile name {profile!r} is not a plain name (it names the "
                      "default output folder runs/PROFILE)")
    notebooks = {} if notebooks is None else notebooks
    if not isinstance(notebooks, dict):
        raise Refused(f"{file}: profile {profile!r} must map notebook names to their parameters, "
                      f"got a {type(notebooks).__name__}: {short(notebooks)}")
    result = {}
    for notebook, values in notebooks.items():
        values = {} if values is None else values
        if not isinstance(notebook, str) or not isinstance(values, dict):
            raise Refused(f"{file}: profile {profile!r}: expected a notebook name mapping parameter "
                          f"names to values, got {notebook!r}: {short(values)}")
        wrong = [name for name in values if not isinstance(name, str)]
        if wrong:
            raise Refused(f"{file}: profile {profile!r}, notebook {notebook!r}: parameter name "
                          f"{wrong[0]!r} is not text")
        result[notebook] = values
    return result


def profiles(folder: Path = NOTEBOOKS) -> dict[str, dict]:
    """Profile name -> {notebook name -> {parameter -> value}} from params.yaml; ``quick`` is
    always there (the notebooks' own defaults)."""
    check_folder(folder)
    file = Path(folder) / "params.yaml"
    loaded = _load_yaml(file) if os.path.lexists(file) else None
    loaded = {} if loaded is None else loaded
    if not isinstance(loaded, dict):
        raise Refused(f"{file}: expected a mapping of profile names to profiles, got a "
                      f"{type(loaded).__name__}: {short(loaded)}")
    loaded.setdefault("quick", {})
    return {name: _check_profile(file, name, value) for name, value in loaded.items()}


def _profile_values(profile: str, values: dict, specs: dict, folder: Path) -> dict:
    """Notebook -> {parameter -> checked value} from one profile, for the chosen notebooks."""
    injected = {name: {} for name in specs}
    known = available(folder)
    for notebook, settings in values.items():
        if notebook not in known:
            raise Refused(f"params.yaml profile {profile!r} names unknown notebook {notebook!r}")
        if notebook not in specs:
            continue
        for name, value in settings.items():
            if name not in specs[notebook]:
                raise Refused(f"params.yaml profile {profile!r}: {notebook} has no parameter "
                              f"{name!r}; its parameters: {', '.join(specs[notebook])}")
            injected[notebook][name] = checked(notebook, name, specs[notebook][name], value,
                                               f"params.yaml profile {profile!r}")
    return injected


def _apply_overrides(overrides: list[str], specs: dict, injected: dict) -> None:
    """Put each -p NAME=VALUE into every chosen notebook that has the parameter."""
    given = {}
    for override in overrides:
        name, sep, text = override.partition("=")
        if not sep:
            raise Refused(f"-p expects NAME=VALUE, got {override!r}")
        if name in given:
            raise Refused(f"-p {name} is given twice ({given[name]!r} and {text!r}); give each "
                          "parameter once")
        given[name] = text
        targets = [nb for nb in specs if name in specs[nb]]
        if not targets:
            valid = sorted({p for spec in specs.values() for p in spec})
            raise Refused(f"no selected notebook has a parameter {name!r}; "
                          f"valid parameters: {', '.join(valid)}")
        for notebook in targets:
            spec = specs[notebook][name]
            injected[notebook][name] = checked(notebook, name, spec,
                                               from_text(notebook, name, spec, text), "-p")


def plan(names: list[str], profile: str = "quick", overrides: list[str] = (),
         folder: Path = NOTEBOOKS) -> dict[str, tuple[Path, dict]]:
    """Notebook name -> (path, parameters to inject), refusing any unknown profile, notebook,
    parameter or unparsable value before anything runs."""
    all_profiles = profiles(folder)
    if profile not in all_profiles:
        raise Refused(f"unknown profile {profile!r}; valid profiles: {', '.join(all_profiles)}")
    chosen = resolve(names, folder)
    specs = {name: parameters(path) for name, path in chosen.items()}
    injected = _profile_values(profile, all_profiles[profile], specs, folder)
    _apply_overrides(overrides, specs, injected)
    return {name: (path, injected[name]) for name, path in chosen.items()}
