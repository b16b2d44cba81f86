// The client's order of the photos: drag a card of a [data-arrange] grid to where it belongs;
// the new order is saved at once (POST /galleries/{id}/arrangement) and said in a live region.
// The ↑ / ↓ buttons on every card do the same without a mouse (and on phones, where dragging
// scrolls). The photo grid re-renders itself, so everything here listens on the document.
(() => {
  let dragged = null;

  function orderOf(grid) {
    return [...grid.querySelectorAll(":scope > [data-asset-id]")].map((card) => card.dataset.assetId);
  }

  function announce(grid, text) {
    let live = document.getElementById("arrange-status");
    if (!live) {
      live = document.createElement("p");
      live.id = "arrange-status";
      live.className = "small muted arrange-status";
      live.setAttribute("role", "status");
      live.setAttribute("data-test", "arrange-status");
      grid.before(live);
    }
    live.textContent = text;
  }

  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest("[data-arrange] > [data-asset-id][draggable=true]");
    if (!card) {
      return;
    }
    dragged = card;
    card.parentElement.dataset.order = orderOf(card.parentElement).join(",");
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.assetId);
  });

  document.addEventListener("dragover", (event) => {
    if (!dragged) {
      return;
    }
    const grid = dragged.parentElement;
    const over = event.target.closest && event.target.closest("[data-asset-id]");
    if (!grid.contains(event.target)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!over || over === dragged || over.parentElement !== grid) {
      return;
    }
    const box = over.getBoundingClientRect();
    const after = event.clientX > box.left + box.width / 2;
    grid.insertBefore(dragged, after ? over.nextSibling : over);
  });

  document.addEventListener("drop", (event) => {
    if (dragged) {
      event.preventDefault();
    }
  });

  document.addEventListener("dragend", async () => {
    if (!dragged) {
      return;
    }
    const card = dragged;
    dragged = null;
    card.classList.remove("dragging");
    const grid = card.parentElement;
    const order = orderOf(grid).join(",");
    if (order === grid.dataset.order) {
      return;
    }
    grid.dataset.order = order;
    const answer = await fetch(`/galleries/${encodeURIComponent(grid.dataset.arrange)}/arrangement`, {
      method: "POST",
      body: new URLSearchParams({ order }),
      credentials: "same-origin",
    });
    if (answer.ok) {
      announce(grid, grid.dataset.saved || "");
    }
  });

  // Copy a share link with one click.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = button.dataset.copied || button.textContent;
    } catch {
      const field = button.closest("li") && button.closest("li").querySelector("input.share-url");
      if (field) {
        field.select();
      }
    }
  });
})();
