// The photo grid refreshes itself every 2 s. While a caption is being edited in it, a refresh
// would replace the form and throw away what was typed: the grid neither asks nor swaps until
// the edit is saved or cancelled (the edited card then shows the new caption at once). Both
// checks are needed: a refresh already on its way when the form opened must not land either.
function editing(grid) {
  return grid.id === "photos" && grid.querySelector("form[hx-post]") !== null;
}

document.addEventListener("htmx:beforeRequest", (event) => {
  if (editing(event.detail.elt)) {
    event.preventDefault();
  }
});

document.addEventListener("htmx:beforeSwap", (event) => {
  if (editing(event.detail.target)) {
    event.detail.shouldSwap = false;
  }
});
