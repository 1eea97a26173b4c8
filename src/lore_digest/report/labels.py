"""Headings and labels of rendered reports, per language."""

from __future__ import annotations

from lore_digest.facts.classify import Category

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "{list} 邮件列表周报 {label}",
        "generated": "生成时间",
        "window": "分析周期",
        "stats": "📊 总体统计",
        "messages": "总邮件数",
        "threads": "总 Thread 数",
        "participants": "参与者",
        "large": "大型 Thread (>20 封)",
        "unit_mails": "封邮件",
        "unit_threads": "个",
        "categories": "分类分布",
        "in_category": "共 {count} 个 thread",
        "mail_count": "📧 邮件数",
        "history_count": "另有 {count} 封历史邮件",
        "people": "👥 参与者",
        "started": "📅 开始时间",
        "series": "🧩 系列",
        "summary": "🤖 总结",
        "mail_list": "📝 邮件列表",
        "history_tag": "历史",
        "from": "发件人",
        "thread": "Thread",
        "none": "本周期内没有邮件。",
    },
    "en": {
        "title": "{list} mailing list digest {label}",
        "generated": "Generated",
        "window": "Window",
        "stats": "📊 Statistics",
        "messages": "Messages",
        "threads": "Threads",
        "participants": "Participants",
        "large": "Large threads (>20 mails)",
        "unit_mails": "mails",
        "unit_threads": "",
        "categories": "Categories",
        "in_category": "{count} threads",
        "mail_count": "📧 Mails",
        "history_count": "plus {count} earlier",
        "people": "👥 Participants",
        "started": "📅 Started",
        "series": "🧩 Series",
        "summary": "🤖 Summary",
        "mail_list": "📝 Mails",
        "history_tag": "history",
        "from": "From",
        "thread": "Thread",
        "none": "No mail in this window.",
    },
}

CATEGORY_LABELS: dict[str, dict[Category, str]] = {
    "zh": {
        Category.PATCH: "PATCH",
        Category.RFC: "RFC",
        Category.PULL: "GIT PULL",
        Category.BUG: "Bug 报告",
        Category.OTHER_PROJECT: "其他项目补丁",
        Category.DISCUSSION: "问题/讨论",
        Category.OTHER: "其他",
    },
    "en": {
        Category.PATCH: "PATCH",
        Category.RFC: "RFC",
        Category.PULL: "GIT PULL",
        Category.BUG: "Bug reports",
        Category.OTHER_PROJECT: "Other projects' patches",
        Category.DISCUSSION: "Questions/Discussion",
        Category.OTHER: "Other",
    },
}
