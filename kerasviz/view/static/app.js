// kerasviz view: one entry per input of a map store, sorted and filtered by the URL's query.
// window.KV_DATA (table.js) holds the whole table column by column; entries are built a page at a
// time as the end of the list scrolls into view, and their pictures load lazily.
(function () {
  "use strict";
  var D = window.KV_DATA;
  var C = D.columns;
  var N = D.n;
  var PAGE = 60;
  var FIXED = ["sort", "status", "q", "open"];
  var $ = function (id) { return document.getElementById(id); };
  var grid = $("grid"), sentinel = $("sentinel");
  var order = [], shown = 0, current = -1;

  // Numeric columns as typed arrays (NaN where the JSON has null) for fast sorting and filtering.
  var values = {};
  D.numeric.forEach(function (name) {
    var src = C[name], out = new Float64Array(N);
    for (var i = 0; i < N; i++) out[i] = src[i] === null ? NaN : src[i];
    values[name] = out;
  });
  function status(i) { return D.status_values[C.status[i]]; }
  function statusKind(text) { return text === "ok" ? "ok" : text.lastIndexOf("error", 0) === 0 ? "error" : text; }

  // --- the view's state <-> the URL ----------------------------------------------------------------
  // ?sort=-score (a column, "-" for descending), ?status=ok|error|pending, ?q=<id substring>,
  // ?<column>=3 (equal) or =lo..hi (either end may be left out), ?open=<input position>.
  function parseRange(text) {
    var parts = text.indexOf("..") >= 0 ? text.split("..") : [text, text];
    var lo = parts[0] === "" ? -Infinity : Number(parts[0]);
    var hi = parts[1] === "" ? Infinity : Number(parts[1]);
    return isNaN(lo) || isNaN(hi) ? null : { lo: lo, hi: hi };
  }
  function readState() {
    var p = new URLSearchParams(location.search), s = { filters: {} };
    FIXED.forEach(function (k) { s[k] = p.get(k) || ""; });
    D.numeric.forEach(function (name) {
      if (p.has(name)) { var r = parseRange(p.get(name)); if (r) s.filters[name] = { text: p.get(name), range: r }; }
    });
    return s;
  }
  var state = readState();
  function writeState() {
    var p = new URLSearchParams();
    ["sort", "status", "q"].forEach(function (k) { if (state[k]) p.set(k, state[k]); });
    Object.keys(state.filters).forEach(function (k) { p.set(k, state.filters[k].text); });
    if (state.open !== "") p.set("open", state.open);
    var query = p.toString();
    try { history.replaceState(null, "", query ? "?" + query : location.pathname); } catch (e) { /* file:// limits */ }
  }

  // --- which inputs, in which order ----------------------------------------------------------------
  function compute() {
    var want = state.status, q = state.q.toLowerCase(), names = Object.keys(state.filters);
    order = [];
    for (var i = 0; i < N; i++) {
      if (want && statusKind(status(i)) !== want) continue;
      if (q && String(C.id[i]).toLowerCase().indexOf(q) < 0) continue;
      var keep = true;
      for (var f = 0; f < names.length && keep; f++) {
        var v = values[names[f]][i], r = state.filters[names[f]].range;
        keep = v >= r.lo && v <= r.hi;  // NaN never passes a filter
      }
      if (keep) order.push(i);
    }
    var key = state.sort.replace(/^-/, ""), sign = state.sort.charAt(0) === "-" ? -1 : 1;
    if (values[key]) {
      var col = values[key];
      order.sort(function (a, b) {
        var x = col[a], y = col[b];
        if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y) || a - b;  // missing values last
        return x === y ? a - b : (x < y ? -sign : sign);
      });
    } else if (key === "id" || key === "status") {
      var text = key === "id" ? function (i) { return String(C.id[i]); } : status;
      order.sort(function (a, b) { var x = text(a), y = text(b); return x === y ? a - b : (x < y ? -sign : sign); });
    } else if (sign < 0) {
      order.reverse();
    }
  }

  // --- entries -------------------------------------------------------------------------------------
  function pictureUrl(level, kind, i) { return level + "/" + kind + "/" + Math.floor(i / 1000) + "/" + i + ".png"; }
  function fmt(v) {
    if (v === null || v === undefined || (typeof v === "number" && isNaN(v))) return "–";
    if (typeof v !== "number" || Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function picture(level, kind, i, attrs, label) {
    var img = el("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = label;
    img.title = label;
    Object.keys(attrs).forEach(function (k) { img.setAttribute(k, attrs[k]); });
    img.onerror = function () { var none = el("span", "none", "no picture"); none.title = label; img.replaceWith(none); };
    img.src = pictureUrl(level, kind, i);
    return img;
  }
  function metaFields(i, box) {
    var s = status(i);
    box.appendChild(el("span", "id", String(C.id[i])));
    if (statusKind(s) === "error") box.appendChild(el("span", "reason", s));
    else box.appendChild(field("status", s));
    D.numeric.forEach(function (name) { box.appendChild(field(name, fmt(C[name][i]))); });
    return box;
  }
  function field(name, text) {
    var f = el("span"); f.appendChild(el("b", "", name + " ")); f.appendChild(document.createTextNode(text));
    return f;
  }
  function entry(i) {
    var s = status(i), kind = statusKind(s), score = C.score ? C.score[i] : null;
    var e = el("div", "entry " + kind);
    e.setAttribute("data-input-id", String(C.id[i]));
    e.setAttribute("data-index", String(i));
    e.setAttribute("data-score", score === null ? "" : String(score));
    e.setAttribute("data-status", kind);
    var maps = el("div", "maps");
    if (D.image_like && kind !== "pending") {
      if (D.pictures.inputs && kind === "ok") maps.appendChild(cell(picture("thumb", "_input", i, { "data-kind": "input" }, "input"), "input"));
      D.rules.forEach(function (rule) {
        var node = kind === "ok" ? picture("thumb", rule, i, { "data-rule": rule }, rule) : el("span", "none", "no map");
        maps.appendChild(cell(node, rule));
      });
    }
    e.appendChild(maps);
    e.appendChild(metaFields(i, el("div", "meta")));
    e.addEventListener("click", function () { openEntry(i); });
    return e;
  }
  function cell(node, caption) { var c = el("div", "cell"); c.appendChild(node); c.appendChild(el("span", "", caption)); return c; }

  function appendPage() {
    var fragment = document.createDocumentFragment(), stop = Math.min(order.length, shown + PAGE);
    for (; shown < stop; shown++) fragment.appendChild(entry(order[shown]));
    grid.appendChild(fragment);
  }
  function render() {
    compute();
    grid.textContent = "";
    shown = 0;
    appendPage();
    $("count").textContent = order.length.toLocaleString() + " of " + N.toLocaleString() + " inputs";
    document.body.setAttribute("data-shown", String(order.length));
  }
  new IntersectionObserver(function (items) {
    if (items[0].isIntersecting && shown < order.length) appendPage();
  }, { rootMargin: "1200px 0px" }).observe(sentinel);
  // An observer fires only on a change: keep filling while the end of the list stays visible.
  window.addEventListener("scroll", function () {
    if (shown < order.length && sentinel.getBoundingClientRect().top < innerHeight + 1200) appendPage();
  }, { passive: true });

  // --- full size ------------------------------------------------------------------------------------
  function openEntry(i) {
    current = i;
    state.open = String(i);
    writeState();
    var level = D.pictures.full ? "full" : "thumb", box = $("panel-maps"), alpha = $("opacity").value;
    $("panel-title").textContent = String(C.id[i]);
    $("panel-meta").textContent = "";
    metaFields(i, $("panel-meta"));
    box.textContent = "";
    if (!D.image_like) box.appendChild(el("p", "", D.message));
    else {
      if (D.pictures.inputs) {
        var only = el("div", "stack"); only.appendChild(picture(level, "_input", i, { "data-kind": "input" }, "input"));
        box.appendChild(labelled(only, "input"));
      }
      D.rules.forEach(function (rule) {
        var stack = el("div", "stack");
        if (D.pictures.inputs) stack.appendChild(picture(level, "_input", i, { "class": "base" }, "input"));
        var over = picture(level, rule, i, { "data-rule": rule, "class": "overlay" }, rule);
        over.style.opacity = D.pictures.inputs ? alpha : 1;
        stack.appendChild(over);
        box.appendChild(labelled(stack, rule));
      });
    }
    $("modal").hidden = false;
  }
  function labelled(node, caption) { var f = el("div", "full"); f.appendChild(node); f.appendChild(el("span", "", caption)); return f; }
  function closeEntry() { $("modal").hidden = true; current = -1; state.open = ""; writeState(); }
  function step(by) {
    var at = order.indexOf(current);
    if (at >= 0 && order[at + by] !== undefined) openEntry(order[at + by]);
  }
  $("opacity").addEventListener("input", function () {
    var overlays = document.querySelectorAll("#panel-maps img.overlay");
    for (var k = 0; k < overlays.length; k++) overlays[k].style.opacity = this.value;
  });
  $("close").addEventListener("click", closeEntry);
  $("prev").addEventListener("click", function () { step(-1); });
  $("next").addEventListener("click", function () { step(1); });
  $("modal").addEventListener("click", function (e) { if (e.target === this) closeEntry(); });
  document.addEventListener("keydown", function (e) {
    if ($("modal").hidden) return;
    if (e.key === "Escape") closeEntry();
    else if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
  });

  // --- controls -------------------------------------------------------------------------------------
  function buildControls() {
    var sort = $("sort");
    var options = [["", "store order"], ["-score", "score, high first"], ["score", "score, low first"]];
    D.numeric.forEach(function (n) { if (n !== "score") options.push(["-" + n, n + ", high first"], [n, n + ", low first"]); });
    options.push(["id", "id"], ["status", "status"]);
    options.forEach(function (o) { var opt = el("option", "", o[1]); opt.value = o[0]; sort.appendChild(opt); });
    if (state.sort && !options.some(function (o) { return o[0] === state.sort; })) {
      var extra = el("option", "", state.sort); extra.value = state.sort; sort.appendChild(extra);
    }
    var filters = $("filters");
    D.numeric.forEach(function (name) {
      var label = el("label", "", name + " ");
      var input = el("input");
      input.id = "filter-" + name;
      input.placeholder = D.classes.indexOf(name) >= 0 ? "class" : "lo..hi";
      input.title = "a value, or a range lo..hi (either end may be left out)";
      input.addEventListener("change", function () {
        var r = parseRange(input.value.trim());
        if (input.value.trim() && r) state.filters[name] = { text: input.value.trim(), range: r };
        else delete state.filters[name];
        update();
      });
      label.appendChild(input);
      filters.appendChild(label);
    });
    sort.addEventListener("change", function () { state.sort = sort.value; update(); });
    $("status").addEventListener("change", function () { state.status = $("status").value; update(); });
    $("q").addEventListener("change", function () { state.q = $("q").value.trim(); update(); });
    $("reset").addEventListener("click", function () { state = { filters: {}, sort: "", status: "", q: "", open: "" }; syncControls(); update(); });
    $("controls").addEventListener("submit", function (e) { e.preventDefault(); });
  }
  function syncControls() {
    $("sort").value = state.sort;
    $("status").value = state.status;
    $("q").value = state.q;
    D.numeric.forEach(function (name) { $("filter-" + name).value = state.filters[name] ? state.filters[name].text : ""; });
  }
  function update() { writeState(); render(); }

  document.title = D.title + " · kerasviz view";
  $("title").textContent = D.title;
  $("summary").textContent = N.toLocaleString() + " inputs · rules " + D.rules.join(", ") + " · method " +
    D.method + " · maps " + JSON.stringify(D.map_shape);
  var thumb = Math.max(48, Math.min(96, D.pictures.size || 64)) + "px";
  document.documentElement.style.setProperty("--thumb", thumb);
  document.documentElement.style.setProperty("--full", Math.max(224, Math.min(320, D.map_shape[0] || 224)) + "px");
  if (D.message) { $("message").textContent = D.message; $("message").hidden = false; }
  buildControls();
  syncControls();
  render();
  if (state.open !== "" && Number(state.open) >= 0 && Number(state.open) < N) openEntry(Number(state.open));
  window.KV_READY_MS = performance.now();
  document.body.setAttribute("data-ready", "1");
})();
