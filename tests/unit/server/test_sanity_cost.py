"""The sanity check's cost estimate counts a net's randomization steps without weights (the event loop may)."""

from __future__ import annotations

from server.sanity import unit_count


def test_unit_count_matches_the_nets() -> None:
    assert unit_count("small_cnn", "{}") == 4  # fc2, fc1, conv2, conv1
    assert unit_count("resnet20", "{}") == 11
    assert unit_count("resnet20", '{"blocks_per_stage": 1}') == 5  # fc, layer3.0, layer2.0, layer1.0, conv1+bn1
