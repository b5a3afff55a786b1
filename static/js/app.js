// The few behaviours htmx attributes do not cover: the epsilon read-out, the digit canvas, picking the image source,
// following a job's server-sent events (an eps sweep, a test-set run).
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function pickSource(value) {
    var radio = document.querySelector('input[name="source"][value="' + value + '"]');
    if (radio) radio.checked = true;
  }
  function init() {
    var slider = $("eps-slider"), out = $("eps-value");
    if (slider && out) slider.addEventListener("input", function () { out.textContent = Number(slider.value).toFixed(3); });
    document.querySelectorAll('input[name="gallery"]').forEach(function (el) {
      el.addEventListener("change", function () { pickSource("gallery"); });
    });
    var upload = $("upload");
    if (upload) upload.addEventListener("change", function () { pickSource("upload"); });
    var canvas = $("canvas"), drawing = $("drawing");
    if (!canvas || !drawing) return;
    var ctx = canvas.getContext("2d"), down = false;
    function clear() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); drawing.value = ""; }
    function at(e) {
      var r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    }
    clear();
    ctx.lineWidth = 16; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#fff";
    canvas.addEventListener("pointerdown", function (e) {
      down = true; var p = at(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]); pickSource("draw");
    });
    canvas.addEventListener("pointermove", function (e) { if (!down) return; var p = at(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); });
    window.addEventListener("pointerup", function () {
      if (down) { down = false; drawing.value = canvas.toDataURL("image/png"); }
    });
    $("clear-canvas").addEventListener("click", clear);
  }
  // jobs: start one, then re-render its fragment under the grid after every server-sent event
  function follow(box, job) {
    function render() {
      return fetch("/jobs/" + job + "/fragment").then(function (r) { return r.text(); })
        .then(function (html) { box.innerHTML = html; });
    }
    var events = new EventSource("/jobs/" + job + "/events");
    ["progress", "done", "cancelled", "failed"].forEach(function (name) {
      events.addEventListener(name, function () { if (name !== "progress") events.close(); render(); });
    });
    events.onerror = function () { events.close(); render(); };
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.matches("form[data-job]")) {
      e.preventDefault();
      var box = $(form.dataset.job);
      box.textContent = "starting…";
      fetch(form.action, { method: "POST", headers: { accept: "application/json" }, body: new FormData(form) })
        .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
        .then(function (res) {
          if (!res[0]) { box.textContent = (res[1].error || {}).message || "the job could not start"; return; }
          follow(box, res[1].job_id);
        });
    } else if (form.matches("form[data-cancel]")) {
      e.preventDefault();
      fetch(form.action.replace(/\/cancel$/, ""), { method: "DELETE" });
    }
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
