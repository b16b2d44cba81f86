// A lightbox for the photos of a [data-lightbox-group]: a click on a photo (a[data-lightbox],
// whose href is the large picture) shows it over the page; ← / → or a swipe go to the previous /
// next photo, Esc or the close button ends it and gives the focus back to the photo. Without
// script the link simply opens the picture. Texts come from #lightbox-texts (the page's language).
(() => {
  let box = null;
  let items = [];
  let index = 0;
  let opener = null;
  let touch = null;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function texts() {
    const holder = document.getElementById("lightbox-texts");
    return holder ? holder.dataset : {};
  }

  function build() {
    const t = texts();
    box = el("div", { class: "lightbox", role: "dialog", "aria-modal": "true",
                      "aria-label": t.label || "", "data-test": "lightbox", hidden: "" });
    const close = el("button", { type: "button", class: "lb-close", "aria-label": t.close || "",
                                 title: t.close || "" }, "×");
    const prev = el("button", { type: "button", class: "lb-nav lb-prev", "aria-label": t.prev || "",
                                title: t.prev || "" }, "‹");
    const next = el("button", { type: "button", class: "lb-nav lb-next", "aria-label": t.next || "",
                                title: t.next || "" }, "›");
    const image = el("img", { class: "lb-image", alt: "", "data-test": "lightbox-image" });
    box.append(
      el("div", { class: "lb-top" },
         el("span", { class: "lb-counter", "aria-live": "polite", "data-test": "lightbox-counter" }),
         el("span", { class: "lb-name", "data-test": "lightbox-name" }), close),
      el("div", { class: "lb-stage" }, prev, image, next),
      el("div", { class: "lb-bottom", "data-test": "lightbox-downloads" }),
    );
    close.addEventListener("click", hide);
    prev.addEventListener("click", () => go(-1));
    next.addEventListener("click", () => go(1));
    // A click beside the picture closes, as on every photo site.
    box.querySelector(".lb-stage").addEventListener("click", (event) => {
      if (event.target.classList.contains("lb-stage")) {
        hide();
      }
    });
    box.addEventListener("touchstart", (event) => {
      const point = event.changedTouches[0];
      touch = { x: point.clientX, y: point.clientY };
    }, { passive: true });
    box.addEventListener("touchend", (event) => {
      if (!touch) {
        return;
      }
      const point = event.changedTouches[0];
      const dx = point.clientX - touch.x;
      const dy = point.clientY - touch.y;
      touch = null;
      if (Math.abs(dx) > 40 && Math.abs(dx) > Math.abs(dy)) {
        go(dx < 0 ? 1 : -1);
      } else if (dy > 80 && Math.abs(dy) > Math.abs(dx)) {
        hide();  // a swipe down puts the picture away
      }
    });
    document.body.append(box);
  }

  function show() {
    const t = texts();
    const link = items[index];
    const image = box.querySelector(".lb-image");
    image.src = link.href;
    image.alt = link.dataset.name || "";
    box.querySelector(".lb-name").textContent = link.dataset.name || "";
    box.querySelector(".lb-counter").textContent = (t.of || "{index} / {count}")
      .replace("{index}", String(index + 1)).replace("{count}", String(items.length));
    box.querySelector(".lb-prev").hidden = items.length < 2;
    box.querySelector(".lb-next").hidden = items.length < 2;
    const bottom = box.querySelector(".lb-bottom");
    bottom.replaceChildren();
    const downloads = JSON.parse(link.dataset.downloads || "[]");
    if (downloads.length) {
      bottom.append(el("span", { class: "lb-label" }, t.download || ""));
      for (const [label, url, name] of downloads) {
        bottom.append(el("a", { class: "lb-download", href: url, download: name || "",
                                "data-size": url.split("/").pop() }, label));
      }
    }
    // The neighbours load while this one is looked at.
    for (const step of [1, -1]) {
      const neighbour = items[(index + step + items.length) % items.length];
      new Image().src = neighbour.href;
    }
  }

  function go(step) {
    if (items.length > 1) {
      index = (index + step + items.length) % items.length;
      show();
    }
  }

  function open(link) {
    if (!box) {
      build();
    }
    const group = link.closest("[data-lightbox-group]") || document;
    items = [...group.querySelectorAll("a[data-lightbox]")];
    index = Math.max(0, items.indexOf(link));
    opener = link;
    show();
    box.hidden = false;
    document.body.classList.add("lb-open");
    box.querySelector(".lb-close").focus();
  }

  function hide() {
    if (!box || box.hidden) {
      return;
    }
    box.hidden = true;
    document.body.classList.remove("lb-open");
    box.querySelector(".lb-image").removeAttribute("src");
    if (opener && document.contains(opener)) {
      opener.focus();
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-lightbox]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    open(link);
  });

  document.addEventListener("keydown", (event) => {
    if (!box || box.hidden) {
      return;
    }
    if (event.key === "ArrowRight") {
      event.preventDefault();
      go(1);
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      go(-1);
    } else if (event.key === "Escape") {
      event.preventDefault();
      hide();
    } else if (event.key === "Tab") {
      // The focus stays in the dialog while it is open.
      const focusable = [...box.querySelectorAll("button:not([hidden]), a[href]")];
      const at = focusable.indexOf(document.activeElement);
      const to = (at + (event.shiftKey ? -1 : 1) + focusable.length) % focusable.length;
      event.preventDefault();
      focusable[to].focus();
    }
  });
})();
