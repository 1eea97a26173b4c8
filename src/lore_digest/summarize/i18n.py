"""The fixed phrases of reports in each language (zh default, en)."""

from __future__ import annotations

from lore_digest.errors import UsageError
from lore_digest.facts.attribution import GivenTrailer
from lore_digest.facts.status import Claim
from lore_digest.vocabulary import LANGUAGES, format_counted

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
        "series_line": "v{version} 系列，共 {total} 个补丁",
        "single_patch": "单个补丁",
        "earlier_rev": "此前版本：{revs}。",
        "rev_item": "v{version}（{date}）",
        "earlier_trailers": "本周前已获得 {trailers}。",
        "earlier_requests": "此前评审要求修改，作者已同意（见引用）。",
        "new_revision": "本周发出 v{version}。",
        "new_series": "本周首次发出。",
        "changes": "本版改动：“{text}”",
        "given": "{who} 给出 {kind}（{target}）",
        "given_by_other": "{sender} 发出的、署名 {who} 的 {kind}（{target}；不计在 {who} 名下）",
        "all_patches": "全部补丁",
        "patch_n": "补丁 {n}",
        "asked": "{who} 提问：“{text}”",
        "applied": "{who} 已合入{branch}{commits}。",
        "applied_part": "{who} 已合入其中一部分（{part}）{branch}{commits}。",
        "dropped": "{who} 已撤下该系列。",
        "withdrawn": "作者已撤回该系列。",
        "accepted": "{who} 表示将接收该系列（尚未确认合入）。",
        "claim": "{claim}——{why}。",
        "applied_branch": " {branch}",
        "applied_commits": "（{count} 个提交）",
        "naked": "{who} 给出 NAK。",
        "superseded": "已被 v{version} 取代。",
        "changes_requested": "评审要求修改，作者同意修改/将发新版本。",
        "pulled": "拉取请求已被合并。",
        "no_review_yet": "尚无 Reviewed-by/Acked-by 的补丁：{patches}。",
        "waiting_days": "已等待 {days} 天",
    },
    "en": {
        "original": "Original patch",
        "history": "Earlier discussion",
        "this_week": "This week",
        "patches_in_series": "Series of {total} patches",
        "no_history": "New this week; no earlier mail.",
        "history_mails": "{count} earlier mail{count_s} (since {first}) from {people}.",
        "week_mails": "{count} mail{count_s} this week from {people}.",
        "week_posted": "Posted this week: {what}.",
        "week_replies": "{count} repl{count_ies} from {people}.",
        "no_week_replies": "No replies from others yet this week.",
        "says": "{who} wrote: “{text}”",
        "no_prose": "(the first mail has no prose)",
        "and_more": "and {count} more",
        "sep": ", ",
        "series_line": "v{version} series of {total} patches",
        "single_patch": "single patch",
        "earlier_rev": "Earlier revisions: {revs}.",
        "rev_item": "v{version} ({date})",
        "earlier_trailers": "Before this week it collected {trailers}.",
        "earlier_requests": "Reviewers asked for changes earlier and the author agreed (see citations).",
        "new_revision": "v{version} posted this week.",
        "new_series": "First posted this week.",
        "changes": "Changes in this version: “{text}”",
        "given": "{who} gave {kind} ({target})",
        "given_by_other": "{kind} naming {who}, sent by {sender} ({target}; not credited to {who})",
        "all_patches": "whole series",
        "patch_n": "patch {n}",
        "asked": "{who} asked: “{text}”",
        "applied": "{who} applied it{branch}{commits}.",
        "applied_part": "{who} applied part of it ({part}){branch}{commits}.",
        "dropped": "{who} dropped it.",
        "withdrawn": "The author withdrew it.",
        "accepted": "{who} said they will take it (not applied yet).",
        "claim": "{claim} — {why}.",
        "applied_branch": " to {branch}",
        "applied_commits": " ({count} commit{count_s})",
        "naked": "{who} NAKed it.",
        "superseded": "Superseded by v{version}.",
        "changes_requested": "Changes were requested and the author agreed to rework it.",
        "pulled": "The pull request was merged.",
        "no_review_yet": "Patches without Reviewed-by/Acked-by yet: {patches}.",
        "waiting_days": "waiting {days} day{days_s}",
    },
}


def check_lang(lang: str) -> str:
    """Validate a report language code."""
    if lang not in PHRASES:
        raise UsageError(f"unknown language {lang!r} (choose from {', '.join(LANGUAGES)})")
    return lang


def phrase(lang: str, key: str, **values: object) -> str:
    """A fixed phrase in `lang`, formatted (English plural endings included)."""
    return format_counted(PHRASES[lang][key], **values)


def people(lang: str, names: list[str], limit: int = 5) -> str:
    """A short list of names: the first `limit`, then "and N more"."""
    shown = names[:limit]
    text = PHRASES[lang]["sep"].join(shown)
    if len(names) > limit:
        text += " " + phrase(lang, "and_more", count=len(names) - limit)
    return text


CLAIM_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "applied": "{who} 称已合入{detail}",
        "merged": "{who} 称已拉取合并{detail}",
        "NAKed": "{who} 给出了 NAK",
        "dropped": "{who} 称已撤下",
        "not-maintainer": "并非这些文件的维护者，不作为状态依据",
        "not-applier": "不在本列表已知的合入者之列，不作为状态依据",
        "robot": "机器人的通知，未经维护者确认",
        "sent_by": "由 {sender} 代发",
    },
    "en": {
        "applied": "{who} says it was applied{detail}",
        "merged": "{who} says it was merged{detail}",
        "NAKed": "{who} says NAK",
        "dropped": "{who} says it was dropped",
        "not-maintainer": "not a maintainer of these files, so not a status",
        "not-applier": "not one of the list's known appliers, so not a status",
        "robot": "a robot's notice, not confirmed by a maintainer",
        "sent_by": "sent by {sender}",
    },
}
"""How a claim (a decision from someone without standing) is printed, per language."""


def claim_text(claim: Claim, lang: str) -> str:
    """ "Mallory says it was applied to next": what the claim says, in `lang`."""
    detail = ""
    if claim.detail:
        detail = f" {claim.detail}" if lang == "zh" else f" to {claim.detail}"
    return CLAIM_LABELS[lang][claim.kind].format(who=claim.by_name or claim.by_email, detail=detail)


def claim_reason(claim: Claim, lang: str) -> str:
    """Why it is only a claim, in `lang`."""
    return CLAIM_LABELS[lang].get(claim.reason, claim.why)


def sent_by(trailer: GivenTrailer, lang: str) -> str:
    """ "sent by Mallory": who sent a trailer that names someone else."""
    sender = trailer.sent_by_name or trailer.sent_by_email
    return CLAIM_LABELS[lang]["sent_by"].format(sender=sender)
