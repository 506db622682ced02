"""A month of example issues for the four streets, through the front door: each is submitted
to intake's gateway API, then taken as units and residents would take it — claimed (mostly on
time), resolved, some returned, some left waiting, and answered satisfied or not — over the
units' and intake's APIs. Every figure the desk, the boards and the showcase then show comes
from these real flows; nothing is written into a store by hand.

    loudong example-month --key $KEY            # with `make run` going

The draw is seeded (`--seed`), so two runs on clean data give the same month."""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time

import requests

# (category, street, location, what residents say): places of deploy/directory.yaml
PLACES = {
    "baianba": {"street": "baianba", "community": "baian", "compound": "baian-xincun"},
    "wuqiao": {"street": "wuqiao", "community": "lianhua"},
    "taibai": {"street": "taibai", "community": "wenhua", "compound": "wenhua-alley"},
    "zhonggulou": {
        "street": "zhonggulou",
        "community": "zhonggulou-community",
        "compound": "lianzufang",
    },
}
PROBLEMS = (
    ("property_management", "楼道杂物堆了一个月，影响通行"),
    ("property_management", "电梯停了三天，老人上下楼困难"),
    ("property_management", "楼顶漏水，雨天家里滴水"),
    ("urban_management", "路灯坏了，晚上巷子里一片漆黑"),
    ("urban_management", "下水道堵了，污水漫到路面"),
    ("urban_management", "垃圾站好几天没人清运"),
    ("traffic_parking", "小区门口乱停车，上学通道被堵"),
    ("neighbour_dispute", "楼上每天深夜噪音，协商无果"),
    ("public_safety", "消防通道被杂物堵住"),
    ("social_assistance", "独居老人生活困难，需要临时救助"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loudong example-month", description=__doc__)
    parser.add_argument("--key", required=True, help="a gateway API key (make run prints one)")
    parser.add_argument("--issues", type=int, default=120, help="how many issues (default 120)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--intake", default="http://127.0.0.1:8081")
    parser.add_argument("--dispatch", default="http://127.0.0.1:8082")
    args = parser.parse_args(argv)
    draw = random.Random(args.seed)
    gateway = {"Authorization": f"Bearer {args.key}"}
    submitted = [_submit(args.intake, gateway, draw, n, args.seed) for n in range(args.issues)]
    print(f"submitted {len(submitted)} issues; acting as their units and residents …")
    tokens: dict[str, dict] = {}
    outcomes: dict[str, int] = {}
    for issue_id in submitted:
        outcome = _carry(args, gateway, tokens, draw, issue_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print("done: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return 0


def _submit(intake: str, gateway: dict, draw: random.Random, n: int, draw_seed: int) -> str:
    street = draw.choice(tuple(PLACES))
    category, words = draw.choice(PROBLEMS)
    location = dict(PLACES[street])
    if "compound" in location:
        location["building"] = str(draw.randint(1, 30))
    body = {
        "channel": draw.choice(("hotline", "app", "wechat", "web", "desk")),
        "description": words,
        "category": category,
        "location": location,
        # an example resident without consent: no SMS goes to this made-up number
        "reporter": {"name": "示例居民", "phone": "13800000000", "consent": False},
    }
    headers = {**gateway, "Idempotency-Key": f"example-month-{draw_seed}-{n}"}
    response = requests.post(f"{intake}/v1/issues", json=body, headers=headers, timeout=10)
    if not response.ok:
        raise SystemExit(f"intake refused issue {n}: {response.status_code} {response.text}")
    return response.json()["id"]


def _carry(args, gateway: dict, tokens: dict, draw: random.Random, issue_id: str) -> str:
    """Take one issue as far as its draw says: left waiting, returned once, claimed, resolved
    and answered. What happened, in a word."""
    case = _case(args.dispatch, tokens, issue_id)
    if case is None or case["state"] not in ("dispatched",):
        return case["state"] if case else "not_dispatched"
    roll = draw.random()
    if roll < 0.1:
        return "waiting"
    holder = [a for a in case["assignments"] if a["role"] == "lead"][-1]["unit_id"]
    if roll < 0.18:
        _act(args.dispatch, tokens, holder, issue_id, "return", {"reason": "wrong_function"})
        return "returned"
    _act(args.dispatch, tokens, holder, issue_id, "claim")
    if roll < 0.3:
        return "claimed"
    _act(args.dispatch, tokens, holder, issue_id, "resolve", {"resolution": "已到现场处理完毕"})
    if roll < 0.4:
        return "resolved"
    satisfied = roll < 0.88
    feedback = {"satisfied": satisfied, "rating": 5 if satisfied else 2}
    if not _resolved_at_intake(args.intake, gateway, issue_id):
        return "resolved"
    requests.post(
        f"{args.intake}/v1/issues/{issue_id}/feedback", json=feedback, headers=gateway, timeout=10
    ).raise_for_status()
    return "satisfied" if satisfied else "not_satisfied"


def _case(dispatch: str, tokens: dict, issue_id: str) -> dict | None:
    office = _token(tokens, "leader-north")  # a district leader may read any issue
    for _ in range(100):
        response = requests.get(f"{dispatch}/v1/assignments/{issue_id}", headers=office, timeout=10)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.1)
    return None


def _act(dispatch: str, tokens: dict, unit_id: str, issue_id: str, action: str, body=None):
    response = requests.post(
        f"{dispatch}/v1/assignments/{issue_id}/{action}",
        json=body or {},
        headers=_token(tokens, unit_id),
        timeout=10,
    )
    response.raise_for_status()


def _resolved_at_intake(intake: str, gateway: dict, issue_id: str) -> bool:
    """Whether intake has learnt of the resolution (it asks for feedback only then)."""
    for _ in range(100):
        shown = requests.get(f"{intake}/v1/issues/{issue_id}", headers=gateway, timeout=10)
        if shown.ok and shown.json()["status"] == "resolved":
            return True
        time.sleep(0.1)
    return False


def _token(tokens: dict, unit_id: str) -> dict:
    """A unit's token, made once by `loudong units token` as an operator would."""
    if unit_id not in tokens:
        out = subprocess.run(
            [sys.executable, "-m", "services.cli", "units", "token", unit_id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        tokens[unit_id] = {"Authorization": f"Bearer {out}"}
    return tokens[unit_id]


if __name__ == "__main__":
    sys.exit(main())
