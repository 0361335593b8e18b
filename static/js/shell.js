// The room shell's phone menu: its button is a <label> for the drawer's checkbox (so a tap
// opens it without JavaScript); here it also answers Enter and Space as a button does, says
// whether the menu is open, and Esc closes the menu and gives focus back to the button.
(function () {
  "use strict";

  function toggle() { return document.getElementById("nav-drawer"); }
  function button() { return document.querySelector("label[for=nav-drawer][role=button]"); }

  function showState() {
    var box = toggle(), control = button();
    if (box && control) control.setAttribute("aria-expanded", box.checked ? "true" : "false");
  }

  document.addEventListener("keydown", function (event) {
    var control = button(), box = toggle();
    if (!control || !box) return;
    if (event.target === control && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      control.click();
    } else if (event.key === "Escape" && box.checked) {
      box.checked = false;
      showState();
      control.focus();
    }
  });
  document.addEventListener("change", function (event) {
    if (event.target === toggle()) showState();
  });
})();
