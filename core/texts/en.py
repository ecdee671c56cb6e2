"""English texts. Keys must match fa.py."""

TEXTS: dict[str, str] = {
    "welcome": (
        "Hello {name}! 👋\n"
        "Welcome to the downloader bot.\n"
        "Send me a link to a video or audio from YouTube, Instagram, TikTok, X and hundreds of other sites, "
        "and I will send the file right here."
    ),
    "alert_crash_loop": "⚠️ Alert: the {kind} process kept crashing and is no longer restarted.\n{reason}",
    # ---- downloader: the SSRF guard's refusals (downloader/egress_policy.py REASONS) ----
    "link_refused_scheme": "I can't use this link: only http and https links can be downloaded.",
    "link_refused_credentials": "Links with a user name or password in them are not accepted.",
    "link_refused_address": "This link points to a private or internal address, which I may not download from.",
    "link_refused_not_sandbox": "In sandbox mode I can only download the sandbox's own media.",
    "link_refused_unresolvable": "I couldn't find the site in this link. Check the link and send it again.",
    "link_refused_malformed": "This link is not valid. Please check it and send it again.",
}
