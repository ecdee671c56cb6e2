"""English texts. Keys must match fa.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "Hello {name}! 👋\n"
        "Welcome to the downloader bot.\n"
        "Send me a link to a video or audio from YouTube, Instagram, TikTok, X and hundreds of other sites, "
        "and I will send the file right here."
    ),
    "alert_crash_loop": (
        "⚠️ Alert: the {kind} process keeps crashing (last: {reason}). It rests {minutes} min, then the "
        "supervisor tries it again; its log says why."
    ),
    # ---- the journey of a link (core.status, gateway handlers) ----
    "queued": "⏳ In the queue: number {position}{eta}.",
    "queued_eta": ", about {eta}",
    "probing": "🔎 Looking at the link…",
    "choose": "{title}{duration}\nChoose a format:",
    "choose_playlist": "📃 {title}: {count} items\nChoose one format for all of them:",
    "button_video": "🎬 {height}p{size}",
    "button_video_any": "🎬 Video{size}",
    "button_best": "⭐ Best quality",
    "button_audio": "🎵 Audio ({fmt}){size}",
    "button_cancel": "✖ Cancel",
    "cached_mark": "⚡ ",
    "phase_probing": "🔎 Looking at the link…",
    "phase_downloading": "⬇️ Downloading",
    "phase_converting": "⚙️ Converting",
    "phase_uploading": "⬆️ Uploading",
    "phase_retrying": "🔁 Trying again ({attempt}/{attempts})…",
    "progress_line": "{bar} {percent} % · {done} / {total} MB · {speed} MB/s · {left}",
    "progress_line_unknown": "{done} MB · {speed} MB/s",
    "seconds_left": "{seconds} s left",
    "minutes_left": "{minutes} min left",
    "eta_seconds": "{seconds} s",
    "eta_minutes": "{minutes} min",
    "playlist_progress": "📃 {title}: {done}/{total}",
    "playlist_done": "✅ {title}: {sent}/{total} sent",
    "cancelled": "✖ Cancelled.",
    "cancelled_jobs": "✖ Cancelled {count} download(s).",
    "nothing_to_cancel": "You have no download to cancel.",
    "links_capped": "I took the first {taken} of the {found} links in your message.",
    "button_expired": "This button has expired.",
    "caption_source": "🔗 Source",
    "duration_line": "\n⏱ {duration}",
    "size_suffix": " · {size} MB",
    "hint": "Send me a link to a video or audio, and I will send you the file. /settings changes the defaults.",
    # ---- /settings ----
    "settings": ("⚙️ Your settings\nFormat: {format}\nAudio: {audio}\nLanguage: {language}\n\nTap to change."),
    "format_ask": "ask each time",
    "format_best": "best quality",
    "format_audio": "audio only",
    "format_height": "{height}p",
    "settings_saved": "Saved.",
    "language_name": "English",
    "lang_choose": "🌐 Choose the language I speak to you:",
    "lang_saved": "✅ From now on I speak English.",
    # ---- failures: error classes, circuit breakers, cookies, alerts (helper/failures) ----------
    # One text per downloader.errors class: what happened and what the user can do.
    "error_unsupported": (
        "I couldn't find a video or audio file at this link, so it can't be downloaded. "
        "Please check the link, or send the link of the post itself."
    ),
    "error_stream_unsupported": (
        "This video is streamed in a way the bot can't download (for example, it is encrypted, "
        "or it needs a streaming method the bot does not use). Please send another link."
    ),
    "error_private": (
        "This video is private, for members only, or has been deleted, so I can't download it. "
        "If it is yours, make it public and send the link again."
    ),
    "error_login_required": (
        "This video can only be watched when signed in (for example, it is age-restricted), "
        "so I can't download it. Please send another link."
    ),
    "error_bot_check": (
        "The site is asking the bot to prove it is not a robot, so downloads from it are on hold for now. "
        "Please try again later."
    ),
    "error_geo_blocked": "This video is blocked in the country the bot downloads from, so I can't get it. Sorry!",
    "error_not_found": (
        "I couldn't find anything at this link; it may have been removed. Please check the link and send it again."
    ),
    "error_too_large": (
        "This file is bigger than {limit} MB, the most I can send. Please choose a lower quality or audio only."
    ),
    "error_too_long": "This video is longer than {limit} minutes, the longest I accept. Please send a shorter one.",
    "error_live": (
        "This is a live stream, or it hasn't started yet. "
        "Send the link again once the stream has ended and I'll download the recording."
    ),
    "error_rate_limited": (
        "The site is limiting how often the bot may download right now. Please try again in a few minutes."
    ),
    "error_network": "I couldn't reach the site: the connection kept failing. Please try again in a few minutes.",
    "error_disk_full": (
        "The bot's storage is full at the moment and the admins have been told. Please try again a little later."
    ),
    "error_forbidden_address": (
        "This link points to a private or local network address, which the bot does not download from."
    ),
    "error_unavailable": (
        "Downloads from this site are temporarily unavailable. Please try again in about {minutes} min."
    ),
    "error_cancelled": "The download was cancelled. Send the link again whenever you like.",
    "error_extractor": (
        "This site has changed and the downloader can't read it at the moment. "
        "Please try again later; the bot is updated regularly."
    ),
    "error_blocked": (
        "The file could not be delivered because the bot is blocked in this chat. "
        "Unblock the bot and send the link again."
    ),
    "error_internal": (
        "Something failed inside the bot while handling this link; the admins can see the details. "
        "Please try again a little later."
    ),
    # Alerts to the admins (core.alerts).
    "alert_circuit_open": (
        "⚠️ {platform}: downloads paused after {failures} failures in a row on the platform's side "
        '(last: {error}). Users hear "temporarily unavailable"; one test download is let through '
        "in {seconds} s."
    ),
    "alert_circuit_closed": "✅ {platform}: a test download worked; downloads are open again.",
    "alert_cookies_set_aside": (
        "🍪 {platform}: the cookie file {file} was set aside ({reason}). "
        "Put a fresh export in its place with mode 0600; a replaced file is used again by itself."
    ),
    "alert_outbox_quarantine": (
        "⚠️ {count} message(s) were being sent each time the uploader died, twice in a row, so they were set "
        "aside instead of being sent a third time (outbox rows {rows}). A file among them failed its job, and its user "
        "was told; a text among them was not sent."
    ),
    "alert_disk_full": "💽 Disk full: a download failed for lack of space in {path}. Please free some space.",
    # ---- end of failures ----------------------------------------------------------------------
    # ---- downloader: the SSRF guard's refusals (downloader/egress/targets.py REASONS) ----
    "link_refused_scheme": "I can't use this link: only http and https links can be downloaded.",
    "link_refused_credentials": "Links with a user name or password in them are not accepted.",
    "link_refused_address": "This link points to a private or internal address, which I may not download from.",
    "link_refused_not_sandbox": "In sandbox mode I can only download the sandbox's own media.",
    "link_refused_unresolvable": "I couldn't find the site in this link. Check the link and send it again.",
    "link_refused_malformed": "This link is not valid. Please check it and send it again.",
    # ---- captions (uploader/caption.py) ----
    "caption_part": "Part {index} of {total}",
    # ---- gates: locks, limits, bans, maintenance, admin commands (gateway.gates, gateway.locks, gateway.admin) ----
    "maintenance": "🛠 The bot is under maintenance right now. Please try again a little later.",
    "maintenance_custom": "🛠 {message}",
    "banned": "⛔ You can no longer use this bot.",
    "lock_prompt": (
        "🔒 To use the bot, please join the channel(s) below first.\n"
        "Then tap “I've joined”: your link is kept and will be sent right away."
    ),
    "lock_button_join": "➕ Join {name}",
    "lock_button_check": "✅ I've joined",
    "lock_not_yet": "You haven't joined {names} yet. Join, then tap “I've joined” again.",
    "lock_thanks": "✅ Thank you!",
    "lock_released": "✅ Thank you for joining! Your link is on its way.",
    "lock_check_later": (
        "⏳ I can't check right now whether you've joined {names}. Your link is kept; "
        "please try again in {wait} with “I've joined”."
    ),
    "lock_check_later_press": "⏳ I can't check right now. Please try again in {wait}.",
    "lock_recheck_wait": "⏳ I've just checked. Tap “I've joined” again in {wait}.",
    "list_separator": ", ",
    "rate_limited": "⏱ You have sent {limit} links within a minute, the most I take. Send the rest again in {wait}.",
    "busy": "🚦 The bot is very busy right now: {waiting} in the queue. Please send your link again in {wait}.",
    "busy_wait_unknown": "a few minutes",
    "user_queue_full": (
        "📥 You already have {count} links waiting, the most I keep for one person. Send more once some have arrived."
    ),
    "disk_full": "💾 I'm short of space right now and can't take new links. Please try again in a few minutes.",
    "admin_only": "Sorry, this is for the bot's admins only.",
    "admin_addsponsor_usage": (
        "Usage: /addsponsor &lt;@channel | -100id | t.me link&gt; [invite link] [max_joins] [days]\n"
        "e.g. /addsponsor @mychannel 1000 7\n"
        "max_joins 0: no cap. Days may also be 12h or 30m. A private channel needs its -100 id and an invite link."
    ),
    "admin_sponsor_added": "🔒 Lock #{id} added: {name}{terms}.",
    "admin_sponsor_updated": "🔒 Lock #{id} updated: {name}{terms}.",
    "admin_sponsor_cap": " · up to {count} joins",
    "admin_sponsor_ends": " · ends {when}",
    "admin_sponsor_unchecked": (
        "⚠️ I can't check who is a member of {name} ({reason}). Make the bot an admin there; "
        "until then users are not asked to join it."
    ),
    "admin_delsponsor_usage": "Usage: /delsponsor &lt;@channel | -100id | #lock number&gt;",
    "admin_sponsor_unknown": "There is no active lock {ref}. /sponsors lists them.",
    "admin_sponsor_removed": "🔓 Lock #{id} ({name}) removed.",
    "admin_sponsors_none": "There are no locks. Add one with /addsponsor.",
    "admin_sponsors_head": "🔒 Active locks:",
    "admin_sponsors_ended": "\nEnded lately:",
    "admin_sponsors_line": (
        "#{id} {name}{terms}\n"
        "   joins {joins} · already members {already} · shown, not joined {shown} · left after joining {left}"
    ),
    "admin_sponsors_unchecked": "   ⚠️ can't be checked: the bot is not an admin there",
    "admin_sponsor_end_cap": " · reached its cap",
    "admin_sponsor_end_expired": " · its time was up",
    "admin_sponsor_end_removed": " · removed",
    "admin_ban_usage": "Usage: /ban &lt;user id&gt; [reason]",
    "admin_unban_usage": "Usage: /unban &lt;user id&gt;",
    "admin_ban_admin": "Admins can't be banned.",
    "admin_banned": "⛔ User {user} is banned{reason}.",
    "admin_ban_reason": " ({reason})",
    "admin_unbanned": "✅ User {user} is no longer banned.",
    "admin_not_banned": "User {user} was not banned.",
    "admin_maintenance_usage": "Usage: /maintenance on|off [message]\nMaintenance is {state}.",
    "maintenance_is_on": "on",
    "maintenance_is_off": "off",
    "admin_maintenance_on": (
        "🛠 Maintenance is on. Running downloads finish; queued ones wait. Users are told:\n{notice}"
    ),
    "admin_maintenance_off": "✅ Maintenance is off; queued downloads go on.",
    "alert_lock_unchecked": (
        "⚠️ Lock #{id} {name}: I can't check its members ({reason}). "
        "Users are not asked to join it until the bot is an admin there."
    ),
    "alert_lock_checkable": "✅ Lock #{id} {name}: its members can be checked again.",
    "alert_lock_cap": "🔓 Lock #{id} {name} ended: it reached its cap of {count} joins.",
    "alert_lock_expired": "🔓 Lock #{id} {name} ended: its time is up ({count} joins).",
    # ---- broadcast and admin panel (helper/broadcast: core/broadcasts.py, gateway/admin/broadcast.py,
    # gateway/admin/panel.py) ----
    "bc_how": "To send a message to every user, reply to it with /broadcast.",
    "bc_busy": "Broadcast #{id} is still under way. Cancel it, or wait until it ends.",
    "bc_nobody": "There is nobody to send it to yet.",
    "bc_confirm": "📣 Send the message you answered with /broadcast to {count} users?",
    "bc_button_confirm": "✅ Send",
    "bc_button_discard": "✖ Don't send",
    "bc_button_pause": "⏸ Pause",
    "bc_button_resume": "▶️ Resume",
    "bc_button_cancel": "⏹ Cancel",
    "bc_started": "Broadcast started.",
    "bc_dropped": "Broadcast dropped; nothing was sent.",
    "bc_paused": "Broadcast paused.",
    "bc_resumed": "Broadcast resumed.",
    "bc_cancelled": "Broadcast cancelled.",
    "bc_title_running": "📣 Broadcast under way",
    "bc_title_paused": "⏸ Broadcast paused",
    "bc_title_cancelled": "⏹ Broadcast cancelled",
    "bc_title_done": "✅ Broadcast finished",
    "bc_title_source_gone": "⚠️ Broadcast stopped: the message was deleted",
    "bc_counts": "Sent: {sent} · Blocked: {blocked} · Failed: {failed}",
    "bc_unknown": "Unknown: {unknown} (on their way when the uploader stopped; not sent again)",
    "bc_progress": "{bar} {percent} % · {done} of {total}",
    "bc_pace": "{bar} {percent} % · {done} of {total} · {rate}/s · {left}",
    "bc_report_done": "📣 Broadcast report",
    "bc_report_cancelled": "📣 Broadcast report (cancelled)",
    "bc_report_source_gone": "📣 Broadcast report (stopped: the message was deleted)",
    "bc_report_sent": "Sent: {sent}",
    "bc_report_blocked": "Blocked: {blocked} (they blocked the bot; skipped from now on)",
    "bc_report_failed": "Failed: {failed}",
    "bc_report_unknown": (
        "Unknown: {unknown} (on their way when the uploader stopped: they may have arrived; not sent again)"
    ),
    "bc_report_not_reached": "Not reached: {left}",
    "bc_report_duration": "Duration: {duration}",
    "bc_span_hours": "{hours} h {minutes} min",
    "bc_span_minutes": "{minutes} min {seconds} s",
    "bc_span_seconds": "{seconds} s",
    "panel_admin_only": "Sorry, this is for the bot's admins only.",
    "panel_none_yet": "none yet",
    "panel_health": (
        "🩺 Health: {status} · up {uptime}\n{processes}{hosts}\n\n"
        "💽 Free disk: {disk} % ({disk_free})\n🧠 Memory: {memory} % · CPU: {cpu} % · Load: {load}\n"
        "📁 Spool: {spool}\n🗄 Database: {database}\n"
        "⏳ Jobs: {queued} queued · {running} running · 👥 {users} users in 24 h\n\n{alerts}"
    ),
    "panel_process": "{mark} {name}: {state}, pid {pid}, {rss} MB, CPU {cpu} %, restarts {restarts}{heartbeat}",
    "panel_heartbeat": ", heartbeat {age} s ago",
    "panel_monitor_unreachable": "⚠️ The monitor is unreachable (no answer within {seconds} s).",
    "panel_circuits": "🔌 Circuit breakers",
    "panel_circuits_none": "🔌 No platform has had failures: every circuit is closed.",
    "panel_circuit": "{mark} {platform}: {state}, {failures} failures in a row{retry}{probe}",
    "panel_circuit_retry": ", test download in {seconds} s",
    "panel_circuit_probe": ", test job #{job}",
    "panel_circuit_closed": "closed",
    "panel_circuit_open": "open",
    "panel_circuit_half_open": "half open",
    "panel_cleanup": (
        "🧹 Removed {count} leftover spool folder(s) and {files} partial or old log file(s), freed {freed}. "
        "The spool now holds {spool}."
    ),
    "panel_reset_confirm": (
        "Reset the counters (requests, downloads, bytes sent) of all {count} users? This cannot be undone."
    ),
    "panel_button_reset": "🗑 Reset",
    "panel_button_keep": "✖ Keep them",
    "panel_reset_done": "The counters of {count} users are reset.",
    "panel_mb": "{size} MB",
    "panel_gb": "{size} GB",
    "panel_reset_kept": "Nothing was reset.",
    # ---- end of broadcast and admin panel ----
    # ---- /ytdlp: the downloaders' yt-dlp, and keeping it current ----
    "ytdlp_version": "yt-dlp {version}, released {date} ({age} ago).\nUpdate it with /ytdlp update.",
    "ytdlp_version_undated": "yt-dlp {version}.\nUpdate it with /ytdlp update.",
    "ytdlp_old": "⚠️ Older than {days} days: sites change every week, so update it.",
    "ytdlp_update_started": (
        "⏳ Updating yt-dlp: the new version is checked on a sample link, then the downloaders restart one by one. "
        "The result comes here."
    ),
    "ytdlp_update_busy": "⏳ An update of yt-dlp is already running; its result comes here.",
    "ytdlp_update_unreachable": (
        "⚠️ The supervisor did not answer: is the bot running under run.py? From a shell: python run.py update-ytdlp"
    ),
    "ytdlp_updated": (
        "✅ yt-dlp updated: {old} → {new}. It passed the check on the sample link; restarted one by one: {names}."
    ),
    "ytdlp_current": "✅ yt-dlp {version} is already the newest.",
    "ytdlp_update_failed": "⚠️ yt-dlp was not updated: {detail}. The downloaders keep running {old}.",
    # ---- the monitor: alerts and their "resolved" messages (monitor/rules.py), /health ----
    "alert_crash_loop_ok": "✅ The {kind} process runs again.",
    "alert_disk_low": (
        "🚨 Critical: only {free_pct} % of the disk is free ({free_gb} GB) in {path}. New downloads are "
        "refused until there is room: delete old files or grow the disk; /cleanup removes the bot's own leftovers."
    ),
    "alert_disk_ok": "✅ Disk: {free_pct} % free again.",
    "alert_memory_high": (
        "⚠️ Memory: {pct} % in use (the line is {limit} %). /health shows which process grows; "
        "restarting it frees its memory."
    ),
    "alert_memory_ok": "✅ Memory: {pct} % in use, below the line again.",
    "alert_cpu_high": (
        "⚠️ CPU: {pct} % busy in two checks in a row (the line is {limit} %). Downloads get slower; "
        "if it lasts, fewer downloaders (WORKERS) or a bigger machine help."
    ),
    "alert_cpu_ok": "✅ CPU: {pct} % busy, below the line again.",
    "alert_spool_large": (
        "⚠️ The spool holds {size} GB (the line is {limit} GB): files are waiting to be sent. "
        "Look at /health for a stuck uploader, or run /cleanup."
    ),
    "alert_spool_ok": "✅ The spool holds {size} GB, below the line again.",
    "alert_process_stalled": (
        "⚠️ The {name} process has sent no heartbeat for {seconds} s: it is stuck. "
        "The supervisor restarts it after {kill_after} s of silence."
    ),
    "alert_process_stalled_ok": "✅ {name} answers again.",
    "alert_host_lost": (
        "⚠️ The downloader host {host} has been silent for {seconds} s: its jobs go back to the queue and "
        "run elsewhere. The bot keeps working with the other hosts."
    ),
    "alert_host_left": "⚠️ The downloader host {host} left (stopped on purpose); its jobs were handed back.",
    "alert_host_back": "✅ The downloader host {host} is back, with {workers} downloaders.",
    "alert_failure_rate": (
        "⚠️ {pct} % of the jobs failed in the last {minutes} min ({failed} of {total}). "
        "/circuit and the log tell why (a site changed, cookies, the network)."
    ),
    "alert_failure_rate_ok": "✅ Failures are below {limit} % again ({pct} % in the last {minutes} min).",
    "alert_send_queue_old": (
        "⚠️ A message has waited {minutes} min to be sent ({count} waiting). The uploader is stuck or "
        "Telegram holds it back (FloodWait): look at /health."
    ),
    "alert_send_queue_ok": "✅ The send queue moves again.",
    "panel_status_ok": "all well",
    "panel_status_degraded": "degraded",
    "panel_status_down": "down",
    "panel_uptime_days": "{days} d {hours} h",
    "panel_uptime_hours": "{hours} h {minutes} min",
    "panel_uptime_minutes": "{minutes} min",
    "panel_state_starting": "starting",
    "panel_state_ready": "ready",
    "panel_state_backoff": "restarting",
    "panel_state_cooling": "paused after crashes",
    "panel_state_given-up": "given up",
    "panel_state_stopped": "stopped",
    "panel_state_stalled": "stuck",
    "panel_state_unreachable": "its host is unreachable",
    "panel_hosts": "\n\n🖧 Downloader hosts:\n{hosts}",
    "panel_host": (
        "{mark} {name}: {state}, downloaders {downloaders}, last seen {seen} ago"
        " · free disk {disk} % · memory {memory} % · CPU {cpu} % · load {load}"
    ),
    "panel_host_joined": "joined",
    "panel_host_lost": "silent",
    "panel_host_left": "left (stopped on purpose)",
    "panel_seconds": "{seconds} s",
    "panel_alerts": "🔔 Active alerts:\n{alerts}",
    "panel_alert_held": " (held back by the cooldown)",
    "panel_no_alerts": "🔕 No active alerts.",
    "panel_health_local": "💽 Free disk: {disk} %\n📁 Spool: {spool}\n🗄 Database: {database}",
    "alert_cookies_ok": "✅ {platform}: the cookie file {file} was replaced and is used again.",
    # ---- end of the monitor ----
    # ---- the admin panel, complete (gateway/admin: menu, stats, chart, limits, queue, profile, audit) ----
    "ap_menu": "🛠 <b>Admin panel</b>\nWhat would you like to see or do?",
    "ap_menu_stats": "📊 Statistics",
    "ap_menu_health": "🩺 Health",
    "ap_menu_queue": "📋 Queue",
    "ap_menu_limits": "⚙️ Limits",
    "ap_menu_user": "👤 A user",
    "ap_menu_cancel": "✖ Cancel a job",
    "ap_menu_ban": "⛔ Ban",
    "ap_menu_unban": "✅ Unban",
    "ap_menu_audit": "📜 Audit log",
    "ap_menu_circuit": "🔌 Circuit breakers",
    "ap_menu_sponsors": "🔒 Locks",
    "ap_menu_addsponsor": "➕ Add a lock",
    "ap_menu_delsponsor": "➖ Remove a lock",
    "ap_menu_maintenance": "🛠 Maintenance",
    "ap_menu_broadcast": "📣 Broadcast",
    "ap_menu_cleanup": "🧹 Clean the spool",
    "ap_menu_reset_stats": "🗑 Reset counters",
    "ap_ask_user": "👤 Send the user's id.",
    "ap_ask_cancel": "✖ Send the number of the job to cancel (as /queue shows it).",
    "ap_ask_ban": "⛔ Send the id of the user to ban, and a reason if you like.",
    "ap_ask_unban": "✅ Send the id of the user to unban.",
    "ap_ask_addsponsor": (
        "➕ Send the channel to lock: @channel, a -100 id with its invite link, or a t.me link; "
        "then, if you like, the most joins and the days it lasts. Example: @mychannel 1000 7"
    ),
    "ap_ask_delsponsor": "➖ Send the lock to remove: @channel, its -100 id or #number.",
    "ap_stop": "✖ Never mind",
    "ap_stopped": "Nothing more is awaited.",
    "ap_yes": "✅ Yes",
    "ap_yes_cancel": "✅ Yes, cancel it",
    "ap_no": "✖ No",
    "ap_yes_word": "yes",
    "ap_no_word": "no",
    "ap_page": "{page}/{pages} 🔄",
    "ap_showing": "{first}–{last} of {total}",
    "ap_age_s": "{n} s",
    "ap_age_min": "{n} min",
    "ap_age_h": "{n} h",
    "ap_age_d": "{n} d",
    "ap_phase_queued": "waiting",
    "ap_phase_probing": "looking at the link",
    "ap_phase_choosing": "the user is choosing",
    "ap_phase_downloading": "downloading",
    "ap_phase_uploading": "sending",
    "ap_phase_done": "done",
    "ap_phase_failed": "failed",
    "ap_phase_cancelled": "cancelled",
    "ap_stats_head": "📊 <b>Statistics</b>",
    "ap_stats_users": (
        "👥 Users: {users} · new today {new} · active in 24 h {day} · in 7 days {week} · "
        "blocked the bot {blocked} · banned {banned}"
    ),
    "ap_stats_today": (
        "📥 Jobs today: {total} · done {done} · failed {failed} · cancelled {cancelled} · unfinished {active}\n"
        "   by platform: {platforms}"
    ),
    "ap_stats_week": (
        "📅 Jobs in 7 days: {total} · done {done} · failed {failed} · cancelled {cancelled} · unfinished {active}\n"
        "   by platform: {platforms}"
    ),
    "ap_stats_success": "✅ Success rate (7 days, done of done and failed): {pct} %",
    "ap_stats_times": "⏱ Medians (7 days): link to file {total} s · download {download} s · upload {upload} s",
    "ap_stats_cache": "⚡ Cache hit rate (7 days): {pct} % ({hits} of {files} files sent without a download)",
    "ap_stats_queue": "⏳ Queue now: running {running} · waiting {queued} · choosing {choosing}",
    "ap_stats_locks": "🔒 Joins per lock: {locks}",
    "ap_chart_title": "Jobs per day, last {days} days",
    "ap_chart_empty": "No jobs in these days",
    "ap_chart_unknown": "unknown",
    "ap_chart_other": "other",
    "ap_chart_busy": "📈 The chart is not drawn this time: several are being drawn already. Try again in a minute.",
    "ap_chart_failed": "📈 The chart could not be drawn this time; the figures above are complete. The log says why.",
    "ap_queue_head": "📋 <b>Queue</b>, oldest first",
    "ap_queue_empty": "📋 The queue is empty: nothing is running or waiting.",
    "ap_queue_line": "#{id} · 👤 {user} · {host} · {phase} · {age}",
    "ap_button_cancel_job": "✖ #{id}",
    "ap_cancel_confirm": "Cancel job #{id} of user {user} ({host}, {phase})? The user is told.",
    "ap_cancel_usage": (
        "Usage: /cancel &lt;job number&gt; (/queue shows the numbers). /cancel alone cancels your own jobs."
    ),
    "ap_cancel_none": "Job #{id} is not running or waiting: nothing to cancel.",
    "ap_cancel_done": "✖ Job #{id} is cancelled; user {user} was told.",
    "ap_cancelled_by_admin": (
        "ℹ️ Sorry: an admin had to stop your download from {host}. You can send the link again a little later."
    ),
    "ap_user_usage": "Usage: /user &lt;user id&gt;",
    "ap_user_unknown": "User {id} has never written to the bot.",
    "ap_user_head": "👤 <b>User {id}</b> {name}",
    "ap_user_profile": (
        "Language {language} · first seen {first} · last seen {last}\nBlocked the bot: {blocked} · banned: {banned}"
    ),
    "ap_user_banned": "since {when}, by {by}",
    "ap_user_ban_reason": "Reason: {reason}",
    "ap_user_counts": "Requests {requests} · files sent {ok} · failed {failed} · {sent} MB sent",
    "ap_user_jobs": "\n📥 Last jobs:",
    "ap_user_no_jobs": "\n📥 No jobs yet.",
    "ap_user_job": "{mark} #{id} {outcome} · {host} · {age} ago",
    "ap_user_bans": "\n⛔ Bans:",
    "ap_user_ban_line": "⛔ {when} banned by {by} {reason}",
    "ap_user_unban_line": "✅ {when} unbanned by {by}",
    "ap_user_locks": "\n🔒 Locks:",
    "ap_user_no_locks": "\n🔒 Was shown no lock.",
    "ap_user_lock": "{name}: {status} {when}",
    "ap_lock_shown": "shown, not joined",
    "ap_lock_joined": "joined",
    "ap_lock_already": "was a member already",
    "ap_lock_left": "joined, then left",
    "ap_button_ban": "⛔ Ban",
    "ap_button_unban": "✅ Unban",
    "ap_button_cancel_user": "✖ Cancel their jobs ({count})",
    "ap_button_refresh": "🔄 Refresh",
    "ap_user_confirm_ban": "Ban user {id}? Their unfinished jobs are cancelled.",
    "ap_user_confirm_unban": "Unban user {id}?",
    "ap_user_confirm_cancel_user": "Cancel every unfinished job of user {id}? They are told.",
    "ap_user_banned_now": "⛔ User {id} is banned; {jobs} job(s) cancelled.",
    "ap_user_cancelled_now": "✖ {jobs} job(s) of user {id} cancelled.",
    "ap_audit_head": "📜 <b>Audit log</b>, newest first",
    "ap_audit_none": "📜 The audit log is empty.",
    "ap_audit_line": "{when} · {admin} · <b>{action}</b> {detail}",
    "ap_limits_head": "⚙️ <b>Limits</b> that change while the bot runs (✏️ changed by an admin):",
    "ap_limits_line": "{mark} <code>{name}</code> = {value} (start {default})\n      {help}",
    "ap_limits_foot": (
        "\nPress a name to change it, or send /setlimit NAME value (NAME default: back to the start value). "
        "Other settings are read at start: change them in .env and restart the bot."
    ),
    "ap_limits_ask": ('✏️ Send the new value of <code>{name}</code> (now {value}, at start {default}), or "default".'),
    "ap_setlimit_usage": "Usage: /setlimit NAME value. /limits lists the names.",
    "ap_setlimit_unknown": "There is no setting {name}. /limits lists those that change while the bot runs.",
    "ap_setlimit_restart": "{name} is read at start only: change it in .env and restart the bot.",
    "ap_setlimit_bad": "❌ Not changed: {name} {problem}.",
    "ap_setlimit_done": (
        "✅ {name} is now {value} (was {before}; at start {default}). Every process uses it within seconds."
    ),
    "ap_rule_whole": "must be a whole number",
    "ap_rule_number": "must be a number",
    "ap_rule_finite": "must be a finite number",
    "ap_rule_at_least": "must be at least {n}",
    "ap_rule_at_most": "must be at most {n}",
    "ap_rule_got": "{rule} (you sent “{value}”)",
    "ap_maintenance_turn_on": "🛠 Turn maintenance on",
    "ap_maintenance_turn_off": "✅ Turn maintenance off",
    "limit_USER_REQUESTS_PER_MIN": "links a minute per user",
    "limit_GLOBAL_REQUESTS_PER_MIN": "links a minute for everyone together (0: no limit)",
    "limit_MAX_LINKS_PER_MESSAGE": "links taken from one message",
    "limit_MAX_DURATION_MIN": "longest media, minutes",
    "limit_MAX_FILE_MB": "largest download, MiB (0: the upload cap)",
    "limit_JOIN_RECHECK_INTERVAL": "“I've joined” asks Telegram again at most this often per user, s",
    "limit_USER_CONCURRENT_DOWNLOADS": "downloads at once per user",
    "limit_QUEUE_MAX": "jobs waiting at once; past it users hear the bot is busy",
    "limit_USER_QUEUE_MAX": "one user's jobs waiting at once; past it they are asked to wait",
    "limit_JOB_ATTEMPTS": "tries of a job before it fails",
    "limit_SPOOL_MAX_GB": "size budget of the spool folder, GB",
    "limit_PROGRESS_EDIT_INTERVAL": "seconds between edits of a progress message",
    "limit_NOTICE_INTERVAL": "seconds between repeated hints and refusals to a user",
    "limit_MAINTENANCE_NOTICE_INTERVAL": "seconds between maintenance notices to a user",
    "limit_ALERT_COOLDOWN": "seconds between equal alerts to admins",
    "limit_ALERT_DISK_FREE_PCT": "alert below this much free disk, %",
    "limit_ALERT_MEMORY_PCT": "alert above this much memory used, %",
    "limit_ALERT_CPU_PCT": "alert above this much CPU used, %",
    "limit_ALERT_DOWNLOADS_GB": "alert above this much in the downloads folder, GB",
    # ---- image posts, subtitles, inline mode (issue 17) -------------------------------------
    "choose_album": "🖼 {title}\nA post of {count} items, photos and videos. What shall I send?",
    "button_album_all": "🗂 Everything",
    "button_album_photos": "🖼 Photos only",
    "button_album_videos": "🎬 Videos only",
    "settings_media": "Posts with photos and videos: {album}\nSubtitles: {subtitles}",
    "album_all": "everything",
    "album_photos": "photos only",
    "album_videos": "videos only",
    "subtitles_always": "always",
    "subtitles_asked": "when I ask",
    "button_subtitles_always": "📝 Subtitles: always",
    "button_subtitles_asked": "📝 Subtitles: when I ask",
    "button_subtitles": "📝 Subtitles",
    "inline_send_video": "⬇️ Send this video",
    "inline_send_audio": "🎵 Send as audio",
    "inline_preparing": "⏳ Getting it ready…",
    "inline_source": "🔗 Source",
    "inline_cached": "✅ {format}",
    "inline_join": "🔒 Join our channels first: tap here",
    "inline_no_storage": "Only files I sent before are here: tap to open the bot",
}
