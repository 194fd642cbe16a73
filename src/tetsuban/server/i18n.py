"""The app's words in English and Japanese. The browser's language chooses; the switch sets a cookie."""

from __future__ import annotations

from fastapi import Request

LANGUAGES: tuple[str, ...] = ("en", "ja")
LANG_COOKIE = "tetsuban_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "single": "One by one",
        "grid": "Grid",
        "queue": "Queue",
        "queue.hybrid": "Model's choice",
        "queue.uncertainty": "Most uncertain",
        "queue.random": "Random",
        "queue.review": "Labels to review",
        "queue.second": "Second opinion",
        "queue.holdout": "Validation and test",
        "queue.class": "Likely {name}",
        "suggestion": "suggestion: {name} ({p}%)",
        "no_suggestion": "no suggestion yet",
        "current": "labelled {name}",
        "keys.single": "Keys: {labels} label · Enter accepts the suggestion · Space or 0 skips · U unsure"
        " · Z or Backspace undoes · ← → go back and forth",
        "keys.grid": "Click or x selects · Shift+click a range · A all · {labels} labels the selection · arrows"
        " move · Z undoes the last change",
        "keys.click_rest": "{keys}; the other {n} by click",
        "keys.no_class": "Keys label once there are classes.",
        "no_class_add": "No class yet: type a class name in the box below and press Enter.",
        "edit_classes": "Classes",
        "edit_which": "Class",
        "edit_name": "New name, or the class to merge into",
        "rename": "rename",
        "merge_into": "merge into",
        "remove": "remove",
        "renamed": "Renamed {old} to {new}: {n} image(s) relabelled (the history keeps the old name).",
        "merged": "Merged {classes} into {into}: {n} image(s) relabelled.",
        "removed": "Removed {name}: {n} image(s) lost their label (the history keeps it).",
        "confirm_remove": "{n} image(s) are labelled {name}. Remove the class and clear their labels?",
        "no_class_ask": "No class yet: a reviewer or an admin adds them.",
        "given_and_suggested": "now {given} · suggested {suggested}",
        "confirm_change": "This changes {n} label(s) that people gave. Change them? (Z or the Undo button puts them"
        " back.)",
        "undo_page": "Undo the last change ({n})",
        "undone_page": "{n} label(s) put back · {total} labelled",
        "enter_again": "Press Enter again to change {given} to {name}",
        "new_class": "new class",
        "add": "add",
        "nothing_left": "nothing left to label in this queue",
        "review_count": "About {n} of the {labels} labels are likely wrong ({low} to {high}); {listed} look wrong"
        " here, the likeliest first.",
        "status": "{n} labelled · model generation {g}",
        "undone": "{n} labelled · undone",
        "unsure_marked": "marked unsure",
        "unsure_created": 'marked unsure: this added the yes/no property "unsure" to the property sheet (tetsuban'
        " props list)",
        "panel": "Progress",
        "per_class": "Labels per class",
        "last_hour": "Labels in the last hour: {n}",
        "val_accuracy": "Validation accuracy against labels",
        "curve_needs_val": "The chart needs {n} more labelled validation images: label some in the validation and"
        " test queue (they measure the model, they do not train it).",
        "curve_needs_train": "The chart needs at least {need} training labels of two classes or more ({have} so far).",
        "curve_drawing": "Drawing the learning curve…",
        "curve_failed": "The learning curve could not be drawn ({why}).",
        "curve_caption": "Dots: measured on {v} validation images; line: fitted curve",
        "next_retrain": "Next retrain in {n} label(s)",
        "retrain_failed": "The last retrain failed ({why}); the suggestions are from the one before.",
        "reach_reached": "{t}% reached: {a}% on the validation images",
        "reach_estimate": "About {n} more labels to reach {t}% (fitted learning curve)",
        "reach_beyond_images": "{t}% would take about {total} labels, more than the {pool} training images there are:"
        " out of reach without more images",
        "reach_levels_off": "The curve levels off below {t}%: more labels alone will not get there",
        "reach_none": "No estimate for {t}% until the chart is drawn",
        "upload": "Add images",
        "drop": "Drop image files here, or",
        "choose": "choose files or take a photo",
        "into_class": "into class",
        "no_class": "(no class)",
        "uploaded": "{added} added, {duplicate} already there, {skipped} refused",
        "accept_above": "Accept all suggestions at or above",
        "accept": "accept",
        "selected": "{n} selected",
        "select_page": "select page",
        "fields": "Properties",
        "login": "Log in",
        "logout": "log out",
        "name": "Name",
        "password": "Password",
        "wrong_login": "Wrong name or password.",
        "too_many": "Too many failed logins. Try again in {s} s.",
        "busy": "Too many logins at once. Try again in a few seconds.",
        "language": "日本語",
        "reload": "This page is out of date: reload it.",
    },
    "ja": {
        "single": "1枚ずつ",
        "grid": "グリッド",
        "queue": "キュー",
        "queue.hybrid": "モデルの選択",
        "queue.uncertainty": "不確かなもの",
        "queue.random": "ランダム",
        "queue.review": "見直すラベル",
        "queue.second": "セカンドオピニオン",
        "queue.holdout": "検証・テスト",
        "queue.class": "{name} らしいもの",
        "suggestion": "候補: {name} ({p}%)",
        "no_suggestion": "候補はまだありません",
        "current": "ラベル: {name}",
        "keys.single": "キー: {labels} ラベル · Enter 候補を採用 · Space か 0 飛ばす · U 不確か"
        " · Z か Backspace 取り消し · ← → 前後へ",
        "keys.grid": "クリックか x で選択 · Shift+クリックで範囲 · A 全部 · {labels} 選択にラベル · 矢印で移動"
        " · Z 直前の変更を取り消し",
        "keys.click_rest": "{keys}、残り {n} クラスはクリックで",
        "keys.no_class": "クラスができるとキーでラベルを付けられます。",
        "no_class_add": "クラスがまだありません。下の欄にクラス名を入れて Enter を押してください。",
        "edit_classes": "クラス",
        "edit_which": "クラス",
        "edit_name": "新しい名前、または統合先のクラス",
        "rename": "名前を変える",
        "merge_into": "統合する",
        "remove": "削除",
        "renamed": "{old} を {new} に変えました: {n} 枚のラベルを付け替えました（履歴に元の名前が残ります）。",
        "merged": "{classes} を {into} に統合しました: {n} 枚のラベルを付け替えました。",
        "removed": "{name} を削除しました: {n} 枚のラベルを外しました（履歴に残ります）。",
        "confirm_remove": "{n} 枚が {name} とラベル付けされています。クラスを削除してラベルを外しますか？",
        "no_class_ask": "クラスがまだありません。レビュアーか管理者が追加します。",
        "given_and_suggested": "いま {given} · 候補 {suggested}",
        "confirm_change": "人が付けたラベル {n} 件を変更します。よろしいですか？（Z か取り消しボタンで元に戻せます）",
        "undo_page": "直前の変更を取り消す（{n} 件）",
        "undone_page": "{n} 件を元に戻しました · {total} 枚ラベル済み",
        "enter_again": "もう一度 Enter を押すと {given} を {name} に変えます",
        "new_class": "新しいクラス",
        "add": "追加",
        "nothing_left": "このキューにラベル付けする画像はもうありません",
        "review_count": "{labels} 件のラベルのうち約 {n} 件（{low}〜{high} 件）が誤りと見込まれます。ここには誤りらしい"
        "順に {listed} 件。",
        "status": "{n} 枚ラベル済み · モデル世代 {g}",
        "undone": "{n} 枚ラベル済み · 取り消しました",
        "unsure_marked": "不確かとしました",
        "unsure_created": "不確かとしました: プロパティシートに「unsure」（はい/いいえ）を追加しました"
        "（tetsuban props list）",
        "panel": "進み具合",
        "per_class": "クラスごとのラベル数",
        "last_hour": "この1時間のラベル数: {n}",
        "val_accuracy": "ラベル数に対する検証精度",
        "curve_needs_val": "グラフにはあと {n} 枚の検証画像のラベルが必要です。"
        "「検証・テスト」キューでラベルを付けてください（モデルを測るための画像で、学習には使いません）。",
        "curve_needs_train": "グラフには2クラス以上の学習ラベルが少なくとも {need} 枚必要です（いま {have} 枚）。",
        "curve_drawing": "学習曲線を描いています…",
        "curve_failed": "学習曲線を描けませんでした（{why}）。",
        "curve_caption": "点: {v} 枚の検証画像で測った精度、線: 当てはめた曲線",
        "next_retrain": "あと {n} ラベルで再学習",
        "retrain_failed": "前回の再学習は失敗しました（{why}）。候補はその前のモデルのものです。",
        "reach_reached": "{t}% に到達: 検証画像で {a}%",
        "reach_estimate": "{t}% まであと約 {n} ラベル（学習曲線の当てはめ）",
        "reach_beyond_images": "{t}% には約 {total} ラベルが必要で、学習用の画像 {pool} 枚を超えます。"
        "画像を増やさないと届きません",
        "reach_levels_off": "曲線は {t}% の手前で頭打ちです。ラベルを増やすだけでは届きません",
        "reach_none": "グラフが描けるまで {t}% までのラベル数は見積もれません",
        "upload": "画像を追加",
        "drop": "ここに画像ファイルをドロップ、または",
        "choose": "ファイルを選ぶか写真を撮る",
        "into_class": "クラス",
        "no_class": "（クラスなし）",
        "uploaded": "{added} 枚追加、{duplicate} 枚は既存、{skipped} 枚は拒否",
        "accept_above": "この確率以上の候補をすべて採用",
        "accept": "採用",
        "selected": "{n} 枚選択",
        "select_page": "ページを選択",
        "fields": "プロパティ",
        "login": "ログイン",
        "logout": "ログアウト",
        "name": "名前",
        "password": "パスワード",
        "wrong_login": "名前かパスワードが違います。",
        "too_many": "ログインの失敗が多すぎます。{s} 秒後にもう一度どうぞ。",
        "busy": "ログインが集中しています。数秒後にもう一度どうぞ。",
        "language": "English",
        "reload": "このページは古くなっています。再読み込みしてください。",
    },
}


def language(request: Request) -> str:
    """The cookie's language, else the first of the browser's languages that the app speaks, else English."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def other(lang: str) -> str:
    """The language the switch changes to."""
    return "ja" if lang == "en" else "en"
