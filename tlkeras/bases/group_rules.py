"""`GroupRules`: how a family's layer names map to layer groups.

Each family's own rules live in its spec (`tlkeras/bases/families.py`).
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


def stage(table: dict, group: int = 1) -> Callable[[re.Match], str]:
    """Map a block number captured by a regex to a stage name via `table`,
    a dict of `{last_block_of_stage: stage_name}`."""

    def name(match):
        block = int(match.group(group) or 0)
        for last in sorted(table):
            if block <= last:
                return table[last]
        return table[max(table)]

    return name
