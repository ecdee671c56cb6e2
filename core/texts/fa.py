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
    # ---- failures (core.jobs; one per class of downloader.errors) ----
    "error_unsupported": "این لینک چیزی نیست که بتوانم دانلود کنم. لینک صفحهٔ یک ویدیو یا صدا را بفرستید.",
    "error_not_found": "در این لینک چیزی پیدا نکردم. درستی لینک و وجود محتوا را بررسی کنید.",
    "error_too_large": (
        "این فایل بزرگ‌تر از حدی است که تلگرام اجازه می‌دهد ({limit} مگابایت). کیفیت پایین‌تری را امتحان کنید."
    ),
    "error_internal": "هنگام دریافت این لینک مشکلی در سمت ربات پیش آمد. لطفاً کمی بعد دوباره امتحان کنید.",
}
