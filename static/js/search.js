// The navbar's search box: "/" (outside a text field) or Ctrl+K / Cmd+K puts the cursor in
// it. Without JavaScript the box is an ordinary form that GETs /search.
(function () {
  "use strict";

  function editable(element) {
    return element instanceof HTMLElement &&
      (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }

  document.addEventListener("keydown", function (event) {
    var box = document.getElementById("search-input");
    if (!box || event.altKey || event.isComposing) return;
    var ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
    var slash = event.key === "/" && !event.ctrlKey && !event.metaKey && !editable(event.target);
    if (!ctrlK && !slash) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
})();
