"""What a name may be: a plain file name, and a notebook name whose outputs ``NAME.*`` collide
with no other notebook's and not with the index."""

INDEX = "index"  # index.html's owner in the record: no notebook may take the name


def is_file_name(text) -> bool:
    """A plain name of a file inside one folder: no separator, not '.' or '..', printable."""
    return (isinstance(text, str) and text not in ("", ".", "..") and "/" not in text
            and "\\" not in text and text.isprintable())


def is_notebook_name(text) -> bool:
    """A name whose outputs ``NAME.*`` cannot collide with another notebook's or with the index."""
    return is_file_name(text) and "." not in text and text.lower() != INDEX
