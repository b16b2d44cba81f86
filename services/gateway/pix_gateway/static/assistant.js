// The assistant's chat: sends a message, reads the answer as server-sent events from a streamed
// fetch (EventSource cannot POST), shows text as it comes, tools as live tags, proposed changes
// with confirm/reject buttons. Everything is inserted as text, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("assistant");
  if (!root) return;
  const conversation = root.dataset.conversation;
  const log = document.getElementById("assistant-log");
  const form = document.getElementById("assistant-form");
  const file = document.getElementById("assistant-file");
  const t = (key) => root.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
  const api = "/api/assistant";
  const URL_RE = /(https?:\/\/[^\s)]+)/g;
  // Changes the domain lets us take back (captions are versioned, imported leads erasable).
  const UNDOABLE = new Set(["edit_caption", "import_leads"]);

  function bubble(role) {
    const el = document.createElement("div");
    el.className = "bubble " + role;
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }

  // Links and images in a finished answer (e.g. an exposé PDF, a staged photo).
  function linkify(el) {
    const text = el.textContent;
    el.textContent = "";
    for (const part of text.split(URL_RE)) {
      if (/^https?:\/\//.test(part)) {
        const a = document.createElement("a");
        a.href = part;
        a.target = "_blank";
        a.rel = "noopener";
        if (/\.(jpe?g|png|webp)(\?|$)/i.test(part)) {
          const img = document.createElement("img");
          img.src = part;
          img.alt = "";
          img.className = "inline-image";
          a.appendChild(img);
        } else {
          a.textContent = part;
        }
        el.appendChild(a);
      } else {
        el.appendChild(document.createTextNode(part));
      }
    }
  }

  function actionCard(action) {
    const el = bubble("action");
    el.dataset.action = action.id;
    const p = document.createElement("p");
    p.textContent = action.summary;
    el.appendChild(p);
    const badge = document.createElement("span");
    badge.className = "badge scheduled";
    badge.textContent = t("pending");
    el.appendChild(badge);
    for (const [decision, cls] of [["confirm", "button small"], ["reject", "button small secondary"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = cls;
      button.dataset.decide = decision;
      button.textContent = t(decision);
      el.appendChild(button);
    }
    return el;
  }

  async function decide(card, decision) {
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    const badge = card.querySelector(".badge");
    try {
      const response = await fetch(`${api}/actions/${card.dataset.action}/${decision}`, {
        method: "POST",
        credentials: "same-origin",
      });
      const body = await response.json();
      const status = response.ok ? body.status : "failed";
      badge.className = "badge " + (status === "done" ? "ok" : status === "rejected" ? "rejected" : "failed");
      badge.textContent = t(status) + (body.error && body.error.message ? ": " + body.error.message : body.error ? ": " + body.error : "");
      for (const b of card.querySelectorAll("button")) b.remove();
      if (response.ok && status === "done" && UNDOABLE.has(body.kind)) {
        const undo = document.createElement("button");
        undo.type = "button";
        undo.className = "button small secondary";
        undo.dataset.decide = "undo";
        undo.textContent = t("undo");
        card.appendChild(undo);
      }
    } catch (e) {
      badge.textContent = t("error");
      for (const b of card.querySelectorAll("button")) b.disabled = false;
    }
  }

  for (const earlier of log.querySelectorAll(".bubble.assistant")) linkify(earlier);
  log.scrollTop = log.scrollHeight;

  log.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-decide]");
    if (button) decide(button.closest("[data-action]"), button.dataset.decide);
  });

  function handle(kind, data, state) {
    if (kind === "delta") {
      state.text.textContent += data.text;
      log.scrollTop = log.scrollHeight;
    } else if (kind === "tool_start") {
      const tag = document.createElement("span");
      tag.className = "tool-tag live";
      tag.dataset.call = data.call_id;
      tag.textContent = data.label;
      state.tools.appendChild(tag);
    } else if (kind === "tool_end") {
      const tag = state.tools.querySelector(`[data-call="${CSS.escape(data.call_id)}"]`);
      if (tag) tag.className = "tool-tag " + (data.ok ? "done" : "failed");
    } else if (kind === "action") {
      actionCard(data.action);
    } else if (kind === "error") {
      state.text.textContent += (state.text.textContent ? "\n" : "") + data.message;
      state.text.classList.add("error");
    }
  }

  async function ask(text) {
    bubble("user").textContent = text;
    const answer = bubble("assistant");
    const state = { tools: document.createElement("div"), text: document.createElement("div") };
    state.tools.className = "tool-tags";
    answer.append(state.tools, state.text);
    const response = await fetch(`${api}/conversations/${conversation}/messages`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ text }),
    });
    if (!response.ok || !response.body) {
      let message = t("error");
      try { message = (await response.json()).error.message; } catch (e) { /* keep the default */ }
      handle("error", { message }, state);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) handle(kind, JSON.parse(data), state);
      }
    }
    linkify(state.text);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = form.elements.text;
    const text = field.value.trim();
    if (!text) return;
    field.value = "";
    const send = form.querySelector("button[type=submit]");
    send.disabled = true;
    try { await ask(text); } finally { send.disabled = false; field.focus(); }
  });

  form.elements.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  for (const button of form.querySelectorAll("button[data-rate]")) {
    button.addEventListener("click", async () => {
      await fetch(`${api}/conversations/${conversation}/rating`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rating: Number(button.dataset.rate) }),
      });
      button.classList.remove("secondary");
    });
  }

  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    bubble("user").textContent = chosen.name;
    const response = await fetch(
      `${api}/conversations/${conversation}/imports?filename=${encodeURIComponent(chosen.name)}`,
      { method: "POST", credentials: "same-origin", headers: { "content-type": "application/octet-stream" }, body: chosen }
    );
    const body = await response.json();
    file.value = "";
    if (!response.ok) {
      bubble("assistant").textContent = body.error ? body.error.message : t("error");
      return;
    }
    const preview = bubble("assistant");
    const rows = body.preview.kind === "listings" ? body.preview.listings : body.preview.rows;
    const names = rows.slice(0, 10).map((row) => row.name || row.title).join(", ");
    preview.textContent = `${rows.length} ${t("import_rows")}: ${names}` +
      (rows.length > 10 ? ", …" : "") +
      (body.preview.skipped.length ? "\n" + body.preview.skipped.join("\n") : "");
    actionCard(body.action);
  });
})();
