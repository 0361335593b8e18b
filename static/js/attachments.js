// Files in the composer: chosen with the file input, dropped on the composer or pasted into
// it, several at once. Each is uploaded at once (POST /rooms/<slug>/attachments) with a
// progress bar; the message then goes out with their ids in its `attachments` field, over
// the socket like any message. Without this script the file input is posted with the form.
// All HTML added here is built with textContent.
(function () {
  "use strict";

  var composer = function () { return document.getElementById("composer"); };
  var uploads = [];   // {id, name, state: "uploading" | "done" | "failed", xhr, row}
  var lastSent = [];  // what the last message carried: given back if it is refused

  function idsField() { var f = composer(); return f && f.querySelector("[name=attachments]"); }
  function tray() { return document.getElementById("composer-uploads"); }

  function sync() {
    var field = idsField();
    if (field) {
      field.value = uploads.filter(function (u) { return u.state === "done"; })
        .map(function (u) { return u.id; }).join(",");
    }
  }

  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " kB";
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  function row(upload) {
    var li = document.createElement("li");
    li.className = "flex flex-wrap items-center gap-2 text-sm";
    li.dataset.state = upload.state;
    var name = document.createElement("span");
    name.className = "font-semibold truncate max-w-60";
    name.textContent = upload.name;
    var progress = document.createElement("progress");
    progress.className = "progress progress-primary w-32";
    progress.max = 100;
    progress.value = upload.state === "done" ? 100 : 0;
    progress.setAttribute("aria-label", "Uploading " + upload.name);
    var status = document.createElement("span");
    status.className = "upload-status text-xs";
    status.setAttribute("role", "status");
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-ghost btn-xs";
    remove.textContent = "✕";
    remove.setAttribute("aria-label", "Remove " + upload.name);
    remove.addEventListener("click", function () {
      if (upload.xhr && upload.state === "uploading") upload.xhr.abort();
      uploads.splice(uploads.indexOf(upload), 1);
      li.remove();
      sync();
    });
    li.append(name, progress, status, remove);
    upload.row = li;
    return li;
  }

  function show(upload, state, text) {
    upload.state = state;
    upload.row.dataset.state = state;
    upload.row.querySelector(".upload-status").textContent = text;
    upload.row.querySelector("progress").classList.toggle("hidden", state === "failed");
    upload.row.querySelector(".upload-status").classList.toggle("text-error", state === "failed");
    sync();
  }

  function upload(file) {
    var form = composer();
    if (!form || !tray()) return;
    var entry = { id: null, name: file.name || "pasted file", state: "uploading" };
    uploads.push(entry);
    tray().append(row(entry));
    var most = Number(form.dataset.maxFiles) || 10;
    var limit = Number(form.dataset.maxBytes) || 0;
    if (uploads.length > most) return show(entry, "failed", "A message carries at most " + most + " files.");
    if (limit && file.size > limit) {
      return show(entry, "failed", "Too large: files are at most " + sizeText(limit) + ".");
    }
    var body = new FormData();
    body.append("file", file, entry.name);
    var xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    xhr.open("POST", form.dataset.uploadUrl);
    xhr.setRequestHeader("X-CSRF-Token", form.querySelector("[name=csrf_token]").value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        entry.row.querySelector("progress").value = Math.round((event.loaded / event.total) * 100);
      }
    });
    xhr.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* a page, not JSON */ }
      if (xhr.status === 201) {
        entry.id = answer.id;
        entry.row.querySelector("progress").value = 100;
        show(entry, "done", sizeText(answer.size) + " · ready");
      } else if (xhr.status === 413) {
        show(entry, "failed", (answer.error && answer.error.message) || "Too large: files are at most " + sizeText(limit) + ".");
      } else {
        show(entry, "failed", (answer.error && answer.error.message) || "Not uploaded (error " + xhr.status + ").");
      }
    });
    xhr.addEventListener("error", function () { show(entry, "failed", "Not uploaded: the connection failed."); });
    xhr.send(body);
  }

  function uploadAll(files) { Array.prototype.forEach.call(files || [], upload); }

  document.addEventListener("change", function (event) {
    if (event.target.id !== "composer-files") return;
    uploadAll(event.target.files);
    event.target.value = ""; // uploaded here: the form must not carry them again
  });

  document.addEventListener("paste", function (event) {
    if (!event.target.closest || !event.target.closest("#composer")) return;
    var files = event.clipboardData && event.clipboardData.files;
    if (!files || !files.length) return; // plain text pastes as usual
    event.preventDefault();
    uploadAll(files);
  });

  function dragging(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0;
  }
  // Dropped anywhere on the chat, a file goes to the composer (and never makes the browser
  // leave the page to show it).
  function dropZone(event) {
    return event.target.closest && event.target.closest("#chat") && composer();
  }
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (!dragging(event) || !dropZone(event)) return;
      event.preventDefault();
      composer().dataset.dragging = "true";
    });
  });
  document.addEventListener("dragleave", function (event) {
    var form = composer();
    if (form && !event.relatedTarget) delete form.dataset.dragging; // left the window
  });
  document.addEventListener("drop", function (event) {
    if (!dragging(event) || !dropZone(event)) return;
    event.preventDefault();
    delete composer().dataset.dragging;
    uploadAll(event.dataTransfer.files);
  });

  // Before chat.js takes the message (capture phase): not while a file is still uploading.
  document.addEventListener("htmx:wsConfigSend", function (event) {
    var form = event.detail.elt || event.target;
    if (!form || form.id !== "composer") return;
    if (uploads.some(function (u) { return u.state === "uploading"; })) {
      event.preventDefault();
      event.stopImmediatePropagation();
      var notice = document.getElementById("notice");
      if (notice) notice.textContent = "Wait until the files are uploaded, then send.";
    }
  }, true);

  // Sent: the tray starts empty for the next message.
  document.addEventListener("htmx:wsConfigSend", function (event) {
    var form = event.detail.elt || event.target;
    if (!form || form.id !== "composer" || event.defaultPrevented) return;
    lastSent = uploads.filter(function (u) { return u.state === "done"; });
    uploads = [];
    if (tray()) tray().replaceChildren();
    sync();
  });

  // A refused message comes back as a new composer with the reason: its files come back too.
  document.addEventListener("htmx:load", function (event) {
    var form = event.target;
    if (!form || form.id !== "composer") return;
    if (form.querySelector("#composer-error") && lastSent.length && !uploads.length) {
      uploads = lastSent;
      lastSent = [];
    }
    uploads.forEach(function (u) { tray().append(u.row); });
    sync();
  });
})();
