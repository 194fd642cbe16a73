"""The labeling page in a real browser: Debian's chromium driven by Playwright, against `tetsuban serve`."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.conftest import embedded_project, write_unlabelled_fashion_images
from tests.serving import captions, dialog_message, panel_stats, start_serve, wait_for_label_count, wait_until
from tetsuban import Project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Iterator[tuple[str, Path]]:
    """`tetsuban serve` on a project of 60 labelled and 200 unlabelled fashion-mnist images, no users."""
    root = tmp_path_factory.mktemp("browser")
    project_dir = embedded_project(fashion_dir, root, 60, 200, test=0.1, val=0.1)
    process, url = start_serve(project_dir, root / "serve.log")
    yield url, project_dir
    process.terminate()
    process.wait(timeout=30)


def test_labelling_by_keyboard_with_undo_and_accepting_suggestions(
    server: tuple[str, Path], page: Page, screenshots: Path
) -> None:
    """Each digit key stores its own class on the image shown, z clears the last image, Enter stores the suggestion."""
    url, project_dir = server
    with Project.open(project_dir) as project:
        before = len(project.labelled())
    page.goto(url)
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    classes = json.loads(page.locator("#classes-data").inner_text())
    given: dict[int, str] = {}
    for n in range(1, 31):
        key = 1 + n % 3
        shown = page.locator("#image").get_attribute("data-id") or ""
        given[int(shown)] = classes[key - 1]
        page.keyboard.press(str(key))
        wait_for_label_count(page, before + n)
        expect(page.locator("#image")).not_to_have_attribute("data-id", shown)  # the next image, once fetched
    assert len(given) == 30  # thirty different images, one after another
    with Project.open(project_dir) as project:
        assert {i: project.labelled().get(i) for i in given} == given
    last = list(given)[-1]
    page.keyboard.press("z")
    wait_for_label_count(page, before + 29)
    expect(page.locator("#image")).to_have_attribute("data-id", str(last))  # brought back, its label taken
    with Project.open(project_dir) as project:
        assert last not in project.labelled() and len(project.labelled()) == before + 29
    suggested = page.locator("#classes button.suggested").inner_text().split(" ", 1)[1]  # "2 Bag": key, name
    page.keyboard.press("Enter")  # accept the suggestion for the image brought back
    wait_for_label_count(page, before + 30)
    page.screenshot(path=str(screenshots / "labeling-single.png"))
    with Project.open(project_dir) as project:
        assert project.labelled()[last] == suggested
        events = project.label_history()
        mine = [e for e in events if e.image_id in given]
        assert [e.source for e in mine if e.image_id == last][-1] == "model-accepted"
        assert sum(e.source == "human" and e.label is not None for e in mine) == 30
        assert all(e.seconds_on_screen is not None for e in mine if e.label is not None)
        assert len(project.labelled()) == before + 30


def test_going_back_shows_the_label_just_given(server: tuple[str, Path], page: Page) -> None:
    url, _project_dir = server
    page.goto(url)
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    classes = json.loads(page.locator("#classes-data").inner_text())
    shown = page.locator("#image").get_attribute("data-id") or ""
    page.keyboard.press("3")
    expect(page.locator("#image")).not_to_have_attribute("data-id", shown)
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#image")).to_have_attribute("data-id", shown)
    expect(page.locator("#suggestion")).to_contain_text(f"labelled {classes[2]}")


def test_a_double_click_on_a_class_button_labels_one_image(server: tuple[str, Path], page: Page) -> None:
    """The second click of a double click lands where the button was, on the next image, barely seen: ignored."""
    url, project_dir = server
    with Project.open(project_dir) as project:
        before = project.labelled()
    page.goto(url)
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    classes = json.loads(page.locator("#classes-data").inner_text())
    first = int(page.locator("#image").get_attribute("data-id") or 0)
    page.locator("#classes button").nth(1).dblclick()
    expect(page.locator("#image")).not_to_have_attribute("data-id", str(first))
    wait_for_label_count(page, len(before) + 1)
    page.wait_for_load_state("networkidle")  # every write the page sent has been answered
    with Project.open(project_dir) as project:
        after = project.labelled()
    assert {i: c for i, c in after.items() if i not in before} == {first: classes[1]}


def test_no_image_comes_twice_when_fetches_ahead_overlap(server: tuple[str, Path], page: Page) -> None:
    """A key pressed while the page's fetch-ahead is still out makes the page wait for it: the images both bring
    are shown once each (two fetches in flight at once used to queue the same images twice)."""
    url, _ = server
    held: list[Route] = []
    hold = [False]

    def fetch_ahead(route: Route) -> None:
        if hold[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/next*", fetch_ahead)
    out = _requests_in_flight(page)
    page.goto(url + "/?queue=random")
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    shown: list[str] = []
    # Hold only once the page is quiet (its writes answered, three images ahead): on a loaded machine a fetch or a
    # label still out would leave fewer ahead, and the first key would then wait on a held fetch for ever.
    deadline = time.monotonic() + 30
    while out[0] and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    hold[0] = True
    moved = True
    while not held:  # label until the page asks for more in the background (three images still ahead)
        shown.append(page.locator("#image").get_attribute("data-id") or "")
        moved = _label_until_moved_or_held(page, held)
        assert len(shown) < 15, "the page never fetched ahead"
    if moved:  # the fetch went out behind the image shown: a key now finds it out
        on_screen = page.locator("#image").get_attribute("data-id") or ""
        page.keyboard.press("1")  # fewer than three ahead: the page waits for the fetch still out
        shown.append(on_screen)
    # else the quiet page had fewer than three ahead (its last fetch brought images it already had, their labels
    # then still on the way), so the key itself sent the fetch, now held, and the page waits for it already
    page.wait_for_timeout(300)  # a second fetch, if the key asked for one, is out and held too
    hold[0] = False
    for route in held:
        route.continue_()
    expect(page.locator("#image")).not_to_have_attribute("data-id", on_screen)
    for _ in range(15):
        shown.append(_label_and_move_on(page))
    assert len(set(shown)) == len(shown), f"shown twice: {sorted(i for i in shown if shown.count(i) > 1)}"


def _requests_in_flight(page: Page) -> list[int]:
    """A counter, kept up to date, of the page's API requests sent and not yet answered (or failed)."""
    out = [0]

    def counted(change: int) -> Callable[[Request], None]:
        def count(request: Request) -> None:
            if "/api/" in request.url:
                out[0] += change

        return count

    page.on("request", counted(1))
    page.on("requestfinished", counted(-1))
    page.on("requestfailed", counted(-1))
    return out


