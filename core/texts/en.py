"""English texts. Keys must match fa.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "Hello {name}! 👋\n"
        "Welcome to the downloader bot.\n"
        "Send me a link to a video or audio from YouTube, Instagram, TikTok, X and hundreds of other sites, "
        "and I will send the file right here."
    ),
    "alert_crash_loop": "⚠️ Alert: the {kind} process kept crashing and is no longer restarted.\n{reason}",
    # ---- captions (uploader/caption.py) ----
    "caption_part": "Part {index} of {total}",
}
