"""Persian texts (the default language). Keys must match en.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "سلام {name}! 👋\n"
        "به ربات دانلودر خوش آمدید.\n"
        "لینک ویدیو یا صدا را از یوتیوب، اینستاگرام، تیک‌تاک، ایکس و صدها سایت دیگر بفرستید "
        "تا فایل را همین‌جا برایتان بفرستم."
    ),
    "alert_crash_loop": "⚠️ هشدار: فرایند «{kind}» پشت سر هم از کار افتاد و دیگر راه‌اندازی نمی‌شود.\n{reason}",
    # ---- captions (uploader/caption.py) ----
    "caption_part": "بخش {index} از {total}",
}
