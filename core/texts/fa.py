"""Persian texts (the default language). Keys must match en.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "سلام {name}! 👋\n"
        "به ربات دانلودر خوش آمدید.\n"
        "لینک ویدیو یا صدا را از یوتیوب، اینستاگرام، تیک‌تاک، ایکس و صدها سایت دیگر بفرستید "
        "تا فایل را همین‌جا برایتان بفرستم."
    ),
    "alert_crash_loop": "⚠️ هشدار: فرایند «{kind}» پشت سر هم از کار افتاد و دیگر راه‌اندازی نمی‌شود.\n{reason}",
    # ---- downloader: the SSRF guard's refusals (downloader/egress_policy.py REASONS) ----
    "link_refused_scheme": "این لینک پشتیبانی نمی‌شود: فقط لینک‌های http و https را می‌توانم دانلود کنم.",
    "link_refused_credentials": "لینکی که نام کاربری یا رمز عبور در خود دارد پذیرفته نمی‌شود.",
    "link_refused_address": "این لینک به یک نشانی داخلی یا خصوصی اشاره می‌کند و دانلود از آن مجاز نیست.",
    "link_refused_not_sandbox": "در حالت آزمایشی (سندباکس) فقط از رسانه‌های خود سندباکس می‌توانم دانلود کنم.",
    "link_refused_unresolvable": "نشانی سایتِ این لینک پیدا نشد. لینک را بررسی کنید و دوباره بفرستید.",
    "link_refused_malformed": "این لینک درست نیست. لطفاً آن را بررسی کنید و دوباره بفرستید.",
}
