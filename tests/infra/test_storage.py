"""The object store in use (local folder or S3): round trips, batches, and keys that try to escape."""

from __future__ import annotations

import uuid

import pytest

from infra.errors import ObjectNotFound
from infra.storage import InvalidKey, LocalObjectStore, check_key


def test_put_get_list_delete_round_trip(rt) -> None:  # noqa: ANN001
    prefix = f"t/{uuid.uuid4().hex}"
    keys = [f"{prefix}/a/{i}.bin" for i in range(5)]
    for i, key in enumerate(keys):
        rt.store.put(key, bytes([i]) * (i + 1))
    assert rt.store.get(keys[3]).data == b"\x03" * 4
    assert sorted(rt.store.list(prefix)) == sorted(keys)
    assert rt.store.exists(keys[0]) and not rt.store.exists(f"{prefix}/missing")
    rt.store.put(keys[0], b"replaced")
    assert rt.store.get(keys[0]).data == b"replaced"
    requests = rt.store.delete_many(keys + [f"{prefix}/never-there"])
    assert requests >= 1
    assert list(rt.store.list(prefix)) == []
    with pytest.raises(ObjectNotFound):
        rt.store.get(keys[1])


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/abs", "a//b", "a/./b", "", ".hidden", "a\\b",
                                 "a/b c", "x" * 600, "a/\x00b"])
def test_keys_that_escape_or_are_odd_are_refused(rt, key) -> None:  # noqa: ANN001
    with pytest.raises(InvalidKey):
        check_key(key)
    with pytest.raises(InvalidKey):
        rt.store.put(key, b"x")


def test_local_store_never_writes_outside_its_root(tmp_path) -> None:  # noqa: ANN001
    store = LocalObjectStore(tmp_path / "root")
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidKey):
        store.put("link/escaped.bin", b"x")
    assert not (tmp_path / "escaped.bin").exists()


def test_copy_and_total_size(rt) -> None:  # noqa: ANN001
    prefix = f"t/{uuid.uuid4().hex}"
    rt.store.put(f"{prefix}/a/1.m4s", b"x" * 1000)
    rt.store.copy(f"{prefix}/a/1.m4s", f"{prefix}/b/live/a/1.m4s")
    assert rt.store.get(f"{prefix}/b/live/a/1.m4s").data == b"x" * 1000
    assert rt.store.total_size(f"{prefix}/b/") == 1000 and rt.store.total_size(f"{prefix}/") == 2000
    with pytest.raises(ObjectNotFound):
        rt.store.copy(f"{prefix}/a/missing.m4s", f"{prefix}/b/missing.m4s")
    rt.store.delete_many(list(rt.store.list(prefix)))
