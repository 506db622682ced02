"""Residents write in simplified or traditional characters, in English, in full-width or
half-width forms: every category's reports are found whichever they use."""

import pytest

from district import directory as directory_file
from services.dispatch import rules
from shared.config import REPO_ROOT
from tests.helpers import emitted

# For every category with keywords: one report in simplified characters, the same written by
# hand in traditional characters, and one in English. The traditional ones use keywords whose
# characters differ between the scripts, so only folding can find them.
REPORTS = {
    "urban_management": (
        "文化街小巷的路灯坏了一个月，晚上一片漆黑",
        "文化街小巷的路燈壞了一個月，晚上一片漆黑",
        "The street light in Wenhua alley has been out for a month",
    ),
    "social_assistance": (
        "我母亲残疾多年，家里生活很困难",
        "我母親殘疾多年，家裡生活很困難",
        "My elderly mother lives with a disability and we face real hardship",
    ),
    "property_management": (
        "3栋电梯又坏了，物业一直不来修",
        "3棟電梯又壞了，物業一直不來修",
        "The lift in building 3 is broken again and nobody comes to fix it",
    ),
    "traffic_parking": (
        "小区门口乱停车，车位都被外来车辆占了",
        "小區門口亂停車，車位都被外來車輛佔了",
        "Cars from outside take every parking space at our gate",
    ),
    "public_safety": (
        "小区配电箱老化漏电，存在很大的隐患",
        "小區配電箱老化漏電，存在很大的隱患",
        "The old wiring by the gas meters is a fire hazard",
    ),
    "neighbour_dispute": (
        "楼上邻居每天半夜吵闹，跟他说了也不听",
        "樓上鄰居每天半夜吵鬧，跟他說了也不聽",
        "My upstairs neighbour plays loud music every night, the noise keeps us awake",
    ),
}
SCRIPTS = ("simplified", "traditional", "english")
CASES = [
    pytest.param(category, text, id=f"{category}-{script}")
    for category, texts in REPORTS.items()
    for script, text in zip(SCRIPTS, texts, strict=False)
]


@pytest.fixture(scope="module")
def directory():
    return directory_file.load(REPO_ROOT / "deploy" / "directory.yaml")


def test_every_category_with_keywords_has_reports_here(directory):
    # "other" has no keywords: it is what the street office chooses in triage.
    assert set(REPORTS) == {c.id for c in directory.categories.values() if c.keywords}


@pytest.mark.parametrize("category, text", CASES)
def test_each_report_is_classified_to_its_category(directory, category, text):
    assert rules.classify(directory, text) == category


@pytest.mark.parametrize("category", REPORTS)
def test_the_traditional_reports_name_no_keyword_as_it_is_written(directory, category):
    traditional = REPORTS[category][1]

    assert not [k for c in directory.categories.values() for k in c.keywords if k in traditional]


@pytest.mark.parametrize(
    "text, category",
    [
        pytest.param("３栋ＬＥＤ路灯坏了", "urban_management", id="full-width-digits-simplified"),
        pytest.param(
            "３號樓ＬＥＤ路燈壞了", "urban_management", id="full-width-digits-traditional"
        ),
        pytest.param(
            "ＳＴＲＥＥＴＬＩＧＨＴ　ｏｕｔ　ａｔ　ｎｏ．５",
            "urban_management",
            id="full-width-capitals",
        ),
        pytest.param(
            "Ｔｈｅ　ｌｉｆｔ　ｉｓ　ｓｔｕｃｋ", "property_management", id="full-width-spaces"
        ),
        pytest.param(
            "THE SEWERS OVERFLOW AFTER EVERY STORM", "urban_management", id="capitals-plural"
        ),
    ],
)
def test_full_width_and_capitals_are_folded_before_matching(directory, text, category):
    assert rules.classify(directory, text) == category


@pytest.mark.parametrize(
    "text",
    [
        "有些事情想反映一下",
        "我想問一下辦事大廳週末開不開門",
        "Thank you to the community staff for their help",
        # "fire" and "neighbour" inside longer words
        "A firefly show for the neighbourhood kids on Saturday",
    ],
)
def test_what_names_no_category_stays_unclassified(directory, text):
    assert rules.classify(directory, text) is None


def test_a_report_in_traditional_characters_is_dispatched_without_triage(dispatch, submit):
    issue_id = submit(
        category=None,
        description="路燈壞了",
        location={"street": "taibai", "community": "wenhua", "compound": "wenhua-alley"},
    )

    sent = emitted(dispatch.store, "issue.dispatched")[0]
    assert sent.issue_id == issue_id and sent.payload["category"] == "urban_management"
    assert emitted(dispatch.store, "issue.triage_needed") == []
