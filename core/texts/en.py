"""English texts. Keys must match fa.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "Hello {name}! 👋\n"
        "Welcome to the downloader bot.\n"
        "Send me a link to a video or audio from YouTube, Instagram, TikTok, X and hundreds of other sites, "
        "and I will send the file right here."
    ),
    "alert_crash_loop": "⚠️ Alert: the {kind} process kept crashing and is no longer restarted.\n{reason}",
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
    # ---- failures (core.jobs; one per class of downloader.errors) ----
    "error_unsupported": "This link is not something I can download. Send a link to a video or audio page.",
    "error_not_found": "I couldn't find anything at this link. Check that it is right and that the media still exists.",
    "error_too_large": "This file is larger than Telegram lets me send ({limit} MB). Try a lower quality.",
    "error_internal": "Something broke on my side while fetching this link. Please try again in a while.",
}
