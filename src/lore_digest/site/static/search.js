/* lore-digest client-side search: no server, works from file:// too.
 *
 * The index (search-index.js, a script assigning window.LORE_DIGEST_SEARCH) is loaded
 * on first use only, because fetch() of file:// URLs is blocked while <script src> is
 * not. Results are built with DOM calls and textContent only: titles and names come
 * from mail and are never parsed as HTML.
 */
(function () {
  "use strict";
  var MAX_RESULTS = 25;
  var body = document.body;
  var form = document.getElementById("search-form");
  var input = document.getElementById("search-q");
  var list = document.getElementById("search-results");
  if (!form || !input || !list) {
    return;
  }
  var root = body.getAttribute("data-root") || "";
  var suffix = body.getAttribute("data-suffix") || "";
  var listName = body.getAttribute("data-list") || "";
  var noneText = body.getAttribute("data-none") || "No results";
  var seriesText = body.getAttribute("data-series") || "series";
  var state = { loading: false, waiting: [], haystacks: null, active: -1 };

  function loadIndex(then) {
    if (window.LORE_DIGEST_SEARCH) {
      then();
      return;
    }
    state.waiting.push(then);
    if (state.loading) {
      return;
    }
    state.loading = true;
    var script = document.createElement("script");
    script.src = root + "search-index.js";
    script.onload = function () {
      var queued = state.waiting;
      state.waiting = [];
      queued.forEach(function (fn) { fn(); });
    };
    script.onerror = function () {
      state.loading = false;
    };
    document.head.appendChild(script);
  }

  function haystacks() {
    if (state.haystacks === null) {
      state.haystacks = window.LORE_DIGEST_SEARCH.entries.map(function (e) {
        return (e.t + " \u0001 " + e.a.join(" ")).toLowerCase();
      });
    }
    return state.haystacks;
  }

  function weekHref(week, anchor) {
    return root + listName + "-" + week + suffix + ".html" + (anchor ? "#" + anchor : "");
  }

  function search(query) {
    var data = window.LORE_DIGEST_SEARCH;
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!data || terms.length === 0) {
      return [];
    }
    var hays = haystacks();
    var hits = [];
    for (var i = 0; i < data.entries.length; i++) {
      var hay = hays[i];
      var ok = true;
      var inTitle = 0;
      for (var j = 0; j < terms.length; j++) {
        var at = hay.indexOf(terms[j]);
        if (at < 0) {
          ok = false;
          break;
        }
        if (at < hay.indexOf("\u0001")) {
          inTitle++;
        }
      }
      if (ok) {
        var entry = data.entries[i];
        hits.push({ entry: entry, score: inTitle * 100000 + entry.w[entry.w.length - 1] });
      }
    }
    hits.sort(function (a, b) { return b.score - a.score; });
    return hits.slice(0, MAX_RESULTS).map(function (h) { return h.entry; });
  }

  // Mail text in its own bidi isolate: a U+202E in a name must not flip what follows.
  function isolated(text) {
    var bdi = document.createElement("bdi");
    bdi.textContent = text;
    return bdi;
  }

  function render(entries, query) {
    var data = window.LORE_DIGEST_SEARCH;
    list.textContent = "";
    state.active = -1;
    if (!query) {
      list.hidden = true;
      return;
    }
    if (entries.length === 0) {
      var none = document.createElement("li");
      none.className = "sub";
      none.textContent = noneText;
      list.appendChild(none);
    }
    entries.forEach(function (entry) {
      var weeks = entry.w.map(function (i) { return data.weeks[i]; });
      var latest = weeks[weeks.length - 1];
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.className = "hit";
      link.href = weekHref(latest, entry.k);
      link.appendChild(isolated(entry.t));
      item.appendChild(link);
      var sub = document.createElement("div");
      sub.className = "sub";
      entry.a.slice(0, 3).forEach(function (name, i) {
        sub.appendChild(document.createTextNode(i ? ", " : ""));
        sub.appendChild(isolated(name));
      });
      sub.appendChild(document.createTextNode(" · "));
      weeks.slice(-4).forEach(function (week) {
        var w = document.createElement("a");
        w.href = weekHref(week, entry.k);
        w.textContent = week;
        sub.appendChild(w);
        sub.appendChild(document.createTextNode(" "));
      });
      if (entry.s) {
        var s = document.createElement("a");
        s.className = "series";
        s.href = root + "series/" + entry.s + suffix + ".html";
        s.textContent = seriesText;
        sub.appendChild(document.createTextNode("· "));
        sub.appendChild(s);
      }
      item.appendChild(sub);
      list.appendChild(item);
    });
    list.hidden = false;
  }

  var timer = null;
  function update() {
    var query = input.value.trim();
    loadIndex(function () { render(search(query), query); });
  }

  input.addEventListener("focus", function () { loadIndex(function () {}); });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 60);
  });
  input.addEventListener("keydown", function (event) {
    var links = list.querySelectorAll("a.hit");
    if (event.key === "Escape") {
      input.value = "";
      render([], "");
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && links.length) {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      state.active = (state.active + step + links.length) % links.length;
      links.forEach(function (a, i) {
        a.parentNode.classList.toggle("active", i === state.active);
      });
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var links = list.querySelectorAll("a.hit");
    var chosen = links[state.active >= 0 ? state.active : 0];
    if (chosen) {
      window.location.href = chosen.href;
    }
  });
  document.addEventListener("click", function (event) {
    if (!form.contains(event.target)) {
      list.hidden = true;
    }
  });
})();
