"""Persian texts (the default language). Keys must match en.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "سلام {name}! 👋\n"
        "به ربات دانلودر خوش آمدید.\n"
        "لینک ویدیو یا صدا را از یوتیوب، اینستاگرام، تیک‌تاک، ایکس و صدها سایت دیگر بفرستید "
        "تا فایل را همین‌جا برایتان بفرستم."
    ),
    "alert_crash_loop": (
        "⚠️ هشدار: فرایند «{kind}» پشت سر هم از کار می‌افتد (آخرین بار: {reason}). {minutes} دقیقه "
        "استراحت می‌کند و بعد ناظر دوباره امتحانش می‌کند؛ علت در لاگ آن است."
    ),
    # ---- the journey of a link (core.status, gateway handlers) ----
    "queued": "⏳ در صف: نفر {position}{eta}.",
    "queued_eta": "، حدود {eta}",
    "probing": "🔎 در حال بررسی لینک…",
    "choose": "{title}{duration}\nکیفیت را انتخاب کنید:",
    "choose_playlist": "📃 {title}: {count} مورد\nیک کیفیت برای همه انتخاب کنید:",
    "button_video": "🎬 {height}p{size}",
    "button_video_any": "🎬 ویدیو{size}",
    "button_best": "⭐ بهترین کیفیت",
    "button_audio": "🎵 فقط صدا ({fmt}){size}",
    "button_cancel": "✖ لغو",
    "cached_mark": "⚡ ",
    "phase_probing": "🔎 در حال بررسی لینک…",
    "phase_downloading": "⬇️ در حال دانلود",
    "phase_converting": "⚙️ در حال تبدیل",
    "phase_uploading": "⬆️ در حال ارسال",
    "phase_retrying": "🔁 تلاش دوباره ({attempt}/{attempts})…",
    "progress_line": "{bar} {percent} ٪ · {done} / {total} مگابایت · {speed} مگابایت/ثانیه · {left}",
    "progress_line_unknown": "{done} مگابایت · {speed} مگابایت/ثانیه",
    "seconds_left": "{seconds} ثانیه مانده",
    "minutes_left": "{minutes} دقیقه مانده",
    "eta_seconds": "{seconds} ثانیه",
    "eta_minutes": "{minutes} دقیقه",
    "playlist_progress": "📃 {title}: {done}/{total}",
    "playlist_done": "✅ {title}: {sent} از {total} فرستاده شد",
    "cancelled": "✖ لغو شد.",
    "cancelled_jobs": "✖ {count} دانلود لغو شد.",
    "nothing_to_cancel": "دانلودی برای لغو ندارید.",
    "links_capped": "از {found} لینک پیام شما، {taken} لینک اول را برداشتم.",
    "button_expired": "این دکمه منقضی شده است.",
    "caption_source": "🔗 منبع",
    "duration_line": "\n⏱ {duration}",
    "size_suffix": " · {size} مگابایت",
    "hint": "لینک یک ویدیو یا صدا را بفرستید تا فایلش را برایتان بفرستم. با /settings پیش‌فرض‌ها را عوض کنید.",
    # ---- /settings ----
    "settings": ("⚙️ تنظیمات شما\nکیفیت: {format}\nصدا: {audio}\nزبان: {language}\n\nبرای تغییر، یکی را بزنید."),
    "format_ask": "هر بار بپرس",
    "format_best": "بهترین کیفیت",
    "format_audio": "فقط صدا",
    "format_height": "{height}p",
    "settings_saved": "ذخیره شد.",
    "language_name": "فارسی",
    "lang_choose": "🌐 زبانی را که با شما صحبت می‌کنم انتخاب کنید:",
    "lang_saved": "✅ از این پس فارسی صحبت می‌کنم.",
    # ---- failures: error classes, circuit breakers, cookies, alerts (helper/failures) ----------
    # One text per downloader.errors class: what happened and what the user can do.
    "error_unsupported": (
        "در این لینک ویدیو یا صدایی پیدا نکردم، برای همین دانلود نمی‌شود. "
        "لطفاً لینک را بررسی کنید یا لینک خود پست را بفرستید."
    ),
    "error_stream_unsupported": (
        "این ویدیو به شکلی پخش می‌شود که ربات نمی‌تواند آن را دانلود کند "
        "(برای نمونه رمزگذاری‌شده است یا با روشی پخش می‌شود که ربات به کار نمی‌برد). لطفاً لینک دیگری بفرستید."
    ),
    "error_private": (
        "این ویدیو خصوصی است، فقط برای اعضاست یا حذف شده، برای همین نمی‌توانم دانلودش کنم. "
        "اگر مال خودتان است، آن را عمومی کنید و لینک را دوباره بفرستید."
    ),
    "error_login_required": (
        "این ویدیو را فقط با ورود به حساب کاربری می‌شود دید (مثلاً محدودیت سنی دارد)، "
        "برای همین نمی‌توانم دانلودش کنم. لطفاً لینک دیگری بفرستید."
    ),
    "error_bot_check": (
        "سایت از ربات می‌خواهد ثابت کند که ربات نیست، برای همین دانلود از این سایت فعلاً متوقف است. "
        "لطفاً بعداً دوباره امتحان کنید."
    ),
    "error_geo_blocked": (
        "این ویدیو در کشوری که ربات از آن دانلود می‌کند مسدود است، برای همین نمی‌توانم دریافتش کنم. متأسفم!"
    ),
    "error_not_found": "چیزی در این لینک پیدا نکردم؛ شاید حذف شده باشد. لطفاً لینک را بررسی کنید و دوباره بفرستید.",
    "error_too_large": (
        "حجم این فایل از {limit} مگابایت، بیشترین حجمی که می‌توانم بفرستم، بیشتر است. "
        "لطفاً کیفیت پایین‌تر یا فقط صدا را انتخاب کنید."
    ),
    "error_too_long": (
        "این ویدیو از {limit} دقیقه، بیشترین مدتی که می‌پذیرم، طولانی‌تر است. لطفاً ویدیوی کوتاه‌تری بفرستید."
    ),
    "error_live": (
        "این یک پخش زنده است یا هنوز شروع نشده. بعد از پایان پخش لینک را دوباره بفرستید تا ضبط آن را دانلود کنم."
    ),
    "error_rate_limited": "سایت فعلاً دفعات دانلود ربات را محدود کرده است. لطفاً چند دقیقهٔ دیگر دوباره امتحان کنید.",
    "error_network": "نتوانستم به سایت وصل شوم؛ اتصال چند بار قطع شد. لطفاً چند دقیقهٔ دیگر دوباره امتحان کنید.",
    "error_disk_full": "فضای ذخیره‌سازی ربات فعلاً پر است و به مدیران خبر داده شد. لطفاً کمی بعد دوباره امتحان کنید.",
    "error_forbidden_address": (
        "این لینک به یک نشانی شبکهٔ خصوصی یا محلی اشاره می‌کند و ربات از چنین نشانی‌هایی دانلود نمی‌کند."
    ),
    "error_unavailable": "دانلود از این سایت موقتاً ممکن نیست. لطفاً حدود {minutes} دقیقهٔ دیگر دوباره امتحان کنید.",
    "error_cancelled": "دانلود لغو شد. هر وقت خواستید لینک را دوباره بفرستید.",
    "error_extractor": (
        "این سایت تغییر کرده و دانلودر فعلاً نمی‌تواند آن را بخواند. لطفاً بعداً دوباره امتحان کنید؛ ربات مرتب به‌روز می‌شود."
    ),
    "error_blocked": (
        "فایل فرستاده نشد، چون ربات در این گفتگو مسدود شده است. ربات را از مسدودی درآورید و لینک را دوباره بفرستید."
    ),
    "error_internal": (
        "هنگام پردازش این لینک در خود ربات خطایی رخ داد و جزئیات آن برای مدیران ثبت شد. "
        "لطفاً کمی بعد دوباره امتحان کنید."
    ),
    # Alerts to the admins (core.alerts).
    "alert_circuit_open": (
        "⚠️ {platform}: پس از {failures} خطای پشت سر هم از سمت سایت، دانلود متوقف شد "
        "(آخرین خطا: {error}). کاربران پیام «موقتاً در دسترس نیست» می‌گیرند؛ "
        "{seconds} ثانیهٔ دیگر یک دانلود آزمایشی انجام می‌شود."
    ),
    "alert_circuit_closed": "✅ {platform}: دانلود آزمایشی موفق بود و دانلود دوباره باز است.",
    "alert_cookies_set_aside": (
        "🍪 {platform}: فایل کوکی {file} کنار گذاشته شد ({reason}). "
        "یک خروجی تازه با دسترسی 0600 به جای آن بگذارید؛ فایل جایگزین‌شده خودبه‌خود دوباره استفاده می‌شود."
    ),
    "alert_outbox_quarantine": (
        "⚠️ {count} پیام هر دو باری که فرستنده پشت سر هم از کار افتاد در حال ارسال بود؛ برای همین کنار گذاشته شد "
        "و بار سوم فرستاده نشد (ردیف‌های صف ارسال {rows}). کارِ هر فایلی در میان آن‌ها ناموفق شد و به کاربرش "
        "گفته شد؛ متنی که در میان آن‌ها بود فرستاده نشد."
    ),
    "alert_disk_full": "💽 دیسک پر است: یک دانلود به خاطر کمبود فضا در {path} ناموفق شد. لطفاً فضا آزاد کنید.",
    # ---- end of failures ----------------------------------------------------------------------
    # ---- downloader: the SSRF guard's refusals (downloader/egress/targets.py REASONS) ----
    "link_refused_scheme": "این لینک پشتیبانی نمی‌شود: فقط لینک‌های http و https را می‌توانم دانلود کنم.",
    "link_refused_credentials": "لینکی که نام کاربری یا رمز عبور در خود دارد پذیرفته نمی‌شود.",
    "link_refused_address": "این لینک به یک نشانی داخلی یا خصوصی اشاره می‌کند و دانلود از آن مجاز نیست.",
    "link_refused_not_sandbox": "در حالت آزمایشی (سندباکس) فقط از رسانه‌های خود سندباکس می‌توانم دانلود کنم.",
    "link_refused_unresolvable": "نشانی سایتِ این لینک پیدا نشد. لینک را بررسی کنید و دوباره بفرستید.",
    "link_refused_malformed": "این لینک درست نیست. لطفاً آن را بررسی کنید و دوباره بفرستید.",
    # ---- captions (uploader/caption.py) ----
    "caption_part": "بخش {index} از {total}",
    # ---- gates: locks, limits, bans, maintenance, admin commands (gateway.gates, gateway.locks, gateway.admin) ----
    "maintenance": "🛠 ربات در حال تعمیر و به‌روزرسانی است. لطفاً کمی بعد دوباره امتحان کنید.",
    "maintenance_custom": "🛠 {message}",
    "banned": "⛔ شما دیگر نمی‌توانید از این ربات استفاده کنید.",
    "lock_prompt": (
        "🔒 برای استفاده از ربات، لطفاً اول در کانال‌های زیر عضو شوید.\n"
        "بعد «عضو شدم» را بزنید: لینک شما نگه داشته شده و بلافاصله فرستاده می‌شود."
    ),
    "lock_button_join": "➕ عضویت در {name}",
    "lock_button_check": "✅ عضو شدم",
    "lock_not_yet": "هنوز در {names} عضو نشده‌اید. عضو شوید و دوباره «عضو شدم» را بزنید.",
    "lock_thanks": "✅ سپاس!",
    "lock_released": "✅ از عضویت شما سپاسگزاریم! لینک شما در راه است.",
    "lock_check_later": (
        "⏳ الان نمی‌توانم بررسی کنم که در {names} عضو شده‌اید یا نه. لینک شما نگه داشته شده؛ "
        "لطفاً {wait} دیگر دوباره «عضو شدم» را بزنید."
    ),
    "lock_check_later_press": "⏳ الان نمی‌توانم بررسی کنم. لطفاً {wait} دیگر دوباره بزنید.",
    "lock_recheck_wait": "⏳ همین الان بررسی کردم. {wait} دیگر دوباره «عضو شدم» را بزنید.",
    "list_separator": "، ",
    "rate_limited": ("⏱ در یک دقیقه {limit} لینک فرستاده‌اید که بیشترین حد است. بقیه را {wait} دیگر دوباره بفرستید."),
    "busy": "🚦 ربات الان خیلی شلوغ است: {waiting} لینک در صف. لطفاً لینک را {wait} دیگر دوباره بفرستید.",
    "busy_wait_unknown": "چند دقیقه",
    "user_queue_full": (
        "📥 {count} لینک شما در صف است که بیشترین حد برای یک نفر است. وقتی چندتایی رسید، بقیه را بفرستید."
    ),
    "disk_full": "💾 الان فضای کافی ندارم و لینک تازه نمی‌پذیرم. لطفاً چند دقیقه دیگر دوباره امتحان کنید.",
    "admin_only": "متأسفم، این فرمان فقط برای مدیران ربات است.",
    "admin_addsponsor_usage": (
        "روش استفاده: /addsponsor &lt;@کانال | -100id | لینک t.me&gt; [لینک دعوت] [حداکثر عضویت] [روز]\n"
        "مثال: /addsponsor @mychannel 1000 7\n"
        "حداکثر ۰ یعنی بی‌سقف. روز را می‌توان 12h یا 30m هم نوشت. کانال خصوصی شناسهٔ -100 و لینک دعوت می‌خواهد."
    ),
    "admin_sponsor_added": "🔒 قفل #{id} اضافه شد: {name}{terms}.",
    "admin_sponsor_updated": "🔒 قفل #{id} به‌روز شد: {name}{terms}.",
    "admin_sponsor_cap": " · تا {count} عضویت",
    "admin_sponsor_ends": " · پایان {when}",
    "admin_sponsor_unchecked": (
        "⚠️ نمی‌توانم اعضای {name} را بررسی کنم ({reason}). ربات را در آن مدیر کنید؛ "
        "تا آن موقع از کاربران خواسته نمی‌شود در آن عضو شوند."
    ),
    "admin_delsponsor_usage": "روش استفاده: /delsponsor &lt;@کانال | -100id | #شمارهٔ قفل&gt;",
    "admin_sponsor_unknown": "قفل فعالی با {ref} نیست. /sponsors فهرست قفل‌ها را نشان می‌دهد.",
    "admin_sponsor_removed": "🔓 قفل #{id} ({name}) برداشته شد.",
    "admin_sponsors_none": "قفلی نیست. با /addsponsor یکی اضافه کنید.",
    "admin_sponsors_head": "🔒 قفل‌های فعال:",
    "admin_sponsors_ended": "\nپایان‌یافته‌های اخیر:",
    "admin_sponsors_line": (
        "#{id} {name}{terms}\n"
        "   عضویت {joins} · از قبل عضو {already} · دیده ولی عضو نشده {shown} · عضو شده و رفته {left}"
    ),
    "admin_sponsors_unchecked": "   ⚠️ بررسی‌پذیر نیست: ربات در آن مدیر نیست",
    "admin_sponsor_end_cap": " · به سقف رسید",
    "admin_sponsor_end_expired": " · زمانش تمام شد",
    "admin_sponsor_end_removed": " · برداشته شد",
    "admin_ban_usage": "روش استفاده: /ban &lt;شناسهٔ کاربر&gt; [دلیل]",
    "admin_unban_usage": "روش استفاده: /unban &lt;شناسهٔ کاربر&gt;",
    "admin_ban_admin": "مدیران را نمی‌توان مسدود کرد.",
    "admin_banned": "⛔ کاربر {user} مسدود شد{reason}.",
    "admin_ban_reason": " ({reason})",
    "admin_unbanned": "✅ کاربر {user} دیگر مسدود نیست.",
    "admin_not_banned": "کاربر {user} مسدود نبود.",
    "admin_maintenance_usage": "روش استفاده: /maintenance on|off [پیام]\nحالت تعمیر {state} است.",
    "maintenance_is_on": "روشن",
    "maintenance_is_off": "خاموش",
    "admin_maintenance_on": (
        "🛠 حالت تعمیر روشن شد. دانلودهای در جریان تمام می‌شوند و صف منتظر می‌ماند. به کاربران گفته می‌شود:\n{notice}"
    ),
    "admin_maintenance_off": "✅ حالت تعمیر خاموش شد؛ دانلودهای صف ادامه می‌یابند.",
    "alert_lock_unchecked": (
        "⚠️ قفل #{id} {name}: نمی‌توانم اعضایش را بررسی کنم ({reason}). "
        "تا ربات در آن مدیر نشود، از کاربران خواسته نمی‌شود در آن عضو شوند."
    ),
    "alert_lock_checkable": "✅ قفل #{id} {name}: اعضایش دوباره بررسی‌پذیرند.",
    "alert_lock_cap": "🔓 قفل #{id} {name} پایان یافت: به سقف {count} عضویت رسید.",
    "alert_lock_expired": "🔓 قفل #{id} {name} پایان یافت: زمانش تمام شد ({count} عضویت).",
    # ---- broadcast and admin panel (helper/broadcast: core/broadcasts.py, gateway/admin/broadcast.py,
    # gateway/admin/panel.py) ----
    "bc_how": "برای فرستادن یک پیام به همه‌ی کاربران، روی آن پیام /broadcast را پاسخ بزنید.",
    "bc_busy": "ارسال همگانی #{id} هنوز در جریان است. آن را لغو کنید یا صبر کنید تا تمام شود.",
    "bc_nobody": "هنوز کسی نیست که پیام برایش فرستاده شود.",
    "bc_confirm": "📣 پیامی که روی آن /broadcast زدید برای {count} کاربر فرستاده شود؟",
    "bc_button_confirm": "✅ بفرست",
    "bc_button_discard": "✖ نفرست",
    "bc_button_pause": "⏸ توقف",
    "bc_button_resume": "▶️ ادامه",
    "bc_button_cancel": "⏹ لغو",
    "bc_started": "ارسال همگانی شروع شد.",
    "bc_dropped": "ارسال همگانی کنار گذاشته شد؛ چیزی فرستاده نشد.",
    "bc_paused": "ارسال همگانی متوقف شد.",
    "bc_resumed": "ارسال همگانی ادامه یافت.",
    "bc_cancelled": "ارسال همگانی لغو شد.",
    "bc_title_running": "📣 ارسال همگانی در جریان است",
    "bc_title_paused": "⏸ ارسال همگانی متوقف است",
    "bc_title_cancelled": "⏹ ارسال همگانی لغو شد",
    "bc_title_done": "✅ ارسال همگانی تمام شد",
    "bc_title_source_gone": "⚠️ ارسال همگانی متوقف شد: پیام پاک شده است",
    "bc_counts": "فرستاده: {sent} · مسدود: {blocked} · ناموفق: {failed}",
    "bc_unknown": "نامعلوم: {unknown} (هنگام توقف آپلودر در راه بودند؛ دوباره فرستاده نمی‌شوند)",
    "bc_progress": "{bar} {percent} ٪ · {done} از {total}",
    "bc_pace": "{bar} {percent} ٪ · {done} از {total} · {rate} در ثانیه · {left}",
    "bc_report_done": "📣 گزارش ارسال همگانی",
    "bc_report_cancelled": "📣 گزارش ارسال همگانی (لغو شد)",
    "bc_report_source_gone": "📣 گزارش ارسال همگانی (متوقف شد: پیام پاک شده بود)",
    "bc_report_sent": "فرستاده: {sent}",
    "bc_report_blocked": "مسدود: {blocked} (ربات را مسدود کرده‌اند؛ از این پس کنار گذاشته می‌شوند)",
    "bc_report_failed": "ناموفق: {failed}",
    "bc_report_unknown": (
        "نامعلوم: {unknown} (هنگام توقف آپلودر در راه بودند و شاید رسیده باشند؛ دوباره فرستاده نمی‌شوند)"
    ),
    "bc_report_not_reached": "نرسیده: {left}",
    "bc_report_duration": "مدت: {duration}",
    "bc_span_hours": "{hours} ساعت و {minutes} دقیقه",
    "bc_span_minutes": "{minutes} دقیقه و {seconds} ثانیه",
    "bc_span_seconds": "{seconds} ثانیه",
    "panel_admin_only": "متأسفم، این فرمان فقط برای مدیران ربات است.",
    "panel_none_yet": "هنوز هیچ",
    "panel_health": (
        "🩺 سلامت: {status} · روشن از {uptime} پیش\n{processes}{hosts}\n\n"
        "💽 فضای آزاد دیسک: {disk} ٪ ({disk_free})\n🧠 حافظه: {memory} ٪ · پردازنده: {cpu} ٪ · بار: {load}\n"
        "📁 پوشه‌ی موقت: {spool}\n🗄 پایگاه داده: {database}\n"
        "⏳ کارها: {queued} در صف · {running} در جریان · 👥 {users} کاربر در ۲۴ ساعت\n\n{alerts}"
    ),
    "panel_process": (
        "{mark} {name}: {state}، شناسه {pid}، {rss} مگابایت، پردازنده {cpu} ٪، راه‌اندازی دوباره {restarts}{heartbeat}"
    ),
    "panel_heartbeat": "، آخرین نشانه {age} ثانیه پیش",
    "panel_monitor_unreachable": "⚠️ مانیتور در دسترس نیست (در {seconds} ثانیه پاسخی نداد).",
    "panel_circuits": "🔌 قطع‌کننده‌ها",
    "panel_circuits_none": "🔌 هیچ سایتی خطا نداشته است: همه‌ی قطع‌کننده‌ها بسته‌اند.",
    "panel_circuit": "{mark} {platform}: {state}، {failures} خطای پشت سر هم{retry}{probe}",
    "panel_circuit_retry": "، دانلود آزمایشی تا {seconds} ثانیه دیگر",
    "panel_circuit_probe": "، کار آزمایشی #{job}",
    "panel_circuit_closed": "بسته",
    "panel_circuit_open": "باز",
    "panel_circuit_half_open": "نیمه‌باز",
    "panel_cleanup": (
        "🧹 {count} پوشه‌ی جامانده پاک شد و {files} فایل نیمه‌کاره یا لاگ کهنه هم؛ {freed} آزاد شد. "
        "پوشه‌ی موقت اکنون {spool} است."
    ),
    "panel_reset_confirm": (
        "شمارنده‌های همه‌ی {count} کاربر (درخواست‌ها، دانلودها، حجم فرستاده) صفر شوند؟ این کار برگشت‌پذیر نیست."
    ),
    "panel_button_reset": "🗑 صفر کن",
    "panel_button_keep": "✖ نگه دار",
    "panel_reset_done": "شمارنده‌های {count} کاربر صفر شد.",
    "panel_mb": "{size} مگابایت",
    "panel_gb": "{size} گیگابایت",
    "panel_reset_kept": "چیزی صفر نشد.",
    # ---- end of broadcast and admin panel ----
    # ---- /ytdlp: the downloaders' yt-dlp, and keeping it current ----
    "ytdlp_version": "yt-dlp نسخهٔ {version}، منتشرشده در {date} ({age} پیش).\nبرای به‌روزرسانی: /ytdlp update",
    "ytdlp_version_undated": "yt-dlp نسخهٔ {version}.\nبرای به‌روزرسانی: /ytdlp update",
    "ytdlp_old": "⚠️ قدیمی‌تر از {days} روز است؛ سایت‌ها هر هفته تغییر می‌کنند، آن را به‌روز کنید.",
    "ytdlp_update_started": (
        "⏳ در حال به‌روزرسانی yt-dlp: نسخهٔ تازه روی یک لینک نمونه آزموده می‌شود و بعد دانلودرها یکی‌یکی "
        "دوباره راه می‌افتند. نتیجه همین‌جا می‌آید."
    ),
    "ytdlp_update_busy": "⏳ یک به‌روزرسانی yt-dlp در جریان است؛ نتیجه‌اش همین‌جا می‌آید.",
    "ytdlp_update_unreachable": (
        "⚠️ ناظر (supervisor) پاسخ نداد: آیا ربات با run.py اجرا شده است؟ از خط فرمان: python run.py update-ytdlp"
    ),
    "ytdlp_updated": "✅ yt-dlp به‌روز شد: {old} ← {new}. آزمون لینک نمونه را گذراند؛ یکی‌یکی راه‌اندازی شدند: {names}.",
    "ytdlp_current": "✅ yt-dlp نسخهٔ {version} همین حالا تازه‌ترین است.",
    "ytdlp_update_failed": "⚠️ yt-dlp به‌روز نشد: {detail}. دانلودرها با {old} ادامه می‌دهند.",
    # ---- the monitor: alerts and their "resolved" messages (monitor/rules.py), /health ----
    "alert_crash_loop_ok": "✅ فرایند «{kind}» دوباره کار می‌کند.",
    "alert_disk_low": (
        "🚨 بحرانی: فقط {free_pct} ٪ از دیسک خالی است ({free_gb} گیگابایت) در {path}. تا جا باز نشود "
        "دانلود تازه پذیرفته نمی‌شود: فایل‌های قدیمی را پاک کنید یا دیسک را بزرگ‌تر کنید؛ "
        "/cleanup جامانده‌های خود ربات را پاک می‌کند."
    ),
    "alert_disk_ok": "✅ دیسک: دوباره {free_pct} ٪ خالی است.",
    "alert_memory_high": (
        "⚠️ حافظه: {pct} ٪ در حال استفاده است (مرز {limit} ٪). /health نشان می‌دهد کدام فرایند بزرگ شده است؛ "
        "راه‌اندازی دوباره‌ی آن حافظه‌اش را آزاد می‌کند."
    ),
    "alert_memory_ok": "✅ حافظه: {pct} ٪ در حال استفاده، دوباره زیر مرز.",
    "alert_cpu_high": (
        "⚠️ پردازنده: در دو بررسی پشت سر هم {pct} ٪ مشغول بود (مرز {limit} ٪). دانلودها کندتر می‌شوند؛ "
        "اگر ادامه یابد، دانلودگر کمتر (WORKERS) یا سرور قوی‌تر کمک می‌کند."
    ),
    "alert_cpu_ok": "✅ پردازنده: {pct} ٪ مشغول، دوباره زیر مرز.",
    "alert_spool_large": (
        "⚠️ پوشه‌ی موقت {size} گیگابایت شده است (مرز {limit} گیگابایت): فایل‌ها منتظر ارسال‌اند. "
        "در /health ببینید فرستنده گیر نکرده باشد، یا /cleanup را بزنید."
    ),
    "alert_spool_ok": "✅ پوشه‌ی موقت {size} گیگابایت است، دوباره زیر مرز.",
    "alert_process_stalled": (
        "⚠️ فرایند «{name}» {seconds} ثانیه است که نشانه‌ی زنده بودن نفرستاده است: گیر کرده است. "
        "ناظر پس از {kill_after} ثانیه سکوت آن را دوباره راه می‌اندازد."
    ),
    "alert_process_stalled_ok": "✅ فرایند «{name}» دوباره پاسخ می‌دهد.",
    "alert_host_lost": (
        "⚠️ میزبان دانلود «{host}» {seconds} ثانیه است که بی‌صداست: کارهایش به صف برمی‌گردند و جای دیگری "
        "انجام می‌شوند. ربات با میزبان‌های دیگر به کار ادامه می‌دهد."
    ),
    "alert_host_left": "⚠️ میزبان دانلود «{host}» رفت (عمداً متوقف شد)؛ کارهایش را پس داد.",
    "alert_host_back": "✅ میزبان دانلود «{host}» با {workers} دانلودکننده برگشت.",
    "alert_failure_rate": (
        "⚠️ در {minutes} دقیقه‌ی گذشته {pct} ٪ کارها ناموفق بودند ({failed} از {total}). "
        "علت را در /circuit و لاگ ببینید (تغییر سایت، کوکی‌ها، شبکه)."
    ),
    "alert_failure_rate_ok": "✅ ناموفق‌ها دوباره زیر {limit} ٪ هستند ({pct} ٪ در {minutes} دقیقه‌ی گذشته).",
    "alert_send_queue_old": (
        "⚠️ پیامی {minutes} دقیقه است که منتظر ارسال است ({count} پیام در صف). فرستنده گیر کرده یا "
        "تلگرام آن را نگه داشته است (FloodWait): /health را ببینید."
    ),
    "alert_send_queue_ok": "✅ صف ارسال دوباره حرکت می‌کند.",
    "panel_status_ok": "همه چیز درست است",
    "panel_status_degraded": "ناقص",
    "panel_status_down": "از کار افتاده",
    "panel_uptime_days": "{days} روز و {hours} ساعت",
    "panel_uptime_hours": "{hours} ساعت و {minutes} دقیقه",
    "panel_uptime_minutes": "{minutes} دقیقه",
    "panel_state_starting": "در حال راه‌اندازی",
    "panel_state_ready": "آماده",
    "panel_state_backoff": "در انتظار راه‌اندازی دوباره",
    "panel_state_cooling": "پس از خرابی‌های پیاپی، در مکث",
    "panel_state_given-up": "رها شده",
    "panel_state_stopped": "متوقف",
    "panel_state_stalled": "گیر کرده",
    "panel_state_unreachable": "میزبانش در دسترس نیست",
    "panel_hosts": "\n\n🖧 میزبان‌های دانلود:\n{hosts}",
    "panel_host": (
        "{mark} {name}: {state}، {downloaders} دانلودکننده، آخرین خبر {seen} پیش"
        " · فضای آزاد دیسک {disk} ٪ · حافظه {memory} ٪ · پردازنده {cpu} ٪ · بار {load}"
    ),
    "panel_host_joined": "متصل",
    "panel_host_lost": "بی‌خبر",
    "panel_host_left": "رفته (عمداً متوقف شد)",
    "panel_seconds": "{seconds} ثانیه",
    "panel_alerts": "🔔 هشدارهای فعال:\n{alerts}",
    "panel_alert_held": " (تا پایان فاصله‌ی هشدارها نگه داشته شده)",
    "panel_no_alerts": "🔕 هشدار فعالی نیست.",
    "panel_health_local": "💽 فضای آزاد دیسک: {disk} ٪\n📁 پوشه‌ی موقت: {spool}\n🗄 پایگاه داده: {database}",
    "alert_cookies_ok": "✅ {platform}: فایل کوکی {file} جایگزین شد و دوباره به کار می‌رود.",
    # ---- end of the monitor ----
    # ---- the admin panel, complete (gateway/admin: menu, stats, chart, limits, queue, profile, audit) ----
    "ap_menu": "🛠 <b>پنل مدیریت</b>\nچه چیزی را می‌خواهید ببینید یا انجام دهید؟",
    "ap_menu_stats": "📊 آمار",
    "ap_menu_health": "🩺 سلامت",
    "ap_menu_queue": "📋 صف",
    "ap_menu_limits": "⚙️ محدودیت‌ها",
    "ap_menu_user": "👤 یک کاربر",
    "ap_menu_cancel": "✖ لغو یک کار",
    "ap_menu_ban": "⛔ مسدود کردن",
    "ap_menu_unban": "✅ رفع مسدودی",
    "ap_menu_audit": "📜 گزارش کارهای مدیران",
    "ap_menu_circuit": "🔌 قطع‌کننده‌ها",
    "ap_menu_sponsors": "🔒 قفل‌ها",
    "ap_menu_addsponsor": "➕ افزودن قفل",
    "ap_menu_delsponsor": "➖ برداشتن قفل",
    "ap_menu_maintenance": "🛠 حالت تعمیر",
    "ap_menu_broadcast": "📣 ارسال همگانی",
    "ap_menu_cleanup": "🧹 پاک‌سازی پوشه‌ی موقت",
    "ap_menu_reset_stats": "🗑 صفر کردن شمارنده‌ها",
    "ap_ask_user": "👤 شناسه‌ی کاربر را بفرستید.",
    "ap_ask_cancel": "✖ شماره‌ی کاری را که باید لغو شود بفرستید (همان که /queue نشان می‌دهد).",
    "ap_ask_ban": "⛔ شناسه‌ی کاربری را که باید مسدود شود بفرستید؛ اگر خواستید دلیلش را هم بنویسید.",
    "ap_ask_unban": "✅ شناسه‌ی کاربری را که باید از مسدودی درآید بفرستید.",
    "ap_ask_addsponsor": (
        "➕ کانال قفل را بفرستید: ‎@کانال، شناسه‌ی ‎-100 همراه لینک دعوت، یا لینک t.me؛ "
        "و اگر خواستید بیشترین تعداد عضویت و چند روز بماند. مثال: ‎@mychannel 1000 7"
    ),
    "ap_ask_delsponsor": "➖ قفلی را که باید برداشته شود بفرستید: ‎@کانال، شناسه‌ی ‎-100 یا #شماره.",
    "ap_stop": "✖ بی‌خیال",
    "ap_stopped": "دیگر منتظر چیزی نیستم.",
    "ap_yes": "✅ بله",
    "ap_yes_cancel": "✅ بله، لغو شود",
    "ap_no": "✖ نه",
    "ap_yes_word": "بله",
    "ap_no_word": "نه",
    "ap_page": "{page}/{pages} 🔄",
    "ap_showing": "{first} تا {last} از {total}",
    "ap_age_s": "{n} ثانیه",
    "ap_age_min": "{n} دقیقه",
    "ap_age_h": "{n} ساعت",
    "ap_age_d": "{n} روز",
    "ap_phase_queued": "در انتظار",
    "ap_phase_probing": "در حال بررسی لینک",
    "ap_phase_choosing": "کاربر در حال انتخاب",
    "ap_phase_downloading": "در حال دانلود",
    "ap_phase_uploading": "در حال ارسال",
    "ap_phase_done": "انجام شد",
    "ap_phase_failed": "ناموفق",
    "ap_phase_cancelled": "لغو شد",
    "ap_stats_head": "📊 <b>آمار</b>",
    "ap_stats_users": (
        "👥 کاربران: {users} · تازه‌واردان امروز {new} · فعال در ۲۴ ساعت {day} · در ۷ روز {week} · "
        "ربات را مسدود کرده {blocked} · محروم {banned}"
    ),
    "ap_stats_today": (
        "📥 کارهای امروز: {total} · انجام‌شده {done} · ناموفق {failed} · لغوشده {cancelled} · ناتمام {active}\n"
        "   به تفکیک سایت: {platforms}"
    ),
    "ap_stats_week": (
        "📅 کارهای ۷ روز: {total} · انجام‌شده {done} · ناموفق {failed} · لغوشده {cancelled} · ناتمام {active}\n"
        "   به تفکیک سایت: {platforms}"
    ),
    "ap_stats_success": "✅ نرخ موفقیت (۷ روز، انجام‌شده از انجام‌شده و ناموفق): {pct} ٪",
    "ap_stats_times": (
        "⏱ میانه‌ها (۷ روز): از لینک تا فایل {total} ثانیه · دانلود {download} ثانیه · ارسال {upload} ثانیه"
    ),
    "ap_stats_cache": "⚡ نرخ استفاده از حافظه‌ی پنهان (۷ روز): {pct} ٪ ({hits} از {files} فایل بی‌دانلود فرستاده شد)",
    "ap_stats_queue": "⏳ صف اکنون: در جریان {running} · در انتظار {queued} · در حال انتخاب {choosing}",
    "ap_stats_locks": "🔒 عضویت‌ها به تفکیک قفل: {locks}",
    "ap_chart_title": "کارها در هر روز، {days} روز گذشته",
    "ap_chart_empty": "در این روزها کاری نبوده است",
    "ap_chart_unknown": "نامشخص",
    "ap_chart_other": "سایر",
    "ap_chart_busy": (
        "📈 این بار نمودار کشیده نمی‌شود: چند نمودار در حال کشیده شدن است. یک دقیقه‌ی دیگر دوباره امتحان کنید."
    ),
    "ap_chart_failed": "📈 این بار نمودار کشیده نشد؛ اعداد بالا کامل‌اند. دلیلش در گزارش (لاگ) هست.",
    "ap_queue_head": "📋 <b>صف</b>، قدیمی‌ترین اول",
    "ap_queue_empty": "📋 صف خالی است: کاری در جریان یا در انتظار نیست.",
    "ap_queue_line": "#{id} · 👤 {user} · {host} · {phase} · {age}",
    "ap_button_cancel_job": "✖ #{id}",
    "ap_cancel_confirm": "کار #{id} از کاربر {user} ({host}، {phase}) لغو شود؟ به کاربر خبر داده می‌شود.",
    "ap_cancel_usage": (
        "روش استفاده: /cancel &lt;شماره‌ی کار&gt; (/queue شماره‌ها را نشان می‌دهد). /cancel تنها، کارهای "
        "خودتان را لغو می‌کند."
    ),
    "ap_cancel_none": "کار #{id} در جریان یا در انتظار نیست: چیزی برای لغو نیست.",
    "ap_cancel_done": "✖ کار #{id} لغو شد؛ به کاربر {user} خبر داده شد.",
    "ap_cancelled_by_admin": (
        "ℹ️ پوزش می‌خواهیم: یکی از مدیران مجبور شد دانلود شما از {host} را متوقف کند. کمی بعد "
        "می‌توانید لینک را دوباره بفرستید."
    ),
    "ap_user_usage": "روش استفاده: /user &lt;شناسه‌ی کاربر&gt;",
    "ap_user_unknown": "کاربر {id} هرگز به ربات پیام نداده است.",
    "ap_user_head": "👤 <b>کاربر {id}</b> {name}",
    "ap_user_profile": (
        "زبان {language} · اولین بار {first} · آخرین بار {last}\nربات را مسدود کرده: {blocked} · محروم: {banned}"
    ),
    "ap_user_banned": "از {when}، به دست {by}",
    "ap_user_ban_reason": "دلیل: {reason}",
    "ap_user_counts": "درخواست‌ها {requests} · فایل‌های فرستاده {ok} · ناموفق {failed} · {sent} مگابایت فرستاده",
    "ap_user_jobs": "\n📥 آخرین کارها:",
    "ap_user_no_jobs": "\n📥 هنوز کاری نبوده است.",
    "ap_user_job": "{mark} #{id} {outcome} · {host} · {age} پیش",
    "ap_user_bans": "\n⛔ مسدودی‌ها:",
    "ap_user_ban_line": "⛔ {when} مسدود شد به دست {by} {reason}",
    "ap_user_unban_line": "✅ {when} از مسدودی درآمد به دست {by}",
    "ap_user_locks": "\n🔒 قفل‌ها:",
    "ap_user_no_locks": "\n🔒 قفلی به او نشان داده نشده است.",
    "ap_user_lock": "{name}: {status} {when}",
    "ap_lock_shown": "دید ولی عضو نشد",
    "ap_lock_joined": "عضو شد",
    "ap_lock_already": "از قبل عضو بود",
    "ap_lock_left": "عضو شد و بعد رفت",
    "ap_button_ban": "⛔ مسدود کن",
    "ap_button_unban": "✅ رفع مسدودی",
    "ap_button_cancel_user": "✖ لغو کارهایش ({count})",
    "ap_button_refresh": "🔄 تازه کن",
    "ap_user_confirm_ban": "کاربر {id} مسدود شود؟ کارهای ناتمامش لغو می‌شوند.",
    "ap_user_confirm_unban": "کاربر {id} از مسدودی درآید؟",
    "ap_user_confirm_cancel_user": "همه‌ی کارهای ناتمام کاربر {id} لغو شوند؟ به او خبر داده می‌شود.",
    "ap_user_banned_now": "⛔ کاربر {id} مسدود شد؛ {jobs} کار لغو شد.",
    "ap_user_cancelled_now": "✖ {jobs} کار از کاربر {id} لغو شد.",
    "ap_audit_head": "📜 <b>گزارش کارهای مدیران</b>، تازه‌ترین اول",
    "ap_audit_none": "📜 گزارش کارهای مدیران خالی است.",
    "ap_audit_line": "{when} · {admin} · <b>{action}</b> {detail}",
    "ap_limits_head": "⚙️ <b>محدودیت‌هایی</b> که در حین کار ربات تغییر می‌کنند (✏️ را یک مدیر تغییر داده است):",
    "ap_limits_line": "{mark} <code>{name}</code> = {value} (در شروع {default})\n      {help}",
    "ap_limits_foot": (
        "\nبرای تغییر، روی نامش بزنید یا بفرستید ‎/setlimit NAME value (با default به مقدار شروع برمی‌گردد). "
        "بقیه‌ی تنظیمات فقط در شروع خوانده می‌شوند: آن‌ها را در ‎.env تغییر دهید و ربات را دوباره راه بیندازید."
    ),
    "ap_limits_ask": "✏️ مقدار تازه‌ی <code>{name}</code> را بفرستید (اکنون {value}، در شروع {default})، یا «default».",
    "ap_setlimit_usage": "روش استفاده: ‎/setlimit NAME value. ‏/limits نام‌ها را نشان می‌دهد.",
    "ap_setlimit_unknown": "تنظیمی به نام {name} نیست. /limits آن‌هایی را که در حین کار تغییر می‌کنند نشان می‌دهد.",
    "ap_setlimit_restart": "{name} فقط در شروع خوانده می‌شود: آن را در ‎.env تغییر دهید و ربات را دوباره راه بیندازید.",
    "ap_setlimit_bad": "❌ تغییر نکرد: {name} {problem}.",
    "ap_setlimit_done": (
        "✅ {name} اکنون {value} است (پیش از این {before}؛ در شروع {default}). همه‌ی فرایندها تا "
        "چند ثانیه‌ی دیگر از آن پیروی می‌کنند."
    ),
    "ap_rule_whole": "باید عدد صحیح باشد",
    "ap_rule_number": "باید عدد باشد",
    "ap_rule_finite": "باید عددی متناهی باشد",
    "ap_rule_at_least": "باید دست‌کم {n} باشد",
    "ap_rule_at_most": "باید حداکثر {n} باشد",
    "ap_rule_got": "{rule} (شما «{value}» فرستادید)",
    "ap_maintenance_turn_on": "🛠 روشن کردن حالت تعمیر",
    "ap_maintenance_turn_off": "✅ خاموش کردن حالت تعمیر",
    "limit_USER_REQUESTS_PER_MIN": "لینک در دقیقه برای هر کاربر",
    "limit_GLOBAL_REQUESTS_PER_MIN": "لینک در دقیقه برای همه با هم (۰: بی‌حد)",
    "limit_MAX_LINKS_PER_MESSAGE": "لینک‌هایی که از یک پیام برداشته می‌شود",
    "limit_MAX_DURATION_MIN": "بیشترین طول رسانه، دقیقه",
    "limit_MAX_FILE_MB": "بزرگ‌ترین دانلود، مگابایت (۰: سقف ارسال)",
    "limit_JOIN_RECHECK_INTERVAL": "کمترین فاصلهٔ دو بررسی «عضو شدم» برای هر کاربر، ثانیه",
    "limit_USER_CONCURRENT_DOWNLOADS": "دانلود هم‌زمان برای هر کاربر",
    "limit_QUEUE_MAX": "کارهای در انتظار؛ بیش از آن به کاربران گفته می‌شود ربات سرش شلوغ است",
    "limit_USER_QUEUE_MAX": "کارهای در انتظار یک کاربر؛ بیش از آن از او خواسته می‌شود صبر کند",
    "limit_JOB_ATTEMPTS": "دفعات تلاش برای یک کار پیش از شکست",
    "limit_SPOOL_MAX_GB": "سقف حجم پوشه‌ی موقت، گیگابایت",
    "limit_PROGRESS_EDIT_INTERVAL": "ثانیه‌های میان دو ویرایش پیام پیشرفت",
    "limit_NOTICE_INTERVAL": "ثانیه‌های میان راهنمایی‌ها و پاسخ‌های ردِ تکراری به یک کاربر",
    "limit_MAINTENANCE_NOTICE_INTERVAL": "ثانیه‌های میان اعلان‌های حالت تعمیر به یک کاربر",
    "limit_ALERT_COOLDOWN": "ثانیه‌های میان دو هشدار یکسان به مدیران",
    "limit_ALERT_DISK_FREE_PCT": "هشدار وقتی فضای آزاد دیسک کمتر از این درصد شود",
    "limit_ALERT_MEMORY_PCT": "هشدار وقتی حافظه‌ی مصرفی بیش از این درصد شود",
    "limit_ALERT_CPU_PCT": "هشدار وقتی مصرف پردازنده بیش از این درصد شود",
    "limit_ALERT_DOWNLOADS_GB": "هشدار وقتی پوشه‌ی دانلودها بیش از این گیگابایت شود",
    # ---- image posts, subtitles, inline mode (issue 17) -------------------------------------
    "choose_album": "🖼 {title}\nپستی با {count} مورد، عکس و ویدیو. چه بفرستم؟",
    "button_album_all": "🗂 همه",
    "button_album_photos": "🖼 فقط عکس‌ها",
    "button_album_videos": "🎬 فقط ویدیوها",
    "settings_media": "پست‌های عکس و ویدیو: {album}\nزیرنویس: {subtitles}",
    "album_all": "همه",
    "album_photos": "فقط عکس‌ها",
    "album_videos": "فقط ویدیوها",
    "subtitles_always": "همیشه",
    "subtitles_asked": "وقتی بخواهم",
    "button_subtitles_always": "📝 زیرنویس: همیشه",
    "button_subtitles_asked": "📝 زیرنویس: وقتی بخواهم",
    "button_subtitles": "📝 زیرنویس",
    "inline_send_video": "⬇️ این ویدیو را بفرست",
    "inline_send_audio": "🎵 به صورت صوت بفرست",
    "inline_preparing": "⏳ در حال آماده‌سازی…",
    "inline_source": "🔗 منبع",
    "inline_cached": "✅ {format}",
    "inline_join": "🔒 اول عضو کانال‌های ما شوید: اینجا را بزنید",
    "inline_no_storage": "اینجا فقط فایل‌هایی است که قبلاً فرستاده‌ام: برای بقیه ربات را باز کنید",
}
