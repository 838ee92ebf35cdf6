"""Layer-group rules for `keras.applications` families.

A rule list maps layer names to group names, timm's `group_matcher` style:
each rule is `(regex, name)`, where `name` is a string (it may use the
regex's groups, `r"\1"`) or a function of the match. A layer takes the group
of the first rule that matches the start of its name. Layers no rule
matches (auto-named `add_3`, `conv2d_7`...) take the group of the layer
before them (`fill="previous"`), or of the next named one
(`fill="next"`, for Inception-style modules whose branches are auto-named
and end in a named concatenation).
"""

import dataclasses
import re
from typing import Callable
from typing import Sequence
from typing import Union

Name = Union[str, Callable[[re.Match], str]]


@dataclasses.dataclass(frozen=True)
class GroupRules:
    """How to split one family's layers into groups, input side first."""

    rules: Sequence[tuple]
    fill: str = "previous"

    def assign(self, layer_names: Sequence[str]) -> list:
        """The group name of each layer name, in order."""
        named = [self._match(name) for name in layer_names]
        result = list(named)
        if self.fill == "next":
            following = None
            for i in reversed(range(len(result))):
                if result[i] is None:
                    result[i] = following
                following = result[i]
            last = next((g for g in reversed(named) if g), None)
            result = [g if g is not None else last for g in result]
        else:
            previous = next((g for g in named if g), None)
            for i, group in enumerate(result):
                if group is None:
                    result[i] = previous
                previous = result[i]
        return result

    def _match(self, layer_name: str):
        for pattern, name in self.rules:
            match = re.match(pattern, layer_name)
            if match:
                return name(match) if callable(name) else match.expand(name)
        return None


def _stage(table: dict, group: int = 1) -> Callable[[re.Match], str]:
    """Map a block number captured by a regex to a stage name via `table`,
    a dict of `{last_block_of_stage: stage_name}`."""

    def name(match):
        block = int(match.group(group) or 0)
        for last in sorted(table):
            if block <= last:
                return table[last]
        return table[max(table)]

    return name


RESNET = GroupRules(
    [
        (r"conv1_|pool1_", "stem"),
        (r"(conv[2-5])_", r"\1"),
        (r"post_", "conv5"),
    ]
)

# MobileNet v1: stride-2 depthwise convs at blocks 2, 4, 6 and 12.
MOBILENET = GroupRules(
    [
        (r"conv1(_|$)", "stem"),
        (
            r"conv_(?:dw|pw|pad)_(\d+)",
            _stage(
                {
                    1: "stem",
                    3: "stage1",
                    5: "stage2",
                    11: "stage3",
                    13: "stage4",
                }
            ),
        ),
    ]
)

# MobileNetV2: block 0 is `expanded_conv_*`; stride 2 at blocks 1, 3, 6, 13.
MOBILENET_V2 = GroupRules(
    [
        (r"Conv1|bn_Conv1|expanded_conv_", "stem"),
        (
            r"block_(\d+)_",
            _stage({2: "stage1", 5: "stage2", 12: "stage3", 16: "stage4"}),
        ),
        (r"Conv_1|out_relu", "top"),
    ]
)

# MobileNetV3: `expanded_conv_N_*`, block 0 has no number. The stages
# follow the stride-2 blocks of the Small (1, 3, 8) and Large (1, 3, 6, 12)
# variants; the builders pick the table by the base's name.
_V3_SMALL = {0: "stem", 2: "stage1", 7: "stage2", 10: "stage3"}
_V3_LARGE = {0: "stem", 2: "stage1", 5: "stage2", 11: "stage3", 14: "stage4"}


def _mobilenet_v3(table):
    return GroupRules(
        [
            (r"rescaling|conv(_bn)?$", "stem"),
            (r"expanded_conv_(\d+)_", _stage(table)),
            (r"expanded_conv_", "stem"),
            (r"conv_[12]", "top"),
        ]
    )


MOBILENET_V3_SMALL = _mobilenet_v3(_V3_SMALL)
MOBILENET_V3_LARGE = _mobilenet_v3(_V3_LARGE)

EFFICIENTNET = GroupRules(
    [
        (r"rescaling|normalization|stem_", "stem"),
        (r"(block\d+)[a-z]_", r"\1"),
        (r"top_", "top"),
    ]
)

CONVNEXT = GroupRules(
    [
        (r"convnext_\w+?_(prestem|stem)", "stem"),
        (r"convnext_\w+?_stage_(\d)_", lambda m: f"stage{int(m[1]) + 1}"),
        (
            r"convnext_\w+?_downsampling_block_(\d)",
            lambda m: f"stage{int(m[1]) + 2}",
        ),
        (r"layer_normalization", "stage4"),
    ]
)

DENSENET = GroupRules(
    [
        (r"conv1_|pool1", "stem"),
        (r"(conv[2-5])_", r"\1"),
        # A transition (pool2_* ...) closes the dense block before it.
        (r"pool([2-4])_", lambda m: f"conv{m[1]}"),
        (r"bn$|relu$", "conv5"),
    ]
)

VGG = GroupRules([(r"(block[1-5])_", r"\1")])

# Xception: entry flow (blocks 1-4), middle flow (5-12), exit flow (13-14).
XCEPTION = GroupRules(
    [
        (
            r"block(\d+)_",
            _stage({1: "stem", 4: "entry", 12: "middle", 14: "exit"}),
        ),
    ]
)

# InceptionV3: auto-named branches end in `mixedN`; group by resolution
# (35x35: mixed0-2 with the stem, 17x17: mixed3-7, 8x8: mixed8-10).
INCEPTION_V3 = GroupRules(
    [(r"mixed(\d+)$", _stage({2: "stage1", 7: "stage2", 10: "stage3"}))],
    fill="next",
)

INCEPTION_RESNET_V2 = GroupRules(
    [
        (r"mixed_5b", "stem"),
        (r"(block35|block17|block8)_", r"\1"),
        (r"mixed_6a", "block17"),
        (r"mixed_7a", "block8"),
        (r"conv_7b", "top"),
    ],
    fill="next",
)

FAMILY_RULES = {
    "resnet": RESNET,
    "resnet_v2": RESNET,
    "mobilenet": MOBILENET,
    "mobilenet_v2": MOBILENET_V2,
    "efficientnet": EFFICIENTNET,
    "efficientnet_v2": EFFICIENTNET,
    "convnext": CONVNEXT,
    "densenet": DENSENET,
    "vgg16": VGG,
    "vgg19": VGG,
    "xception": XCEPTION,
    "inception_v3": INCEPTION_V3,
    "inception_resnet_v2": INCEPTION_RESNET_V2,
}

BASE_RULES = {
    "MobileNetV3Small": MOBILENET_V3_SMALL,
    "MobileNetV3Large": MOBILENET_V3_LARGE,
}


def rules_for(base_name: str, family: str):
    """The `GroupRules` of a base, or `None` (NASNet: balanced split)."""
    return BASE_RULES.get(base_name, FAMILY_RULES.get(family))
