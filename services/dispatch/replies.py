"""A unit's SMS reply (unit.replied, parsed by notify): the return reason its words point to,
and what the person who replied is told back, in Chinese, whether it was applied or refused.
No I/O."""

from __future__ import annotations

from services.dispatch.model import InvalidTransition
from shared.errors import DomainError, Forbidden, Invalid, NotFound

REPLY_ACTIONS = ("claim", "return", "resolve", "urge")

# The words a returning unit uses for each reason, checked in this order; nothing matched:
# the owner is unclear. The whole text is kept as the return's note either way.
REASON_WORDS = (
    ("wrong_function", ("不归", "不属于", "职能", "職能", "不是我们", "不是我們", "非本单位")),
    ("wrong_place", ("地点", "地點", "不在", "地址", "辖区", "轄區")),
)

REASON_NAMES = {
    "wrong_function": "不属本单位职能",
    "wrong_place": "地点不在本单位范围",
    "unclear_ownership": "权属不清",
}
ACTION_NAMES = {"claim": "认领", "return": "退回", "resolve": "办结", "urge": "督办"}
STATE_NAMES = {
    "dispatched": "尚未认领",
    "claimed": "已认领",
    "awaiting_resident": "正在等待居民",
    "returned": "已退回",
    "resolved": "已办结",
    "withdrawn": "已改派他处",
    "forced by arbitration": "由街道指定承办",
}


class NotCurrent(Invalid):
    """The reply names an assignment the unit no longer holds (returned, sent again since)."""

    def __init__(self, assignment: int):
        super().__init__(f"assignment {assignment} is no longer the unit's current one")


class WrongCode(Forbidden):
    """A supervisor's code used to claim or resolve, or a unit's own code used to urge."""

    def __init__(self, action: str):
        super().__init__(f"a {'unit' if action == 'urge' else 'supervision'} code cannot {action}")
        self.action = action


class UnknownUnit(NotFound):
    """The reply names a unit the directory does not hold (any more)."""


def return_reason(text: str) -> str:
    """The RETURN_REASONS entry the unit's words point to."""
    for reason, words in REASON_WORDS:
        if any(word in text for word in words):
            return reason
    return "unclear_ownership"


def applied(action: str, reason: str | None = None) -> str:
    """What the unit is told when its reply was applied."""
    if action == "claim":
        return "已认领，请按时限办理，办结后回复办理结果"
    if action == "return":
        return f"已退回（{REASON_NAMES[reason]}），将另行派单"
    if action == "urge":
        return "督办意见已发给承办单位"
    return "已办结，将请居民评价"


def refused(action: str, error: DomainError) -> str:
    """What the unit is told when the domain refused its reply: why, in its own words."""
    if isinstance(error, InvalidTransition):
        state = STATE_NAMES.get(error.state, error.state)
        if error.state == "claimed" and action == "claim":
            return "该件已认领"
        if error.state == "dispatched" and action == "resolve":
            return "该件尚未认领，请先认领再办结"
        return f"该件{state}，不能{ACTION_NAMES[action]}"
    if isinstance(error, WrongCode):
        if action == "urge":
            return "只有督办单位能督办；贵单位承办此件，请认领、退回或办结"
        return "此编号用于督办，不能" + ACTION_NAMES[action] + "；请回复“4 编号 意见”督促承办单位"
    if isinstance(error, NotCurrent):
        return "该派单已失效（该件已退回或重新派出），不能" + ACTION_NAMES[action]
    if isinstance(error, Forbidden):
        if action == "urge":
            return "贵单位不是此件的督办单位，不能督办"
        return "该件不是派给贵单位的，不能" + ACTION_NAMES[action]
    if isinstance(error, UnknownUnit):
        return "名录中没有贵单位，请联系街道办"
    if isinstance(error, NotFound):
        return "找不到该件"
    if action == "resolve":
        return "请写明办理结果，例如回复“3 编号 已疏通”"
    if action == "urge":
        return "请写明督办意见，例如回复“4 编号 请今天内处理”"
    return f"不能{ACTION_NAMES[action]}：{error}"
