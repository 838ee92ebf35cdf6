import os
import stat

import pytest

from tlkeras._utils.atomic import atomic_path
from tlkeras._utils.atomic import write_text


def test_write_replaces_and_follows_umask(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    write_text(path, "one")
    write_text(path, "two")
    assert path.read_text() == "two"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    write_text(path, "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
