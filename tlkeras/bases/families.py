"""One spec per `keras.applications` family: what tlkeras knows of it.

Everything architecture-specific sits here, beside the family's name, as
timm keeps `group_matcher` beside each architecture: whether the family's
`preprocess_input` must run in front of the base, and the rules that split
its layers into groups (stages, input side first). A family with no rules
(NASNet) is split into groups balanced by parameter count.
"""

import dataclasses
from typing import Mapping
from typing import Optional
from typing import Union

from tlkeras.bases.group_rules import GroupRules
from tlkeras.bases.group_rules import stage

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
            stage(
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
            stage({2: "stage1", 5: "stage2", 12: "stage3", 16: "stage4"}),
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
            (r"expanded_conv_(\d+)_", stage(table)),
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
            stage({1: "stem", 4: "entry", 12: "middle", 14: "exit"}),
        ),
    ]
)

# InceptionV3: auto-named branches end in `mixedN`; group by resolution
# (35x35: mixed0-2 with the stem, 17x17: mixed3-7, 8x8: mixed8-10).
INCEPTION_V3 = GroupRules(
    [(r"mixed(\d+)$", stage({2: "stage1", 7: "stage2", 10: "stage3"}))],
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


@dataclasses.dataclass(frozen=True)
class Family:
    """What tlkeras knows of one `keras.applications` family.

    Attributes:
        module: the `keras.applications` module, e.g. `"mobilenet_v2"`.
        preprocess: whether the family's `preprocess_input` must run in
            front of the base (False where the models rescale raw pixels
            themselves: EfficientNet, ConvNeXt, MobileNetV3).
        rules: the family's `GroupRules`, a dict of base name to rules when
            its models differ (MobileNetV3 Small and Large), or `None`.
    """

    module: str
    preprocess: bool = True
    rules: Union[GroupRules, Mapping[str, GroupRules], None] = None

    def rules_for(self, base_name: str) -> Optional[GroupRules]:
        """The group rules of the base `base_name` of this family."""
        if isinstance(self.rules, Mapping):
            return self.rules.get(base_name)
        return self.rules


FAMILIES = {
    family.module: family
    for family in (
        Family("resnet", rules=RESNET),
        Family("resnet_v2", rules=RESNET),
        Family("mobilenet", rules=MOBILENET),
        Family("mobilenet_v2", rules=MOBILENET_V2),
        Family(
            "mobilenet_v3",
            preprocess=False,
            rules={
                "MobileNetV3Small": MOBILENET_V3_SMALL,
                "MobileNetV3Large": MOBILENET_V3_LARGE,
            },
        ),
        Family("efficientnet", preprocess=False, rules=EFFICIENTNET),
        Family("efficientnet_v2", preprocess=False, rules=EFFICIENTNET),
        Family("convnext", preprocess=False, rules=CONVNEXT),
        Family("densenet", rules=DENSENET),
        Family("vgg16", rules=VGG),
        Family("vgg19", rules=VGG),
        Family("xception", rules=XCEPTION),
        Family("inception_v3", rules=INCEPTION_V3),
        Family("inception_resnet_v2", rules=INCEPTION_RESNET_V2),
        Family("nasnet"),
    )
}


def get_family(module: str) -> Family:
    """The `Family` of a `keras.applications` module (a bare spec, with
    preprocessing and no rules, for a module tlkeras does not list).

    Example:

    >>> get_family("resnet").rules_for("ResNet50") is RESNET
    True
    """
    return FAMILIES.get(module, Family(module))
