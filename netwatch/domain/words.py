"""The words netwatch shows people, in Chinese and English, defined once for the command line, the nightly
report and the workbench: `say(key, lang)`. Categories, severities and statuses are in vocab.NAMES_ZH."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # lead fields
    "lead_id": ("编号", "id"), "status": ("状态", "status"), "severity": ("严重程度", "severity"),
    "category": ("违法类型", "category"), "rule": ("命中规则", "rule"), "platform": ("平台", "site"),
    "title": ("商品标题", "title"), "shop_name": ("店铺", "shop"), "matched_text": ("命中内容", "matched"),
    "context": ("上下文", "context"), "legal_basis": ("法律依据", "legal basis"), "listing_url": ("商品链接", "listing URL"),
    "shop_url": ("店铺链接", "shop URL"), "credit_code": ("统一社会信用代码", "credit code"),
    "licence_text": ("营业执照信息", "licence"), "price": ("价格", "price"), "original_price": ("原价（划线价）", "list price"),
    "first_seen": ("首次发现", "first seen"), "last_seen": ("最近发现", "last seen"), "times_seen": ("发现次数", "times seen"),
    "assignee": ("承办人", "assignee"), "note": ("备注", "note"), "region": ("所属地区", "region"),
    "evidence_hash": ("证据哈希（SHA-256）", "evidence hash"), "title_or_shop": ("商品/店铺", "title / shop"),
    # history and hits
    "history": ("处理记录", "history"), "notes": ("备注", "notes"), "at": ("时间", "time"), "user": ("操作人", "user"),
    "field": ("事项", "change"), "old": ("原值", "from"), "new": ("新值", "to"), "hits": ("命中记录", "hits"),
    "run": ("批次", "run"), "offsets": ("位置", "offsets"), "price_history": ("价格记录", "price history"),
    "fetched": ("抓取时间", "fetched"), "content_hash": ("页面哈希", "content hash"), "shop": ("店铺", "shop"),
    "no_history": ("暂无处理记录", "no changes recorded"),
    "evidence_first": ("首次发现证据", "evidence (first sighting)"),
    "evidence_latest": ("最近发现证据", "evidence (latest sighting)"), "not_archived": ("未存档", "not archived"),
    # runs
    "spider": ("爬虫", "spider"), "target": ("目标", "target"), "started": ("开始", "started"),
    "finished": ("结束", "finished"), "pages": ("页面", "pages"), "listings": ("商品", "listings"),
    "new_leads": ("新线索", "new"), "recurring": ("再次发现", "recurring"), "gone": ("已消失", "gone"),
    "by_category": ("各类线索", "leads by category"),
    # counts
    "leads_count": ("共 {n} 条线索", "{n} lead(s)"),
    "capped": ("只显示前 {shown} 条，共 {total} 条（用 --limit 显示更多，或加筛选条件）",
               "showing the first {shown} of {total} leads (raise --limit or filter)"),
    "leads_now": ("{n} 条线索已更新", "{n} lead(s) changed"),
    "written": ("{n} 条线索已写入 {out}", "{n} lead(s) written to {out}"),
    "events_written": ("{n} 条处理记录已写入 {out}", "{n} change(s) written to {out}"),
    "unassigned": ("未分配", "unassigned"),
    # the workbench
    "app": ("netwatch 线索工作台", "netwatch workbench"), "queue": ("线索队列", "Lead queue"),
    "dashboard": ("统计概览", "Dashboard"), "shops": ("店铺", "Shops"), "logout": ("退出", "Log out"),
    "login": ("登录", "Log in"), "username": ("用户名", "User name"), "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong user name or password"),
    "throttled": ("登录失败次数过多，请 {minutes} 分钟后再试", "Too many failed logins: try again in {minutes} minutes"),
    "filter": ("筛选", "Filter"), "all": ("全部", "all"), "text": ("关键词", "Text"), "since": ("起始日期", "From"),
    "until": ("截止日期", "Until"), "page": ("第 {page} / {pages} 页", "page {page} of {pages}"),
    "previous": ("上一页", "Previous"), "next": ("下一页", "Next"), "select_all": ("全选", "Select all"),
    "bulk": ("批量操作所选线索", "Apply to the selected leads"), "apply": ("提交", "Apply"),
    "bulk_filter": ("对筛选出的全部 {n} 条线索执行…", "Apply to all {n} leads matching this filter…"),
    "bulk_confirm_title": ("确认批量操作", "Confirm the bulk action"),
    "bulk_confirm_intro": ("将对符合上述筛选条件的全部 {n} 条线索（仅限你负责的地区）执行上述操作，每条线索的更改都记入处理记录。",
                           "The changes above will be made to all {n} leads matching the filter above (in your "
                           "regions only), each recorded in the lead's history."),
    "bulk_confirm": ("确认，更改这 {n} 条线索", "Yes, change these {n} leads"), "cancel": ("取消", "Cancel"),
    "bulk_count_changed": ("筛选结果已变为 {n} 条线索，尚未更改任何线索，请再次确认",
                           "The filter now matches {n} leads; nothing was changed: confirm again"),
    "bulk_nothing": ("未选择要执行的操作", "Choose a change to make"),
    "bulk_none": ("没有符合筛选条件的线索", "No lead matches this filter"),
    "bulk_too_many": ("一次最多更改 {n} 条线索，请缩小筛选范围", "At most {n} leads at once: narrow the filter"),
    "no_filter": ("无筛选条件（你能看到的全部线索）", "no filter (every lead you can see)"),
    "filter_conditions": ("筛选条件", "Filter"), "changes": ("操作", "Changes"),
    "triage": ("处理", "Triage"), "set_status": ("改为状态", "Set status"), "hand_off": ("移交地区", "Hand off to region"),
    "add_note": ("添加备注", "Add a note"), "keep": ("（不变）", "(unchanged)"), "saved": ("已保存", "Saved"),
    "evidence": ("证据", "Evidence"),
    "evidence_pending": ("证据截图、网页存档与核验状态将在证据功能上线后显示；目前可用的证据为页面内容哈希。",
                         "Screenshots, archived pages and their verification will show here once evidence capture "
                         "lands; for now the page's content hash is the evidence."),
    "details": ("商品与店铺信息", "Listing and shop"), "food_licence": ("食品经营许可证", "food licence"),
    "repeat": ("同一信用代码的店铺（线索多者在前）", "Shops with the same credit code (most leads first)"),
    "leads": ("线索", "Leads"), "open": ("未办结", "open"), "worst": ("最高严重程度", "worst"),
    "new_per_night": ("每晚新线索", "New leads per night"), "open_by_age": ("未办结线索（按发现天数）", "Open leads by age (days)"),
    "alarms": ("告警与失败目标", "Alarms and failing targets"), "no_alarms": ("无告警", "No alarms"),
    "role_analyst": ("分析员", "analyst"), "role_admin": ("管理员", "admin"),
    "language": ("English", "中文"), "role": ("角色", "role"), "regions": ("地区", "regions"),
    "forbidden": ("无权访问", "Not allowed"), "not_found": ("没有这条记录，或您无权查看", "No such record, or not yours to see"),
    "csrf": ("表单已过期，请刷新页面后重试", "The form expired: reload the page and try again"),
    "times_zone": ("时间均为 {zone}", "times in {zone}"), "count": ("数量", "count"), "none": ("无", "none"),
    # the nightly report
    "report_title": ("netwatch 夜间巡查报告 {day}（批次 {run}，标签 {tag}）", "netwatch nightly report {day} (run {run}, tag {tag})"),
    "overview": ("概况", "Overview"), "figure": ("项目", "figure"), "value": ("数值", "value"),
    "result": ("结果", "result"), "tag": ("标签", "tag"), "targets_crawled": ("巡查目标", "targets crawled"),
    "pages_fetched": ("抓取页面", "pages fetched"), "items_scraped": ("抓取条目", "items scraped"),
    "new_leads_n": ("新线索", "new leads"), "recurring_leads": ("再次发现的线索", "recurring leads"),
    "gone_leads": ("已消失的线索", "gone leads"), "resumed_note": ("续跑了一次被中断的夜间巡查", "resumed a nightly run that was killed"),
    "lock": ("运行锁", "lock"),
    "lock_cleared_gone": ("清除了失效的运行锁：{host} 上的进程 {pid} 已不存在",
                          "cleared a stale lock (process {pid} on {host} is gone)"),
    "lock_cleared_silent": ("清除了失效的运行锁：自 {since} 起没有心跳（超过 {minutes} 分钟）",
                            "cleared a stale lock (no heartbeat since {since}, over {minutes} min)"),
    "per_category": ("各类新线索", "New leads per category"),
    "per_site": ("各平台新线索", "New leads per site"), "per_region": ("各地区新线索", "New leads per region"),
    "urgent": ("新发现的严重和高危线索", "New critical and high leads"), "check": ("检查项", "check"),
    "message": ("说明", "message"), "targets": ("巡查目标", "Targets"), "errors": ("错误", "errors"),
    "items": ("条目", "items"), "finish_reason": ("结束原因", "finish reason"), "outbox": ("分发文件", "Outbox"),
    "file": ("文件", "file"), "verdict_OK": ("正常", "OK"), "verdict_ALARMS": ("有告警", "ALARMS"),
    "verdict_FAILED": ("失败", "FAILED"), "report_pdf": ("PDF 版本尚未提供", "no PDF yet"),
    "not_sent": ("未发出的请求（爬虫陷阱、达到预算或被放弃的站点）",
                 "Requests not sent (crawler traps, sites closed at their budget or given up)"),
    "why": ("原因", "why"), "requests": ("请求数", "requests"), "url": ("网址", "URL"), "reason": ("原因", "reason"),
    "failed_sites": ("失败的站点和网址（重定向循环、被放弃的站点）", "Failed sites and URLs (redirect loops, sites given up)"),
    "rechecks": ("复查：下架情况", "Re-checks: takedown status"),
    "matches": ("命中", "matches"), "selected_none": ("未选择线索", "No lead selected"),
    # the health checks an alarm names (netwatch.crawl.health.Alarm.check)
    "check_finish_reason": ("结束原因", "finish_reason"), "check_zero_items": ("未抓到商品", "zero_items"),
    "check_drop": ("商品数骤降", "drop"), "check_error_rate": ("错误率", "error_rate"),
    "check_field_coverage": ("字段覆盖率", "field_coverage"), "check_budget": ("站点抓取上限", "budget"),
    "check_site_failed": ("放弃站点", "site_failed"), "check_worker_lost": ("工作进程丢失", "worker_lost"),
    "check_crawl_failed": ("抓取失败", "crawl_failed"), "check_no_verdict": ("无健康检查结论", "no_verdict"),
    # a target's night and a crawl's end, as the nightly report shows them
    "status_ok": ("正常", "ok"), "status_alarm": ("有告警", "alarm"), "status_failed": ("失败", "failed"),
    "reason_finished": ("正常完成", "finished"), "reason_shutdown": ("被终止", "shutdown"),
    "reason_store_failed": ("数据库拒绝写入", "store_failed"), "reason_closespider_timeout": ("达到时长上限", "closespider_timeout"),
    "reason_redirect loop": ("重定向循环", "redirect loop"),
    # `netwatch crawl`'s summary
    "crawl_summary": ("抓取汇总", "crawl summary"), "coverage": ("字段覆盖率", "coverage"),
    "seconds": ("用时（秒）", "seconds"), "ok": ("正常", "ok"), "listing": ("商品", "listing"),
    "review": ("评价", "review"), "store_failed": ("数据库拒绝写入，抓取已停止", "stopped, the store failed"),
    "run_unrecorded": ("批次 {run} 仍记为“运行中”，直到本机下一次抓取将其标为已终止",
                       "run {run} stays 'running' until the next crawl on this host marks it killed"),
    "did_not_run": ("抓取未运行（错误见日志）", "the crawl did not run (its error is in the log)"),
}


def say_value(prefix: str, value: str, lang: str) -> str:
    """A recorded value (a status, a finish reason …) in `lang` where the words have it, else as recorded."""
    return say(f"{prefix}_{value}", lang) if f"{prefix}_{value}" in WORDS else value


def say(key: str, lang: str, **values: object) -> str:
    """The words for `key` in `lang` (zh or en), with {placeholders} filled."""
    zh, en = WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text
