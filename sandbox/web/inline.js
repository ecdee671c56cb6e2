// The web chat's inline mode: the user types a query to the bot as in a chat with a friend, sees
// the bot's results, chooses one; the chosen message appears in the chat with the friend below,
// and the bot's edits (by inline_message_id) change it in place. Uses app.js's helpers.
(() => {
  "use strict";

  const chat = window.sandboxChat;
  const $ = (id) => document.getElementById(id);
  const { el, t } = chat;
  const rendered = new Map(); // message_id -> {sig, el}
  let fetching = false;
  let again = false;

  function resultLabel(result) {
    const title = result.title || (result.type === "photo" ? "🖼" : result.type);
    return [title, result.description].filter(Boolean).join(" — ");
  }

  function renderResults(query) {
    const list = $("inline-results");
    const button = $("inline-button");
    list.replaceChildren();
    button.hidden = !(query && query.button);
    if (query && query.button) button.textContent = `${query.button.text} (/start ${query.button.start_parameter || ""})`;
    if (!query) return;
    if (!query.answered) {
      list.appendChild(el("li", { class: "muted", "data-testid": "inline-waiting", text: t("waiting") }));
      return;
    }
    if (!query.results.length) list.appendChild(el("li", { class: "muted", text: t("noResults") }));
    for (const result of query.results) {
      const pick = el("button", {
        type: "button", class: "btn result", dir: "auto", "data-testid": "inline-result",
        "data-result-id": result.id, "data-type": result.type, text: resultLabel(result),
      });
      pick.addEventListener("click", () => choose(result.id, query.id, pick));
      list.appendChild(el("li", {}, [pick]));
    }
  }

  function renderTarget(messages) {
    const list = $("target-messages");
    const keep = new Set();
    let prev = null;
    for (const m of messages) {
      keep.add(m.message_id);
      const sig = `${chat.state.lang}|${JSON.stringify(m)}`;
      const known = rendered.get(m.message_id);
      let node = known && known.el;
      if (!known || known.sig !== sig) {
        const fresh = chat.buildBubble(m, node, new Map());
        fresh.dataset.testid = "target-msg";
        if (node) chat.patchInPlace(node, fresh);
        else node = fresh;
        rendered.set(m.message_id, { sig, el: node });
      }
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== node) list.insertBefore(node, want);
      prev = node;
    }
    for (const [id, info] of rendered) {
      if (!keep.has(id)) {
        info.el.remove();
        rendered.delete(id);
      }
    }
    $("target-empty").hidden = messages.length > 0;
  }

  async function refreshInline() {
    if (!chat.state.user) return;
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    const forUser = chat.state.user.id;
    try {
      const data = await chat.api("GET", chat.userPath("inline"));
      if (chat.state.user && chat.state.user.id === forUser) {
        renderResults(data.query);
        renderTarget((data.target && data.target.messages) || []);
      }
    } catch (_) {
      // the next refresh tries again
    } finally {
      fetching = false;
      if (again) {
        again = false;
        refreshInline();
      }
    }
  }

  async function ask(text) {
    if (!chat.state.user || !text.trim()) return;
    const body = { query: text.trim(), language_code: chat.state.user.lang };
    if (chat.state.user.name) body.first_name = chat.state.user.name;
    try {
      await chat.api("POST", chat.userPath("inline"), body);
    } catch (err) {
      chat.toast(`${t("error")}: ${err.message}`, "error");
    }
    refreshInline();
  }

  async function choose(resultId, queryId, button) {
    button.disabled = true;
    try {
      await chat.api("POST", chat.userPath("inline"), { result_id: resultId, inline_query_id: queryId });
    } catch (err) {
      chat.toast(`${t("error")}: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
    refreshInline();
  }

  $("inline-form").addEventListener("submit", (e) => {
    e.preventDefault();
    ask($("inline-query").value);
  });
  chat.onRefresh.push(refreshInline);
  chat.onUserChanged.push(() => {
    rendered.clear();
    $("target-messages").replaceChildren();
    $("inline-results").replaceChildren();
    $("inline-button").hidden = true;
    $("inline-query").value = "";
  });
})();
