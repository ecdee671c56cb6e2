"""The SSRF guard: every fetch of a download goes through one filtering proxy; nothing else fetches.

    async with open_egress_proxy(policy, upstreams=rotation) as proxy:
        clear_proxy_env()                          # children find no proxy (none of them fetches)
        await policy.admit_url(link)               # the user's link, before yt-dlp sees it
        proxy.bind(ydl, job_id)                    # each job: options, proxy URL, format guard
        ... proxy.refusals(job_id) ...             # after a failed job: was it the guard?

The modules, each named for what it holds:
- `targets`: parsing a URL or CONNECT authority, and EgressRefused (with its REASONS);
- `addresses`: which IP addresses are forbidden, and how a host spells one;
- `resolvers`: the system resolver, or the DNS server EGRESS_RESOLVER names; this machine's own
  addresses;
- `policy`: Policy, which admits a target (ports, one lookup, every address checked) or, in
  sandbox mode, only the sandbox's origin;
- `proxy`: the proxy itself (EgressProxy), which connects to exactly the admitted address and
  records refusals per job; `heads` (HTTP message heads), `relay` (bytes both ways, splice),
  `upstream` (direct, or through the operator's proxies), `rotation` (those proxies in turn);
- `ytdlp`: the options a YoutubeDL runs with; `formats`: the check before each download that
  nothing would be fetched around the proxy (FormatGuardPP); `children`: what the programs we
  start may open (local files and pipes), and no proxy in their environment.
"""

from downloader.egress.children import clear_proxy_env as clear_proxy_env
from downloader.egress.formats import StreamNeedsFfmpeg as StreamNeedsFfmpeg
from downloader.egress.policy import Admitted as Admitted
from downloader.egress.policy import Policy as Policy
from downloader.egress.proxy import EgressProxy as EgressProxy
from downloader.egress.proxy import Refusal as Refusal
from downloader.egress.proxy import open_egress_proxy as open_egress_proxy
from downloader.egress.resolvers import dns_resolver as dns_resolver
from downloader.egress.rotation import ProxyRotation as ProxyRotation
from downloader.egress.targets import EgressRefused as EgressRefused
