import pytest

from tests.access.coord_store import build_store


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("access") / "store")
