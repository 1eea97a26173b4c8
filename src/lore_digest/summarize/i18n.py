"""The fixed phrases of reports in each language (zh default, en)."""

from __future__ import annotations

from lore_digest.errors import UsageError

LANGS = ("zh", "en")

PHRASES: dict[str, dict[str, str]] = {
    "zh": {
        "original": "原始补丁内容",
        "history": "历史讨论",
        "this_week": "本周进展",
        "patches_in_series": "系列共 {total} 个补丁",
        "no_history": "本周新开的讨论，此前无邮件。",
        "history_mails": "此前共有 {count} 封邮件（{first} 起），参与者：{people}。",
        "week_mails": "本周 {count} 封邮件，来自：{people}。",
        "week_posted": "本周发出 {what}。",
        "week_replies": "{count} 封回复，来自：{people}。",
        "no_week_replies": "本周暂无他人回复。",
        "says": "{who} 写道：“{text}”",
        "no_prose": "（首封邮件没有正文说明）",
        "and_more": "等 {count} 人",
        "sep": "、",
    },
    "en": {
        "original": "Original patch",
        "history": "Earlier discussion",
        "this_week": "This week",
        "patches_in_series": "Series of {total} patches",
        "no_history": "New this week; no earlier mail.",
        "history_mails": "{count} earlier mails (since {first}) from {people}.",
        "week_mails": "{count} mails this week from {people}.",
        "week_posted": "Posted this week: {what}.",
        "week_replies": "{count} replies from {people}.",
        "no_week_replies": "No replies from others yet this week.",
        "says": "{who} wrote: “{text}”",
        "no_prose": "(the first mail has no prose)",
        "and_more": "and {count} more",
        "sep": ", ",
    },
}


def check_lang(lang: str) -> str:
    """Validate a report language code."""
    if lang not in PHRASES:
        raise UsageError(f"unknown language {lang!r} (choose from {', '.join(LANGS)})")
    return lang


def phrase(lang: str, key: str, **values: object) -> str:
    """A fixed phrase in `lang`, formatted."""
    return PHRASES[lang][key].format(**values)


def people(lang: str, names: list[str], limit: int = 5) -> str:
    """A short list of names: the first `limit`, then "and N more"."""
    shown = names[:limit]
    text = PHRASES[lang]["sep"].join(shown)
    if len(names) > limit:
        text += " " + phrase(lang, "and_more", count=len(names) - limit)
    return text
