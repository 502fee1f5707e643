"""The Orders menu leads to targets, achievement and scorecards: HQ and region managers see all three, a dealer HQ
sells to its own targets and score, a sub-dealer (who has no targets, §16) none of them."""

from __future__ import annotations

import pytest

from tests.conftest import login

ITEMS = ("targets", "achievement", "scorecards")
OWN = ("my-targets", "my-score")


@pytest.fixture
def people(world):
    world.region("RA")
    world.dealer("DA", "RA")
    sub = world.sub_dealer("DA", "DA-S1")
    return {
        "channel_manager": world.user("channel_manager"),
        "region_manager": world.user("region_manager", region="RA"),
        "dealer": world.user("dealer_staff", dealer="DA"),
        "sub_dealer": world.user("dealer_admin", dealer=sub),
    }


def _menu(client, username) -> str:
    login(client, username)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    return html.split("<nav", 1)[1].split("</nav>", 1)[0]


@pytest.mark.parametrize("who", ["channel_manager", "region_manager"])
def test_hq_and_regions_see_the_three_pages(client, people, who):
    nav = _menu(client, people[who])
    for item in ITEMS:
        assert f'data-nav-item="{item}"' in nav
    assert not any(f'data-nav-item="{item}"' in nav for item in OWN)


def test_a_dealer_sees_its_own_targets_and_score_only(client, people):
    nav = _menu(client, people["dealer"])
    assert all(f'data-nav-item="{item}"' in nav for item in OWN)
    assert 'data-nav-item="targets"' not in nav


def test_a_sub_dealer_sees_none(client, people):
    nav = _menu(client, people["sub_dealer"])
    assert not any(f'data-nav-item="{item}"' in nav for item in (*ITEMS, *OWN))


@pytest.mark.parametrize("who", ["channel_manager", "region_manager", "dealer"])
def test_every_link_opens(client, people, who):
    nav = _menu(client, people[who])
    hrefs = [part.split('"', 1)[0] for part in nav.split('href="')[1:]]
    for path in ("/targets/achievement", "/scorecards"):
        assert path in hrefs
        assert client.get(path).status_code == 200
