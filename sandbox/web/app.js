// The sandbox web chat: a person plays a Telegram user against the bot.
// Plain browser JavaScript, no build step, nothing fetched from outside this server.
// It talks only to the sandbox's user-simulation API (/sandbox/...), never to the Bot API.
"use strict";

(() => {
  const POLL_MS = 2000; // fallback refresh period while server-sent events are down
  const CALLBACK_PENDING_MS = 15000; // a pressed button stops spinning after this, answered or not
  const TOAST_MS = 4000;
  const STICK_TO_BOTTOM_PX = 80; // auto-scroll only when the reader is already near the end
  const MAX_USERS_SHOWN = 50;
  const REPLY_SNIPPET_CHARS = 80;
  const STORAGE_KEY = "sandbox-chat-user";
  const DEFAULT_USER = { id: 1001, name: "Demo", lang: "fa" };
  const MEMBER_STATUSES = new Set(["creator", "administrator", "member", "restricted"]);
  const SAMPLES = [
    { path: "/media/sample.mp4", label: "video" },
    { path: "/media/audio.m4a", label: "audio" },
    { path: "/media/sample.m3u8", label: "hls" },
    { path: "/media/page.html", label: "page" },
    { path: "/media/multi.m3u8", label: "formats" },
    { path: "/media/feed.xml?items=3", label: "feed" },
    { path: "/media/gallery.html?images=3&videos=1", label: "gallery" },
  ];

  // ---- texts (English and Persian; the user's language picks) ----
  const TEXTS = {
    en: {
      title: "Sandbox chat",
      subtitle: "A local stand-in for Telegram",
      user: "User",
      userId: "User id",
      name: "Name",
      language: "Language",
      open: "Open chat",
      users: "Users",
      noUsers: "No users yet: sending a message creates one.",
      channels: "Sponsor channels",
      noChannels: "No sponsor channels.",
      join: "Join",
      leave: "Leave",
      member: "member",
      notMember: "not a member",
      blocked: "Bot blocked",
      notBlocked: "Bot not blocked",
      block: "Block the bot",
      unblock: "Unblock the bot",
      blockedBanner: "You have blocked the bot: it cannot send you messages.",
      bot: "Bot",
      chattingAs: "as",
      live: "live",
      polling: "polling",
      off: "offline",
      messages: "Messages",
      message: "Message",
      placeholder: "Write a message or paste a link…",
      send: "Send",
      samples: "Try a sample:",
      sampleHint: "Send this link to the bot",
      sample_video: "video (mp4)",
      sample_audio: "audio (m4a)",
      sample_hls: "stream (m3u8)",
      sample_page: "web page",
      sample_formats: "3 qualities (m3u8)",
      sample_feed: "playlist (RSS)",
      sample_gallery: "image post (3 + 1)",
      empty: "No messages yet. Send a link, or click a sample below.",
      deleted: "This message was deleted",
      edited: "edited",
      download: "Download",
      openLink: "Opens in a new tab",
      you: "You",
      error: "Sandbox error",
      needUser: "Enter a user id first.",
      inline: "Inline mode",
      inlineHint: "Type @sandbox_bot and a link, as in a chat with a friend",
      inlineQuery: "Inline query",
      ask: "Ask",
      results: "The bot's results",
      noResults: "No results yet.",
      waiting: "Waiting for the bot…",
      target: "Chat with a friend",
      targetEmpty: "Choose a result to send it here.",
      via: "via",
      album: "Album",
    },
    fa: {
      title: "چت آزمایشی",
      subtitle: "جایگزین محلی تلگرام",
      user: "کاربر",
      userId: "شناسه کاربر",
      name: "نام",
      language: "زبان",
      open: "باز کردن گفتگو",
      users: "کاربران",
      noUsers: "هنوز کاربری نیست: با فرستادن یک پیام کاربر ساخته می‌شود.",
      channels: "کانال‌های اسپانسر",
      noChannels: "کانال اسپانسری نیست.",
      join: "عضویت",
      leave: "ترک",
      member: "عضو",
      notMember: "عضو نیست",
      blocked: "ربات مسدود است",
      notBlocked: "ربات مسدود نیست",
      block: "مسدود کردن ربات",
      unblock: "رفع مسدودی ربات",
      blockedBanner: "شما ربات را مسدود کرده‌اید: ربات نمی‌تواند به شما پیام بدهد.",
      bot: "ربات",
      chattingAs: "با نام",
      live: "زنده",
      polling: "بازخوانی دوره‌ای",
      off: "قطع",
      messages: "پیام‌ها",
      message: "پیام",
      placeholder: "پیام بنویسید یا لینک بگذارید…",
      send: "ارسال",
      samples: "یک نمونه را امتحان کنید:",
      sampleHint: "این لینک را برای ربات بفرست",
      sample_video: "ویدیو (mp4)",
      sample_audio: "صدا (m4a)",
      sample_hls: "استریم (m3u8)",
      sample_page: "صفحه وب",
      sample_formats: "سه کیفیت (m3u8)",
      sample_feed: "فهرست پخش (RSS)",
      sample_gallery: "پست تصویری (۳ + ۱)",
      empty: "هنوز پیامی نیست. یک لینک بفرستید یا روی یکی از نمونه‌های پایین بزنید.",
      deleted: "این پیام حذف شد",
      edited: "ویرایش‌شده",
      download: "دانلود",
      openLink: "در برگه تازه باز می‌شود",
      you: "شما",
      error: "خطای سندباکس",
      needUser: "اول شناسه کاربر را وارد کنید.",
      inline: "حالت درون‌خطی",
      inlineHint: "مثل گفتگو با یک دوست، ‎@sandbox_bot‎ و یک لینک بنویسید",
      inlineQuery: "جستجوی درون‌خطی",
      ask: "بپرس",
      results: "نتیجه‌های ربات",
      noResults: "هنوز نتیجه‌ای نیست.",
      waiting: "در انتظار ربات…",
      target: "گفتگو با یک دوست",
      targetEmpty: "یک نتیجه را انتخاب کنید تا اینجا فرستاده شود.",
      via: "از طریق",
      album: "آلبوم",
    },
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    user: null, // {id, name, lang}
    lang: "fa",
    events: null, // EventSource
    pollTimer: 0,
    fetching: false,
    refetch: false,
    users: [],
    chatUser: null, // the open user as the chat view reports it (blocked state)
    chats: [],
    seenAnswers: new Set(),
    firstLoad: true,
    pending: new Map(), // callback_query_id -> button element
    rendered: new Map(), // message key -> {sig, el}
  };

  const t = (key) => (TEXTS[state.lang] || TEXTS.en)[key] ?? TEXTS.en[key] ?? key;

  // ---- HTTP ----
  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = null;
    }
    if (!resp.ok || (data && data.ok === false)) {
      const why = (data && (data.description || data.error)) || `${resp.status} ${resp.statusText}`;
      throw new Error(why);
    }
    return data;
  }

  const userPath = (suffix) => `/sandbox/users/${encodeURIComponent(state.user.id)}/${suffix}`;

  // ---- Telegram's HTML subset, rendered without ever using innerHTML ----
  // Allowed tags map to the element we build; anything else stays literal text.
  const HTML_TAGS = {
    b: "b", strong: "b", i: "i", em: "i", u: "u", ins: "u", s: "s", strike: "s", del: "s",
    a: "a", code: "code", pre: "pre", blockquote: "blockquote", "tg-spoiler": "span", span: "span",
    "tg-emoji": "span",
  };
  const TAG_RE = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*>/g;
  const ATTR_RE = /([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g;
  const SAFE_HREF = /^(https?:|tg:|mailto:)/i;

  function decodeEntities(text) {
    return text.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/g, (whole, name) => {
      if (name === "lt") return "<";
      if (name === "gt") return ">";
      if (name === "amp") return "&";
      if (name === "quot") return '"';
      const code = name[1] === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      try {
        return String.fromCodePoint(code);
      } catch (_) {
        return whole;
      }
    });
  }

  function parseAttrs(raw) {
    const attrs = {};
    for (const m of raw.matchAll(ATTR_RE)) {
      attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
    }
    return attrs;
  }

  function makeTagElement(name, attrs) {
    if (name === "span" && attrs.class !== "tg-spoiler") return null;
    const el = document.createElement(HTML_TAGS[name]);
    if (name === "tg-spoiler" || name === "span") {
      el.className = "spoiler";
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      el.addEventListener("click", () => el.classList.add("revealed"));
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") el.classList.add("revealed");
      });
    } else if (name === "a") {
      if (attrs.href && SAFE_HREF.test(attrs.href.trim())) el.href = attrs.href.trim();
      el.target = "_blank";
      el.rel = "noopener noreferrer";
    } else if (name === "code" && /^language-[\w+-]+$/.test(attrs.class || "")) {
      el.className = attrs.class;
    } else if (name === "blockquote" && "expandable" in attrs) {
      el.className = "expandable";
    }
    return el;
  }

  function renderHtml(text, into) {
    const stack = [{ name: null, el: into }];
    const top = () => stack[stack.length - 1].el;
    const literal = (s) => s && top().appendChild(document.createTextNode(s));
    let last = 0;
    for (const m of text.matchAll(TAG_RE)) {
      literal(decodeEntities(text.slice(last, m.index)));
      last = m.index + m[0].length;
      const closing = m[1] === "/";
      const name = m[2].toLowerCase();
      if (!(name in HTML_TAGS)) {
        literal(m[0]);
        continue;
      }
      if (closing) {
        const at = stack.map((f) => f.name).lastIndexOf(name);
        if (at > 0) stack.length = at;
        else literal(m[0]);
        continue;
      }
      const el = makeTagElement(name, parseAttrs(m[3] || ""));
      if (!el) {
        literal(m[0]);
        continue;
      }
      top().appendChild(el);
      stack.push({ name, el });
    }
    literal(decodeEntities(text.slice(last)));
  }

  // ---- Telegram message entities (offsets and lengths in UTF-16 units, like JavaScript strings) ----
  const ENTITY_TAGS = {
    bold: "b", italic: "i", underline: "u", strikethrough: "s", spoiler: "span", code: "code", pre: "pre",
    blockquote: "blockquote", expandable_blockquote: "blockquote", text_link: "a", url: "a", email: "a",
    phone_number: "a", bot_command: "a",
  };

  function entityElement(entity, text) {
    const tag = ENTITY_TAGS[entity.type] || "span";
    const node = document.createElement(tag);
    node.dataset.entity = entity.type;
    const covered = text.slice(entity.offset, entity.offset + entity.length);
    if (entity.type === "spoiler") return makeTagElement("tg-spoiler", {});
    if (entity.type === "pre" && entity.language) node.dataset.language = entity.language;
    if (entity.type === "expandable_blockquote") node.className = "expandable";
    if (tag !== "a") return node;
    let href = "";
    if (entity.type === "text_link") href = entity.url || "";
    else if (entity.type === "url") href = /^[a-z][\w+.-]*:/i.test(covered) ? covered : `https://${covered}`;
    else if (entity.type === "email") href = `mailto:${covered}`;
    else if (entity.type === "phone_number") href = `tel:${covered}`;
    if (entity.type === "bot_command") {
      // As in Telegram, tapping a /command sends it.
      node.href = "#";
      node.addEventListener("click", (e) => {
        e.preventDefault();
        sendText(covered.replace(/@\w+$/, ""));
      });
      return node;
    }
    if (SAFE_HREF.test(href) || href.startsWith("tel:")) node.href = href;
    node.target = "_blank";
    node.rel = "noopener noreferrer";
    return node;
  }

  function renderEntities(text, entities, into) {
    const ents = entities
      .filter((e) => Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
      .map((e, i) => ({ ...e, end: Math.min(e.offset + e.length, text.length), order: i }))
      .sort((a, b) => a.offset - b.offset || b.end - a.end || a.order - b.order);
    const cuts = new Set([0, text.length]);
    for (const e of ents) cuts.add(Math.min(e.offset, text.length)).add(e.end);
    const points = [...cuts].sort((a, b) => a - b);
    // Walk the text piece by piece; the open elements follow the entities covering each piece
    // (outer first), so overlapping entities are split instead of mis-nested.
    let open = []; // [{entity, node}]
    for (let k = 0; k + 1 < points.length; k += 1) {
      const [from, to] = [points[k], points[k + 1]];
      const covering = ents.filter((e) => e.offset <= from && e.end >= to);
      let keep = 0;
      while (keep < open.length && keep < covering.length && open[keep].entity === covering[keep]) keep += 1;
      open = open.slice(0, keep);
      for (const entity of covering.slice(keep)) {
        const node = entityElement(entity, text);
        (open.length ? open[open.length - 1].node : into).appendChild(node);
        open.push({ entity, node });
      }
      (open.length ? open[open.length - 1].node : into).appendChild(document.createTextNode(text.slice(from, to)));
    }
  }

  function renderBody(message, body, into) {
    const entities = message.text != null ? message.entities : message.caption_entities ?? message.entities;
    if (Array.isArray(entities)) renderEntities(body, entities, into);
    else if (typeof message.html === "string") renderHtml(message.html, into);
    else into.textContent = body;
  }

  // ---- chat rendering ----
  function formatSize(bytes) {
    if (!Number.isFinite(bytes)) return "";
    const units = ["B", "KB", "MB", "GB"];
    let n = bytes;
    let u = 0;
    while (n >= 1024 && u < units.length - 1) {
      n /= 1024;
      u += 1;
    }
    return `${n.toFixed(u && n < 10 ? 1 : 0)} ${units[u]}`;
  }

  function formatDuration(seconds) {
    if (!Number.isFinite(seconds) || seconds <= 0) return "";
    const s = Math.round(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function formatTime(unix) {
    if (!unix) return "";
    return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.appendChild(c);
    return node;
  }

  function buildMedia(media) {
    const kind = media.kind || "document";
    const url = media.url || "";
    let player = null;
    if (url && ["video", "animation", "video_note"].includes(kind)) {
      player = el("video", {
        controls: "", preload: "metadata", playsinline: "", src: url, "data-testid": "media-video",
        "aria-label": media.file_name || kind, poster: media.thumbnail_url || undefined,
      });
      if (media.width && media.height) player.style.aspectRatio = `${media.width} / ${media.height}`;
    } else if (url && ["audio", "voice"].includes(kind)) {
      player = el("audio", {
        controls: "", preload: "metadata", src: url, "data-testid": "media-audio",
        "aria-label": media.file_name || kind,
      });
    } else if (url && kind === "photo") {
      player = el("img", { src: url, alt: media.file_name || "photo", loading: "lazy", "data-testid": "media-photo" });
    }
    const title = [media.performer, media.title].filter(Boolean).join(" – ");
    const facts = [title || media.file_name, formatSize(media.size), formatDuration(media.duration)].filter(Boolean);
    const info = el("div", { class: "media-info", dir: "auto" });
    if (url && !player) {
      info.appendChild(el("a", {
        class: "doc", href: url, download: media.file_name || "", "data-testid": "media-document",
        "aria-label": `${t("download")} ${media.file_name || ""}`.trim(),
      }, [el("span", { class: "doc-icon", "aria-hidden": "true", text: "⬇" }), el("span", { text: facts.join(" · ") || t("download") })]));
    } else {
      info.textContent = facts.join(" · ");
    }
    return el("div", { class: `media media-${kind}`, "data-kind": kind, "data-file-id": media.file_id || "" }, [player, info]);
  }

  function buildKeyboard(message) {
    const rows = (message.reply_markup && message.reply_markup.inline_keyboard) || [];
    if (!rows.length) return null;
    const kb = el("div", { class: "keyboard", role: "group" });
    for (const row of rows) {
      const r = el("div", { class: "kb-row" });
      for (const button of row) {
        if (button.url) {
          r.appendChild(el("a", {
            class: "kb-button", href: button.url, target: "_blank", rel: "noopener noreferrer",
            "data-testid": "kb-button", "data-kind": "url", title: t("openLink"), dir: "auto",
          }, [document.createTextNode(button.text), el("span", { class: "kb-arrow", "aria-hidden": "true", text: " ↗" })]));
        } else {
          const b = el("button", {
            type: "button", class: "kb-button", "data-testid": "kb-button", "data-kind": "callback",
            "data-callback": button.callback_data ?? "", dir: "auto", text: button.text,
          });
          b.addEventListener("click", () => pressButton(message.message_id, button.callback_data ?? "", b));
          r.appendChild(b);
        }
      }
      kb.appendChild(r);
    }
    return kb;
  }

  function buildReplyQuote(message, byId) {
    const replied = byId.get(message.reply_to_message_id);
    if (!replied) return null;
    const who = replied.from === "user" ? t("you") : t("bot");
    const what = replied.deleted ? t("deleted") : replied.text || replied.caption || (replied.media && replied.media.kind) || "";
    return el("div", { class: "reply-quote", "data-testid": "reply-quote" }, [
      el("span", { class: "reply-who", text: who }),
      el("span", { class: "reply-what", dir: "auto", text: what.slice(0, REPLY_SNIPPET_CHARS) }),
    ]);
  }

  function buildBubble(message, oldEl, byId) {
    const from = message.from === "user" ? "user" : "bot";
    const item = el("li", {
      class: `msg from-${from}`, "data-testid": "msg", "data-from": from,
      "data-message-id": message.message_id, "data-deleted": message.deleted ? "true" : "false",
    });
    const bubble = el("div", { class: "bubble", dir: "auto" });
    item.appendChild(bubble);
    if (message.deleted) {
      bubble.classList.add("deleted");
      bubble.appendChild(el("div", { class: "text", "data-testid": "msg-text", text: t("deleted") }));
      return item;
    }
    if (message.via_bot) bubble.appendChild(el("div", { class: "via", "data-testid": "msg-via", text: `${t("via")} @sandbox_bot` }));
    const quote = message.reply_to_message_id ? buildReplyQuote(message, byId) : null;
    if (quote) bubble.appendChild(quote);
    if (message.media) {
      // Keep a playing video alive when only the caption or buttons changed.
      const old = oldEl && oldEl.querySelector(".media");
      const sameFile = old && old.dataset.fileId === (message.media.file_id || "");
      bubble.appendChild(sameFile ? old : buildMedia(message.media));
    }
    const body = message.text ?? message.caption ?? "";
    if (body) {
      const text = el("div", { class: "text", dir: "auto", "data-testid": "msg-text" });
      renderBody(message, body, text);
      bubble.appendChild(text);
    }
    const meta = el("div", { class: "meta" });
    if (message.edit_count > 0) meta.appendChild(el("span", { class: "edited", "data-testid": "msg-edited", text: t("edited") }));
    meta.appendChild(el("time", { text: formatTime(message.date) }));
    bubble.appendChild(meta);
    const kb = buildKeyboard(message);
    if (kb) item.appendChild(kb);
    return item;
  }

  // An album: its items' media in a grid (a playing video kept when only a caption changed), their
  // captions under it (usually only the first has one), as Telegram shows it.
  function buildAlbum(messages, oldEl, byId) {
    const first = messages[0];
    const from = first.from === "user" ? "user" : "bot";
    const item = el("li", {
      class: `msg from-${from} album`, "data-testid": "album", "data-from": from,
      "data-media-group-id": first.media_group_id, "data-message-id": first.message_id, "data-count": messages.length,
    });
    const bubble = el("div", { class: "bubble", dir: "auto", "aria-label": t("album") });
    item.appendChild(bubble);
    const quote = first.reply_to_message_id ? buildReplyQuote(first, byId) : null;
    if (quote) bubble.appendChild(quote);
    const grid = el("div", { class: `album-grid count-${Math.min(messages.length, 4)}`, "data-testid": "album-grid" });
    for (const m of messages) {
      const old = oldEl && oldEl.querySelector(`.album-item[data-message-id="${m.message_id}"] .media`);
      const sameFile = old && m.media && old.dataset.fileId === (m.media.file_id || "");
      const cell = el("div", { class: "album-item", "data-testid": "album-item", "data-message-id": m.message_id });
      cell.appendChild(sameFile ? old : buildMedia(m.media || {}));
      grid.appendChild(cell);
    }
    bubble.appendChild(grid);
    for (const m of messages) {
      if (!m.caption) continue;
      const text = el("div", { class: "text", dir: "auto", "data-testid": "msg-text" });
      renderBody(m, m.caption, text);
      bubble.appendChild(text);
    }
    const meta = el("div", { class: "meta" });
    if (messages.some((m) => m.edit_count > 0)) meta.appendChild(el("span", { class: "edited", text: t("edited") }));
    meta.appendChild(el("time", { text: formatTime(first.date) }));
    bubble.appendChild(meta);
    return item;
  }

  // What the chat shows one by one: a message, or an album (the consecutive messages that share a
  // media_group_id; a deleted one stands alone).
  function unitsOf(messages) {
    const units = [];
    for (const m of messages) {
      const group = m.media_group_id && !m.deleted ? m.media_group_id : null;
      const last = units[units.length - 1];
      if (group && last && last.group === group) last.messages.push(m);
      else units.push({ group, messages: [m], key: group ? `album:${group}` : `${m.from}:${m.message_id}` });
    }
    return units;
  }

  // An edited message keeps its element: its attributes and children become the fresh ones, so
  // the bubble stays where it is (no flicker, no scroll jump) and a playing video keeps playing.
  function patchInPlace(node, fresh) {
    for (const name of node.getAttributeNames()) if (!fresh.hasAttribute(name)) node.removeAttribute(name);
    for (const name of fresh.getAttributeNames()) node.setAttribute(name, fresh.getAttribute(name));
    node.replaceChildren(...fresh.childNodes);
  }

  function renderMessages(messages) {
    const list = $("messages");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < STICK_TO_BOTTOM_PX;
    const keep = new Set();
    const byId = new Map(messages.map((m) => [m.message_id, m]));
    let prev = null;
    for (const unit of unitsOf(messages)) {
      const m = unit.messages[0];
      const key = unit.key;
      keep.add(key);
      const replied = m.reply_to_message_id ? byId.get(m.reply_to_message_id) : null;
      const sig = `${state.lang}|${JSON.stringify(unit.messages)}|${replied ? JSON.stringify(replied) : ""}`;
      const known = state.rendered.get(key);
      let node = known && known.el;
      if (!known || known.sig !== sig) {
        const fresh = unit.group ? buildAlbum(unit.messages, node, byId) : buildBubble(m, node, byId);
        if (node) patchInPlace(node, fresh);
        else node = fresh;
        state.rendered.set(key, { sig, el: node });
      }
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== node) list.insertBefore(node, want);
      prev = node;
    }
    for (const [key, info] of state.rendered) {
      if (!keep.has(key)) {
        info.el.remove();
        state.rendered.delete(key);
      }
    }
    const empty = list.querySelector(".empty");
    if (!messages.length && !empty) list.appendChild(el("li", { class: "empty", text: t("empty") }));
    if (messages.length && empty) empty.remove();
    if (nearBottom || state.firstLoad) list.scrollTop = list.scrollHeight;
  }

  function showAnswers(answers) {
    for (const a of answers || []) {
      const id = a.callback_query_id ?? a.id ?? JSON.stringify(a);
      if (state.seenAnswers.has(id)) continue;
      state.seenAnswers.add(id);
      const button = state.pending.get(id);
      if (button) {
        button.classList.remove("pending");
        state.pending.delete(id);
      }
      if (!state.firstLoad && a.text) toast(a.text, a.show_alert ? "alert" : "info");
    }
  }

  // ---- fetching, live updates ----
  async function refreshChat() {
    if (!state.user) return;
    if (state.fetching) {
      state.refetch = true;
      return;
    }
    state.fetching = true;
    const forUser = state.user.id;
    try {
      const data = await api("GET", userPath("chat"));
      if (!state.user || state.user.id !== forUser) return;
      state.chatUser = data.user || null;
      renderMessages(data.messages || []);
      renderBlocked();
      showAnswers(data.callback_answers);
      state.firstLoad = false;
      for (const listener of shared.onRefresh) listener();
    } catch (err) {
      setLive("off");
    } finally {
      state.fetching = false;
      if (state.refetch) {
        state.refetch = false;
        refreshChat();
      }
    }
  }

  function setLive(mode) {
    const node = $("live-status");
    node.dataset.state = mode;
    node.textContent = t(mode);
  }

  function startPolling() {
    if (state.pollTimer) return;
    setLive("polling");
    state.pollTimer = setInterval(() => {
      refreshChat();
      refreshChannels();
      refreshUsers();
    }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = 0;
  }

  function connectEvents() {
    if (state.events) state.events.close();
    stopPolling();
    if (!window.EventSource) {
      startPolling();
      return;
    }
    const source = new EventSource(userPath("events"));
    state.events = source;
    source.addEventListener("open", () => {
      if (state.events !== source) return;
      stopPolling();
      setLive("live");
      refreshChat();
    });
    source.addEventListener("chat", () => {
      refreshChat();
      refreshChannels();
      refreshUsers();
    });
    // The browser retries a dropped stream by itself; poll meanwhile so nothing is missed.
    source.addEventListener("error", () => {
      if (state.events === source) startPolling();
    });
  }

  async function refreshUsers() {
    try {
      const data = await api("GET", "/sandbox/users");
      state.users = data.users || [];
    } catch (_) {
      return;
    }
    renderUsers();
  }

  async function refreshChannels() {
    try {
      const data = await api("GET", "/sandbox/chats");
      state.chats = data.chats || [];
    } catch (_) {
      return;
    }
    renderChannels();
  }

  function currentUserRecord() {
    return state.user && state.users.find((u) => String(u.id) === String(state.user.id));
  }

  function renderUsers() {
    const list = $("user-list");
    list.replaceChildren();
    if (!state.users.length) list.appendChild(el("li", { class: "muted", text: t("noUsers") }));
    // Benchmarks may create thousands of users: list the newest few, and always the open one.
    const shown = state.users.slice(-MAX_USERS_SHOWN).reverse();
    const open = currentUserRecord();
    if (open && !shown.includes(open)) shown.unshift(open);
    for (const u of shown) {
      const active = state.user && String(u.id) === String(state.user.id);
      const b = el("button", {
        type: "button", class: `user-item${active ? " active" : ""}`, "data-testid": "user-item",
        "data-user-id": u.id, "aria-current": active ? "true" : "false",
      }, [
        el("span", { class: "avatar small", "aria-hidden": "true", text: (u.first_name || "?").slice(0, 1) }),
        el("span", { class: "user-item-name", dir: "auto", text: u.first_name || String(u.id) }),
        el("span", { class: "muted", text: `${u.id} · ${u.language_code || "?"}` }),
        u.blocked ? el("span", { class: "badge warn", text: t("blocked") }) : null,
      ]);
      b.addEventListener("click", () => openUser({ id: u.id, name: u.first_name || "", lang: u.language_code || state.lang }));
      list.appendChild(el("li", {}, [b]));
    }
    renderBlocked();
  }

  function renderBlocked() {
    const record = state.chatUser || currentUserRecord();
    const blocked = Boolean(record && record.blocked);
    const badge = $("block-state");
    badge.dataset.blocked = String(blocked);
    badge.textContent = blocked ? t("blocked") : t("notBlocked");
    badge.classList.toggle("warn", blocked);
    const toggle = $("block-toggle");
    toggle.setAttribute("aria-pressed", String(blocked));
    toggle.textContent = blocked ? t("unblock") : t("block");
    toggle.setAttribute("aria-label", toggle.textContent);
    toggle.disabled = !state.user;
    $("blocked-banner").hidden = !blocked;
  }

  function renderChannels() {
    const list = $("channel-list");
    list.replaceChildren();
    if (!state.chats.length) list.appendChild(el("li", { class: "muted", text: t("noChannels") }));
    for (const chat of state.chats) {
      const name = String(chat.username || "").replace(/^@/, "");
      const status = state.user && chat.members ? chat.members[String(state.user.id)] : undefined;
      const member = MEMBER_STATUSES.has(status);
      const action = member ? "leave" : "join";
      const button = el("button", {
        type: "button", class: `btn small${member ? "" : " primary"}`, "data-testid": `${action}-${name}`,
        "aria-label": `${t(action)} @${name}`, text: t(action),
      });
      button.addEventListener("click", () => setMembership(chat.username, action, button));
      list.appendChild(el("li", { class: "channel", "data-testid": `channel-${name}`, "data-member": String(member) }, [
        el("span", { class: "avatar small", "aria-hidden": "true", text: (chat.title || name).slice(0, 1) }),
        el("span", { class: "channel-text" }, [
          el("span", { class: "channel-title", dir: "auto", text: chat.title || name }),
          el("span", { class: "channel-name" }, [
            el("bdi", { class: "muted", text: `@${name}` }),
            el("span", {
              class: `badge${member ? "" : " warn"}`, "data-testid": `member-${name}`, text: member ? t("member") : t("notMember"),
            }),
          ]),
        ]),
        button,
      ]));
    }
  }

  // ---- actions ----
  function toast(text, kind = "info") {
    const node = el("div", { class: `toast ${kind}`, "data-testid": "toast", dir: "auto", text });
    $("toasts").appendChild(node);
    const close = () => node.remove();
    node.addEventListener("click", close);
    if (kind !== "alert") setTimeout(close, TOAST_MS);
  }

  const fail = (err) => toast(`${t("error")}: ${err.message}`, "error");

  async function sendText(text) {
    const body = text.trim();
    if (!body) return;
    if (!state.user) {
      toast(t("needUser"), "error");
      return;
    }
    const payload = { text: body, language_code: state.user.lang };
    if (state.user.name) payload.first_name = state.user.name;
    try {
      await api("POST", userPath("messages"), payload);
    } catch (err) {
      fail(err);
      return;
    }
    refreshChat();
    refreshUsers();
  }

  async function pressButton(messageId, data, button) {
    button.classList.add("pending");
    try {
      const res = await api("POST", userPath("callbacks"), { message_id: messageId, data });
      const id = res.callback_query_id;
      if (id && !state.seenAnswers.has(id)) {
        state.pending.set(id, button);
        setTimeout(() => {
          button.classList.remove("pending");
          state.pending.delete(id);
        }, CALLBACK_PENDING_MS);
      } else {
        button.classList.remove("pending");
      }
    } catch (err) {
      button.classList.remove("pending");
      fail(err);
    }
  }

  async function setMembership(username, action, button) {
    if (!state.user) return toast(t("needUser"), "error");
    button.disabled = true;
    try {
      await api("POST", userPath(action), { chat: username.startsWith("@") ? username : `@${username}` });
    } catch (err) {
      fail(err);
    }
    await refreshChannels();
  }

  async function toggleBlocked() {
    if (!state.user) return;
    const record = state.chatUser || currentUserRecord();
    const action = record && record.blocked ? "unblock" : "block";
    try {
      await api("POST", userPath(action));
    } catch (err) {
      fail(err);
    }
    await Promise.all([refreshUsers(), refreshChat()]);
  }

  // ---- language and user switching ----
  function applyLanguage(lang) {
    state.lang = TEXTS[lang] ? lang : "en";
    const root = document.documentElement;
    root.lang = state.lang;
    root.dir = state.lang === "fa" ? "rtl" : "ltr";
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria));
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll(".lang-btn")) {
      node.setAttribute("aria-pressed", String(node.dataset.lang === state.lang));
    }
    renderSamples();
    renderChatHeader();
    setLive($("live-status").dataset.state || "off");
    renderUsers();
    renderChannels();
    state.rendered.forEach((info) => { info.sig = ""; }); // rebuild labels like "edited"
    refreshChat();
  }

  function renderSamples() {
    const box = $("sample-chips");
    box.replaceChildren();
    for (const sample of SAMPLES) {
      const url = location.origin + sample.path;
      const chip = el("button", {
        type: "button", class: "chip", "data-testid": "sample-link", "data-url": url, title: `${t("sampleHint")}: ${url}`,
        "aria-label": `${t("sampleHint")}: ${url}`, text: t(`sample_${sample.label}`),
      });
      chip.addEventListener("click", () => sendText(url));
      box.appendChild(chip);
    }
  }

  function renderChatHeader() {
    const who = state.user ? `${t("chattingAs")} ${state.user.name || t("you")} (${state.user.id})` : "";
    $("chat-user").textContent = who;
  }

  function openUser(user) {
    const id = Number.parseInt(user.id, 10);
    if (!Number.isSafeInteger(id) || id <= 0) {
      toast(t("needUser"), "error");
      return;
    }
    const changed = !state.user || state.user.id !== id;
    state.user = { id, name: (user.name || "").trim(), lang: user.lang === "en" ? "en" : "fa" };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(state.user));
    history.replaceState(null, "", `#user=${id}`);
    $("user-id").value = String(id);
    $("user-name").value = state.user.name;
    $("user-lang").value = state.user.lang;
    if (changed) {
      for (const info of state.rendered.values()) info.el.remove();
      state.rendered.clear();
      state.seenAnswers.clear();
      state.chatUser = null;
      state.pending.clear();
      state.firstLoad = true;
      $("messages").replaceChildren();
      for (const listener of shared.onUserChanged) listener();
      connectEvents();
    }
    applyLanguage(state.user.lang);
    refreshUsers();
    refreshChannels();
  }

  // The header's فا / EN switch: the page's language and direction at once, and the language the
  // simulated user's next messages carry (language_code), as the drop-down in the user form does.
  function switchLanguage(lang) {
    $("user-lang").value = lang;
    if (state.user) openUser({ ...state.user, lang });
    else applyLanguage(lang);
  }

  function initialUser() {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    } catch (_) {
      saved = null;
    }
    const fromHash = /(?:^|[#&])user=(\d+)/.exec(location.hash);
    if (fromHash && (!saved || String(saved.id) !== fromHash[1])) return { ...DEFAULT_USER, id: fromHash[1], name: "" };
    return saved || DEFAULT_USER;
  }

  function autosize(area) {
    area.style.height = "auto";
    area.style.height = `${Math.min(area.scrollHeight, 160)}px`;
  }

  // What other scripts of the page (inline.js) use: the same helpers, told of every refresh.
  const shared = { api, t, el, buildBubble, patchInPlace, toast, state, userPath, onRefresh: [], onUserChanged: [] };
  window.sandboxChat = shared;

  function init() {
    $("user-form").addEventListener("submit", (e) => {
      e.preventDefault();
      openUser({ id: $("user-id").value, name: $("user-name").value, lang: $("user-lang").value });
    });
    $("user-lang").addEventListener("change", () => {
      // Switching the language of the open user takes effect at once (and on their next message).
      if (state.user && String(state.user.id) === $("user-id").value) {
        openUser({ id: state.user.id, name: $("user-name").value, lang: $("user-lang").value });
      } else {
        applyLanguage($("user-lang").value);
      }
    });
    for (const button of document.querySelectorAll(".lang-btn")) {
      button.addEventListener("click", () => switchLanguage(button.dataset.lang));
    }
    $("block-toggle").addEventListener("click", toggleBlocked);
    const input = $("message-input");
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value;
      input.value = "";
      autosize(input);
      sendText(text);
      input.focus();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $("composer").requestSubmit();
      }
    });
    input.addEventListener("input", () => autosize(input));
    // inline.js (loaded after this script) registers its listeners before the first user opens.
    window.addEventListener("DOMContentLoaded", () => openUser(initialUser()));
  }

  init();
})();
