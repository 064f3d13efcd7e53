from yilian.identity.clusters import GuardedClusters


def test_a_chain_never_joins_two_valid_ids():
    c = GuardedClusters({"a": "ID1", "b": None, "c": "ID2"})
    assert c.union("a", "b")
    assert not c.union("b", "c")
    assert c.find("a") == c.find("b") != c.find("c")
    assert c.union("b", "c", force=True)  # a person may decide otherwise
