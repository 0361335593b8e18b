// The composer's @ suggestions: typing "@al" asks the server for the room's members (a
// listbox fragment, swapped by htmx); arrows move the choice (aria-activedescendant), Enter
// or Tab inserts "@name ", Escape closes. Loaded after chat.js: its keys come first here.
(function () {
  "use strict";

  var TOKEN = /(^|[^\w@])@([A-Za-z0-9_.-]{0,32})$/;
  var box = function () { return document.getElementById("composer-content"); };
  var holder = function () { return document.getElementById("mention-suggestions"); };
  var options = function () {
    return Array.prototype.slice.call(document.querySelectorAll("#mention-listbox [role=option]"));
  };

  function tokenAtCaret(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = TOKEN.exec(before);
    return match ? { start: before.length - match[2].length - 1, typed: match[2] } : null;
  }

  function sync() {
    var textarea = box();
    if (!textarea) return;
    // A textbox (not a combobox: a multi-line composer) with aria-activedescendant; the
    // status line under the list says how many there are.
    var shown = options();
    var chosen = shown.filter(function (o) { return o.getAttribute("aria-selected") === "true"; })[0];
    if (chosen) textarea.setAttribute("aria-activedescendant", chosen.id);
    else textarea.removeAttribute("aria-activedescendant");
  }

  var asked = null;
  var timer = null;
  function close() {
    asked = null;
    clearTimeout(timer);
    if (holder()) holder().innerHTML = "";
    sync();
  }

  document.addEventListener("input", function (event) {
    var textarea = event.target;
    if (!textarea || textarea.id !== "composer-content") return;
    var token = tokenAtCaret(textarea);
    if (!token) return close();
    if (token.typed === asked) return;
    asked = token.typed;
    clearTimeout(timer);
    timer = setTimeout(function () {
      var url = textarea.dataset.membersUrl + "?q=" + encodeURIComponent(token.typed);
      htmx.ajax("GET", url, { target: "#mention-suggestions", swap: "innerHTML" });
    }, 120);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "mention-suggestions") return;
    if (!box() || !tokenAtCaret(box())) return close(); // answered after the @ went away
    sync();
  });

  function select(option) {
    options().forEach(function (o) {
      var on = o === option;
      o.setAttribute("aria-selected", on ? "true" : "false");
      o.firstElementChild.classList.toggle("menu-active", on);
    });
    sync();
  }

  function move(step) {
    var shown = options();
    var at = shown.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    select(shown[(at + step + shown.length) % shown.length]);
  }

  function choose(option) {
    var textarea = box();
    var token = textarea && tokenAtCaret(textarea);
    if (!token) return close();
    var name = "@" + option.dataset.username + " ";
    var caret = textarea.selectionStart;
    textarea.value = textarea.value.slice(0, token.start) + name + textarea.value.slice(caret);
    textarea.selectionStart = textarea.selectionEnd = token.start + name.length;
    close();
    textarea.focus();
  }

  // Capture phase: before chat.js's Enter-sends handler.
  document.addEventListener("keydown", function (event) {
    if (!event.target || event.target.id !== "composer-content") return;
    var shown = options();
    if (!shown.length || event.isComposing) return;
    var chosen = shown.filter(function (o) { return o.getAttribute("aria-selected") === "true"; })[0];
    if (event.key === "ArrowDown") move(1);
    else if (event.key === "ArrowUp") move(-1);
    else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) choose(chosen || shown[0]);
    else if (event.key === "Escape") close();
    else return;
    event.preventDefault();
    event.stopImmediatePropagation();
  }, true);

  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest("#mention-listbox [role=option]");
    if (!option) return;
    event.preventDefault(); // keep the focus in the composer
    choose(option);
  });

  document.addEventListener("htmx:wsConfigSend", close);
})();