def _label_until_moved_or_held(page: Page, held: list[Route]) -> bool:
    """Press 1 on the image shown and wait until the next one is shown (True) or a fetch-ahead is held with the
    labelled image still on screen, the page waiting for that fetch (False)."""
    image_id = page.locator("#image").get_attribute("data-id") or ""
    page.keyboard.press("1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (page.locator("#image").get_attribute("data-id") or "") != image_id:
            return True
        if held:
            return False
        page.wait_for_timeout(50)
    raise AssertionError(f"image {image_id} stayed on screen for 30 s with no fetch held")


def _label_and_move_on(page: Page) -> str:
    """Press 1 on the image shown, wait for the next one; the id labelled. The wait is long: on a loaded machine a
    fetch-ahead sent before the test began holding them can take seconds, and the page rightly waits for it."""
    image_id = page.locator("#image").get_attribute("data-id") or ""
    page.keyboard.press("1")
    expect(page.locator("#image")).not_to_have_attribute("data-id", image_id, timeout=30_000)
    return image_id


def _tile_ids(page: Page) -> list[int]:
    tiles = page.locator("#grid .tile")
    return [int(tiles.nth(i).get_attribute("data-id") or 0) for i in range(tiles.count())]


def _next_page(page: Page) -> list[int]:
    """The ids on the grid once a labelling request has been answered and the next page drawn."""
    expect(page.locator("#grid")).not_to_have_attribute("aria-busy", "true")
    return _tile_ids(page)


def test_grid_labels_a_selection_and_accepts_all_above_p(
    server: tuple[str, Path], page: Page, screenshots: Path
) -> None:
    url, project_dir = server
    page.goto(url + "/grid?queue=class:Bag")
    page.wait_for_selector("#grid .tile")
    tiles = page.locator("#grid .tile")
    ids = _tile_ids(page)[:5]
    tiles.nth(0).click()
    tiles.nth(3).click(modifiers=["Shift"])  # a range: tiles 0 to 3
    page.keyboard.press("ArrowRight")  # focus moves from tile 3 to 4
    page.keyboard.press("x")
    expect(page.locator("#selected")).to_contain_text("5 selected")
    page.screenshot(path=str(screenshots / "labeling-grid.png"))
    bag = json.loads(page.locator("#classes-data").inner_text()).index("Bag") + 1
    page.keyboard.press(str(bag))
    expect(page.locator("#status")).to_contain_text("labelled")
    shown = _next_page(page)
    assert shown and not set(ids) & set(shown)
    page.fill("#threshold", "0")  # accept every suggestion on the page
    page.click("#accept-above button")
    wait_until(
        page,
        "(first) => { const tile = document.querySelector('#grid .tile'); return !tile || tile.dataset.id !== first; }",
        str(shown[0]),
    )
    with Project.open(project_dir) as project:
        labels = project.labelled()
        events = {e.image_id: e for e in project.label_history()}
    assert all(labels[i] == "Bag" for i in ids)
    assert all(i in labels and events[i].source == "model-accepted" for i in shown)


@pytest.fixture()
def reviewed(tmp_path: Path, fashion_dir: Path) -> Iterator[tuple[str, Path, list[int]]]:
    """`tetsuban serve` on a project where a careless annotator labelled four trousers "Bag": labels to review."""
    project_dir = embedded_project(fashion_dir, tmp_path, 80, 20, test=0.2, val=0.2)
    with Project.open(project_dir) as project:
        splits, labels = project.splits(), project.labelled()
        planted = [i for i, label in labels.items() if label == "Trouser" and splits.get(i) == "train"][:4]
        project.set_labels([(i, "Bag") for i in planted], "human", "careless")
    process, url = start_serve(project_dir, tmp_path / "serve.log")
    yield url, project_dir, planted
    process.terminate()
    process.wait(timeout=30)


def test_the_review_grid_shows_each_label_asks_before_changing_them_and_undoes_them_at_once(
    reviewed: tuple[str, Path, list[int]], page: Page
) -> None:
    url, project_dir, planted = reviewed
    page.goto(url + "/grid?queue=review")
    shown = {int(i): caption for i, caption in captions(page).items()}
    with Project.open(project_dir) as project:
        before = project.labelled()
        authors = {e.image_id: e.author for e in project.label_history()}
    assert set(planted) & set(shown)
    with Project.open(project_dir) as project:
        found = project.label_issues()
    low, high = found.wrong.interval
    expect(page.locator("#review-count")).to_have_text(
        f"About {found.wrong.expected} of the {found.wrong.labels} labels are likely wrong ({low} to {high}); "
        f"{len(found.issues)} look wrong here, the likeliest first."
    )
    for image_id, caption in shown.items():  # the current label beside the suggestion
        assert caption.startswith(f"now {before[image_id]} · suggested ") and caption.endswith("%")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    lowest = min(int(caption.rsplit(" ", 1)[1].rstrip("%")) for caption in shown.values())
    page.fill("#threshold", str(max(0, lowest - 1)))  # every suggestion on the page, in percent as the captions
    page.click("#accept-above button")
    deadline = time.monotonic() + 10
    while not asked and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    expect(page.locator("#grid .tile")).to_have_count(len(shown))
    assert asked and asked[0].startswith(f"This changes {len(shown)} label(s) that people gave.")
    with Project.open(project_dir) as project:
        assert project.labelled() == before  # dismissed: nothing changed
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#accept-above button")
    expect(page.locator("#undo-page")).to_have_text(f"Undo the last change ({len(shown)})")
    with Project.open(project_dir) as project:
        changed = project.labelled()
    suggested = {i: caption.split(" · suggested ")[1].rsplit(" ", 1)[0] for i, caption in shown.items()}
    assert {i: changed[i] for i in shown} == suggested
    page.click("#undo-page")
    expect(page.locator("#undo-page")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text(f"{len(shown)} label(s) put back")
    with Project.open(project_dir) as project:
        assert project.labelled() == before  # every label back, under its own author's name
        restored = {e.image_id: e for e in project.label_history() if e.image_id in shown}
    assert all(restored[i].author == authors[i] and restored[i].source == "restored" for i in shown)


def test_enter_on_a_label_under_review_changes_it_only_when_pressed_twice(
    reviewed: tuple[str, Path, list[int]], page: Page
) -> None:
    url, project_dir, _ = reviewed
    page.goto(url + "/?queue=review")
    image_id = int(str(wait_until(page, "() => document.getElementById('image')?.dataset.id")))
    with Project.open(project_dir) as project:
        given = project.labelled()[image_id]
    line = page.locator("#suggestion")
    expect(line).to_contain_text(f"labelled {given} · suggestion: ")
    expect(page.locator("#review-count")).to_contain_text(" labels are likely wrong (")
    suggestion = json.loads(page.locator("#classes-data").inner_text())
    page.keyboard.press("Enter")
    expect(line).to_contain_text(f"Press Enter again to change {given} to ")
    name = line.inner_text().rsplit(" to ", 1)[1]
    assert name in suggestion and name != given
    expect(page.locator("#image")).to_have_attribute("data-id", str(image_id))  # still this image
    with Project.open(project_dir) as project:
        assert project.labelled()[image_id] == given
    page.keyboard.press("Enter")
    expect(page.locator("#image")).not_to_have_attribute("data-id", str(image_id))
    wait_until(page, "() => /labelled/.test(document.getElementById('status').textContent)")
    with Project.open(project_dir) as project:
        assert project.labelled()[image_id] == name


def test_a_class_added_on_the_page_labels_by_its_key(server: tuple[str, Path], page: Page) -> None:
    url, project_dir = server
    with Project.open(project_dir) as project:
        before = len(project.labelled())
    page.goto(url)
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    page.fill("#class-name", "Hat")
    page.press("#class-name", "Enter")
    expect(page.locator("#classes button").last).to_have_text("⇧2 Hat")  # the eleventh class: Shift+2
    image_id = int(page.locator("#image").get_attribute("data-id") or 0)
    page.locator("#classes button", has_text="Hat").click()
    wait_for_label_count(page, before + 1)  # stored: the page moves on before the server answers
    with Project.open(project_dir) as project:
        assert "Hat" in project.classes() and project.labelled()[image_id] == "Hat"


def test_a_project_without_classes_says_how_to_add_one_and_every_class_gets_a_key(
    tmp_path: Path, fashion_dir: Path, page: Page
) -> None:
    """No class: the page says how to add one, not "1-9 label". After adding one, the keys label (the cursor has
    left the box); the tenth class gets Shift+1 and the hint says so."""
    unlabelled = write_unlabelled_fashion_images(fashion_dir, tmp_path / "unlabelled", 30)
    with Project.init(tmp_path / "project") as project:
        project.import_folder(unlabelled)
    process, url = start_serve(tmp_path / "project", tmp_path / "serve.log")
    try:
        page.goto(url)
        wait_until(page, "() => document.getElementById('image')?.dataset.id")
        expect(page.locator("#classes")).to_have_text(
            "No class yet: type a class name in the box below and press Enter."
        )
        expect(page.locator("#keys-hint")).to_have_text("Keys label once there are classes.")
        page.fill("#class-name", "Flag")
        page.press("#class-name", "Enter")
        expect(page.locator("#classes button")).to_have_text(["1 Flag"])
        expect(page.locator("#keys-hint")).to_contain_text("Keys: 1 label · Enter")
        first = int(page.locator("#image").get_attribute("data-id") or 0)
        page.keyboard.press("1")
        wait_for_label_count(page, 1)
        assert page.input_value("#class-name") == ""  # the key labelled; it did not type into the box
        for name in "BCDEFGHIJ":
            page.fill("#class-name", f"Class {name}")
            page.press("#class-name", "Enter")
        buttons = page.locator("#classes button")
        expect(buttons).to_have_count(10)
        expect(buttons.nth(9)).to_have_text("⇧1 Class J")
        expect(page.locator("#keys-hint")).to_contain_text("Keys: 1-9, ⇧1 label")
        second = int(page.locator("#image").get_attribute("data-id") or 0)
        page.keyboard.press("Shift+Digit1")
        wait_for_label_count(page, 2)
        with Project.open(tmp_path / "project") as project:
            assert (project.labelled()[first], project.labelled()[second]) == ("Flag", "Class J")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_reviewer_renames_and_removes_a_class_on_the_page(tmp_path: Path, fashion_dir: Path, page: Page) -> None:
    """A misspelt class is renamed where it stands (same key, its images relabelled, the history keeping the old
    name); removing a class asks first with the images it would clear, and clears them."""
    project_dir = embedded_project(fashion_dir, tmp_path, 40, 40, test=0.2, val=0.2)
    process, url = start_serve(project_dir, tmp_path / "serve.log")
    try:
        page.goto(url)
        wait_until(page, "() => document.getElementById('image')?.dataset.id")
        labelled = httpx.get(url + "/api/stats").json()["labelled"]
        page.fill("#class-name", "Flgas")
        page.press("#class-name", "Enter")
        buttons = page.locator("#classes button")
        expect(buttons.last).to_contain_text("Flgas")
        position = buttons.count() - 1
        flagged = int(page.locator("#image").get_attribute("data-id") or 0)
        buttons.last.click()
        wait_for_label_count(page, labelled + 1)
        page.select_option("#edit-class", "Flgas")
        page.fill("#edit-name", "Flags")
        page.click("#rename-class")
        expect(page.locator("#edit-result")).to_have_text(
            "Renamed Flgas to Flags: 1 image(s) relabelled (the history keeps the old name)."
        )
        expect(buttons.nth(position)).to_contain_text("Flags")  # the same key
        with Project.open(project_dir) as project:
            assert project.labelled()[flagged] == "Flags" and "Flgas" not in project.classes()
            assert [e.label for e in project.label_history(flagged)] == ["Flgas", "Flags"]
        page.select_option("#edit-class", "Flags")
        message = dialog_message(page, False, lambda: page.click("#remove-class"))
        assert message == "1 image(s) are labelled Flags. Remove the class and clear their labels?"
        with Project.open(project_dir) as project:
            assert project.labelled()[flagged] == "Flags"  # dismissed: nothing removed
        dialog_message(page, True, lambda: page.click("#remove-class"))
        expect(page.locator("#edit-result")).to_have_text(
            "Removed Flags: 1 image(s) lost their label (the history keeps it)."
        )
        with Project.open(project_dir) as project:
            assert flagged not in project.labelled() and "Flags" not in project.classes()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_grid_keeps_its_class_buttons_in_view_while_scrolling(server: tuple[str, Path], page: Page) -> None:
    url, _ = server
    page.goto(url + "/grid?queue=random")
    page.wait_for_selector("#grid .tile")
    expect(page.locator("#keys-hint")).to_contain_text("labels the selection")  # above the tiles, not below 48
    hint_top = page.evaluate("() => document.getElementById('keys-hint').getBoundingClientRect().top")
    grid_top = page.evaluate("() => document.getElementById('grid').getBoundingClientRect().top")
    assert hint_top < grid_top
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    first_tile = page.evaluate("() => document.querySelector('#grid .tile').getBoundingClientRect().bottom")
    buttons = page.evaluate("() => document.getElementById('classes').getBoundingClientRect().top")
    assert first_tile < 0  # scrolled past the first row of tiles
    assert 0 <= buttons < 60  # the class buttons stayed at the top of the window


def test_the_first_unsure_mark_says_it_added_the_property(server: tuple[str, Path], page: Page) -> None:
    url, project_dir = server
    with Project.open(project_dir) as project:
        assert "unsure" not in project.properties()
    page.goto(url + "/?queue=random")
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    page.keyboard.press("u")
    expect(page.locator("#status")).to_contain_text('this added the yes/no property "unsure"')
    page.keyboard.press("u")
    expect(page.locator("#status")).to_have_text("marked unsure")


def test_the_suggestions_change_after_a_retrain(server: tuple[str, Path], page: Page, browser: Browser) -> None:
    url, _ = server
    page.goto(url + "/grid?queue=random")
    before = captions(page)
    generation = httpx.get(url + "/api/stats").json()["generation"]
    single = browser.new_page(locale="en-GB")
    single.goto(url + "/?queue=uncertainty")
    wait_until(single, "() => document.getElementById('image')?.dataset.id")
    for _ in range(10):  # retrain_every: ten labels, all the first class
        image_id = single.locator("#image").get_attribute("data-id")
        single.keyboard.press("1")
        expect(single.locator("#image")).not_to_have_attribute("data-id", image_id or "")
    deadline = time.monotonic() + 60
    while httpx.get(url + "/api/stats").json()["generation"] == generation and time.monotonic() < deadline:
        time.sleep(0.2)
    page.reload()
    after = captions(page)
    common = before.keys() & after.keys()
    assert len(common) >= 10
    assert any(before[i] != after[i] for i in common)  # the same images, suggested anew


def test_the_panel_asks_for_validation_labels_then_draws_the_learning_curve(
    tmp_path: Path, fashion_dir: Path, page: Page
) -> None:
    """Before ten validation labels the panel says how many more it needs; labelling them in the holdout queue (no
    retrain) draws the curve: a dot per measured point, the latest with its number, and what it says of 95%."""
    project_dir = embedded_project(fashion_dir, tmp_path, 60, 40, test=0.2, val=0.2)
    with Project.open(project_dir) as project:  # the labels of the val images are to be given on the page
        splits = project.splits()
        project.set_labels([(i, None) for i in project.labelled() if splits.get(i) == "val"], "human", "tester")
    process, url = start_serve(project_dir, tmp_path / "serve.log")
    try:
        _label_validation_images_until_the_curve_is_drawn(url, page)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _label_validation_images_until_the_curve_is_drawn(url: str, page: Page) -> None:
    page.goto(url + "/?queue=holdout")
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    stats = panel_stats(url)
    missing = stats["curve_missing"]
    assert stats["curve"] is None and missing["kind"] == "val" and missing["have"] < 10
    more = missing["need"] - missing["have"]
    expect(page.locator("#curve-caption")).to_have_text(
        f"The chart needs {more} more labelled validation images: label some in the validation and test queue "
        "(they measure the model, they do not train it)."
    )
    expect(page.locator("#chart")).to_be_hidden()
    labelled, generation = stats["labelled"], stats["generation"]
    for _ in range(60):  # the holdout queue mixes val and test images
        page.keyboard.press("1")
        labelled += 1
        wait_for_label_count(page, labelled)  # stored
        stats = panel_stats(url)
        if stats["curve"] is not None:
            break
    curve, reach = stats["curve"], stats["reach"]
    assert curve is not None and curve["validation_images"] == 10 and stats["generation"] == generation
    expect(page.locator("#chart circle")).to_have_count(len(curve["points"]))
    latest = curve["points"][-1]
    expect(page.locator("#chart text.latest")).to_have_text(f"{round(latest['accuracy'] * 100)}%")
    expect(page.locator("#curve-caption")).to_have_text("Dots: measured on 10 validation images; line: fitted curve")
    words = {
        "reached": f"95% reached: {round(reach['accuracy'] * 100)}% on the validation images",
        "estimate": f"About {reach['more']} more labels to reach 95% (fitted learning curve)",
        "beyond_images": f"95% would take about {reach['total']} labels, more than the {reach['train_images']} "
        "training images there are: out of reach without more images",
        "levels_off": "The curve levels off below 95%: more labels alone will not get there",
    }
    expect(page.locator("#target")).to_have_text(words[reach["verdict"]])


def test_the_page_speaks_japanese_when_the_browser_does(server: tuple[str, Path], browser: Browser) -> None:
    url, _ = server
    page = browser.new_page(locale="ja-JP")
    page.goto(url)
    expect(page.locator("nav.modes")).to_contain_text("1枚ずつ")
    page.click("#lang")
    expect(page.locator("nav.modes")).to_contain_text("One by one")


def test_login_csrf_and_a_killed_server_that_resumes(tmp_path: Path, fashion_dir: Path, browser: Browser) -> None:
    project_dir = embedded_project(fashion_dir, tmp_path, 40, 40, test=0.1, val=0.1)
    with Project.open(project_dir) as project:
        project.accounts.add("ann", "a long password", "annotator")
    process, url = start_serve(project_dir, tmp_path / "serve.log")
    try:
        page = browser.new_page(locale="en-GB")
        page.goto(url)
        expect(page).to_have_url(url + "/login")
        page.fill("input[name=name]", "ann")
        page.fill("input[name=password]", "a long password")
        page.click("form button")
        wait_until(page, "() => document.getElementById('image')?.dataset.id")
        image_id = int(page.locator("#image").get_attribute("data-id") or 0)
        post = """async ([id, token]) => {
            const headers = {"Content-Type": "application/json"};
            if (token) headers["X-CSRF-Token"] = token;
            const r = await fetch("/api/labels", {method: "POST", headers,
                body: JSON.stringify({image_id: id, label: "Bag"})});
            return r.status;
        }"""
        assert page.evaluate(post, [image_id, None]) == 403
        assert page.evaluate(post, [image_id, "forged"]) == 403
        with Project.open(project_dir) as project:
            assert image_id not in project.labelled()
            before = len(project.labelled())
        for n in range(1, 4):
            shown = page.locator("#image").get_attribute("data-id") or ""
            page.keyboard.press("1")
            expect(page.locator("#image")).not_to_have_attribute("data-id", shown)  # the next one shown
            wait_for_label_count(page, before + n)  # and the label stored
        with Project.open(project_dir) as project:
            given = {e.image_id for e in project.label_history() if e.author == "ann"}
        assert len(given) == 3
        process.kill()  # SIGKILL: no clean shutdown
        process.wait(timeout=30)
        process, url = start_serve(project_dir, tmp_path / "serve.log")
        page.goto(url)  # the session cookie lives on in the store
        wait_until(page, "() => document.getElementById('image')?.dataset.id")
        assert int(page.locator("#image").get_attribute("data-id") or 0) not in given
        with Project.open(project_dir) as project:
            assert given <= {e.image_id for e in project.label_history() if e.author == "ann"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_files_chosen_or_dropped_on_the_page_are_imported(
    server: tuple[str, Path], page: Page, photos_dir: Path, tmp_path: Path
) -> None:
    url, project_dir = server
    broken = tmp_path / "broken.jpg"
    photo = sorted(photos_dir.glob("*.jpg"))[0]
    broken.write_bytes(photo.read_bytes()[:300])
    page.goto(url)
    page.select_option("#upload-class", "Bag")
    page.set_input_files("#files", [str(photo), str(broken)])  # what a phone's camera or a file picker hands over
    expect(page.locator("#upload-result")).to_contain_text("1 added")
    expect(page.locator("#upload-result")).to_contain_text("broken.jpg")
    dropped = sorted(photos_dir.glob("*.jpg"))[1]
    page.select_option("#upload-class", "")
    page.evaluate(DROP, [dropped.name, base64.b64encode(dropped.read_bytes()).decode()])
    expect(page.locator("#upload-result")).to_contain_text("1 added, 0 already there, 0 refused")
    with Project.open(project_dir) as project:
        added = {r.id for r in project.images() if r.format == "JPEG"}
        labels = project.labelled()
    assert len(added) == 2 and sorted(labels.get(i, "-") for i in added) == ["-", "Bag"]


DROP = """([name, data]) => {  // a file dropped on the page, as a file manager's drag and drop hands it over
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
  const drop = new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true });
  document.getElementById("drop").dispatchEvent(drop);
}"""
