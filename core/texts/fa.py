"""Persian texts (the default language). Keys must match en.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "سلام {name}! 👋\n"
        "به ربات دانلودر خوش آمدید.\n"
        "لینک ویدیو یا صدا را از یوتیوب، اینستاگرام، تیک‌تاک، ایکس و صدها سایت دیگر بفرستید "
        "تا فایل را همین‌جا برایتان بفرستم."
    ),
    "alert_crash_loop": "⚠️ هشدار: فرایند «{kind}» پشت سر هم از کار افتاد و دیگر راه‌اندازی نمی‌شود.\n{reason}",
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
    # ---- failures: error classes, circuit breakers, cookies, alerts (helper/failures) ----------
    # One text per downloader.errors class: what happened and what the user can do.
    "error_unsupported": (
        "در این لینک ویدیو یا صدایی پیدا نکردم، برای همین دانلود نمی‌شود. "
        "لطفاً لینک را بررسی کنید یا لینک خود پست را بفرستید."
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
    "alert_disk_full": "💽 دیسک پر است: یک دانلود به خاطر کمبود فضا در {path} ناموفق شد. لطفاً فضا آزاد کنید.",
    # ---- end of failures ----------------------------------------------------------------------
    # ---- downloader: the SSRF guard's refusals (downloader/egress_policy.py REASONS) ----
    "link_refused_scheme": "این لینک پشتیبانی نمی‌شود: فقط لینک‌های http و https را می‌توانم دانلود کنم.",
    "link_refused_credentials": "لینکی که نام کاربری یا رمز عبور در خود دارد پذیرفته نمی‌شود.",
    "link_refused_address": "این لینک به یک نشانی داخلی یا خصوصی اشاره می‌کند و دانلود از آن مجاز نیست.",
    "link_refused_not_sandbox": "در حالت آزمایشی (سندباکس) فقط از رسانه‌های خود سندباکس می‌توانم دانلود کنم.",
    "link_refused_unresolvable": "نشانی سایتِ این لینک پیدا نشد. لینک را بررسی کنید و دوباره بفرستید.",
    "link_refused_malformed": "این لینک درست نیست. لطفاً آن را بررسی کنید و دوباره بفرستید.",
    # ---- captions (uploader/caption.py) ----
    "caption_part": "بخش {index} از {total}",
}
