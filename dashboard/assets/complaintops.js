/* Clientside callbacks of the shell and the wall display (no inline scripts: CSP). */

/* The page filters Dash keeps in the tab's session storage belong to the person
   who set them. Sign-in and sign-out send Clear-Site-Data, which browsers ignore
   on plain-HTTP origins (other than localhost) and Firefox on redirects; so each
   page also compares the session's CSRF cookie, new at every sign-in and sign-out,
   with the one its filters were kept under (as a hash), and drops them when it
   changed. This runs before the Dash renderer reads them. */
(function () {
  "use strict";
  var MARK = "complaintops.session";
  var PREFIX = "_dash_persistence";
  function fingerprint(text) {
    var hash = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash.toString(16);
  }
  try {
    var found = document.cookie.match(/(?:^|;\s*)_csrf_token=([^;]*)/);
    var current = fingerprint(found ? found[1] : "");
    var store = window.sessionStorage;
    if (store.getItem(MARK) !== current) {
      Object.keys(store).forEach(function (key) {
        if (key.indexOf(PREFIX) === 0) { store.removeItem(key); }
      });
      store.setItem(MARK, current);
    }
  } catch (e) { /* storage disabled: nothing is kept either */ }
})();

(function () {
  "use strict";
  var dc = (window.dash_clientside = window.dash_clientside || {});
  var noUpdate = function () { return dc.no_update; };

  dc.complaintops = {
    /* Language links keep the current page and its query (team, screen, token). */
    languageLinks: function (pathname, search) {
      var out = [];
      ["zh", "en"].forEach(function (code) {
        var params = new URLSearchParams(search || "");
        params.set("lang", code);
        out.push((pathname || "/") + "?" + params.toString());
      });
      return out;
    },
    /* Highlight the navigation link of the current page. */
    activeNav: function (pathname) {
      var ctx = dc.callback_context;
      var outputs = (ctx && ctx.outputs_list) || [];
      var path = pathname || "/";
      return outputs.map(function (o) {
        var target = o.id.path;
        var active = target === "/" ? path === "/" : path === target || path.indexOf(target + "/") === 0;
        return "shell-nav__link" + (active ? " shell-nav__link--active" : "");
      });
    }
  };

  var wall = {
    sentAt: 0,
    loadedAt: Date.now(),
    /* A refresh taking longer than this is assumed lost: the next tick goes through. */
    maxWaitMs: 15000,

    /* Pass a tick on only when no refresh is running and the tab is visible. */
    gate: function (n, busy) {
      var now = Date.now();
      if (document.visibilityState === "hidden") { return noUpdate(); }
      if (busy && now - wall.sentAt < wall.maxWaitMs) { return noUpdate(); }
      wall.sentAt = now;
      return n;
    },

    received: function (meta) {
      return meta ? Date.now() : dc.no_update;
    },

    screenIndex: function (config, nowMs) {
      var screens = config.screens || [];
      if (config.pinned !== null && config.pinned !== undefined && screens[config.pinned]) {
        return config.pinned;
      }
      var total = screens.reduce(function (sum, s) { return sum + s.seconds; }, 0);
      if (!total) { return 0; }
      var moment = Math.floor(nowMs / 1000) % total;
      for (var i = 0; i < screens.length; i++) {
        if (moment < screens[i].seconds) { return i; }
        moment -= screens[i].seconds;
      }
      return 0;
    },

    /* Seconds since the data last moved: the server's age at the last good
       refresh plus the time since that refresh arrived. */
    ageSeconds: function (meta, receivedAt, nowMs) {
      if (!meta || !receivedAt) { return (nowMs - wall.loadedAt) / 1000 + 1e6; }
      return (meta.data_age || 0) + Math.max(0, nowMs - receivedAt) / 1000;
    },

    badge: function (config, age) {
      var level = age >= config.red_seconds ? "red" : age >= config.amber_seconds ? "amber" : "ok";
      var text;
      if (age >= 1e6) {
        text = "—";
      } else if (age >= 120) {
        text = config.texts.updated_minutes.replace("{minutes}", String(Math.floor(age / 60)));
      } else {
        text = config.texts.updated.replace("{seconds}", String(Math.max(0, Math.round(age))));
      }
      return { text: text, className: "co-badge co-badge--" + level + " wall-badge", level: level };
    },

    clock: function (config, nowMs) {
      var locale = config.lang === "zh" ? "zh-CN" : "en-GB";
      try {
        return new Intl.DateTimeFormat(locale, {
          timeZone: config.tz, month: "short", day: "numeric", weekday: "short",
          hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
        }).format(new Date(nowMs));
      } catch (e) {
        return new Date(nowMs).toLocaleTimeString();
      }
    },

    panels: ["tiles", "flow", "throughput", "workload", "leaderboard", "alerts"],

    tick: function (n, receivedAt, config, meta, viewport) {
      if (!config) { return Array(12).fill(dc.no_update); }
      var now = Date.now();
      if (config.reload_seconds && now - wall.loadedAt > config.reload_seconds * 1000 &&
          document.visibilityState !== "hidden") {
        window.location.reload();
      }
      var badge = wall.badge(config, wall.ageSeconds(meta, receivedAt, now));
      var screen = config.screens[wall.screenIndex(config, now)] || { panels: [], title: "" };
      var classes = wall.panels.map(function (name) {
        var visible = screen.panels.indexOf(name) >= 0;
        return "wall-panel wall-panel--" + name + (visible ? "" : " wall-panel--hidden");
      });
      var size = { w: window.innerWidth, h: window.innerHeight };
      var sameSize = viewport && viewport.w === size.w && viewport.h === size.h;
      return [badge.text, badge.className, wall.clock(config, now), screen.title]
        .concat(classes)
        .concat([sameSize ? dc.no_update : size,
                 "wall-root" + (badge.level === "red" ? " wall-root--stale" : "")]);
    },

    /* Someone new in the top 3 since the last refresh: a short banner. */
    newcomers: function (previous, top3) {
      if (!previous) { return []; }
      return (top3 || []).filter(function (row) { return previous.indexOf(row.id) < 0; });
    },

    celebrate: function (meta, previous, config) {
      if (!meta) { return [dc.no_update, dc.no_update, dc.no_update]; }
      var top3 = meta.top3 || [];
      var ids = top3.map(function (row) { return row.id; });
      var fresh = wall.newcomers(previous, top3);
      if (!fresh.length) { return [dc.no_update, dc.no_update, ids]; }
      var names = fresh.map(function (row) { return row.name; }).join("、");
      wall.flip = !wall.flip;
      var text = config ? config.texts.celebrate.replace("{names}", names) : names;
      return [text, "wall-celebration wall-celebration--on" + (wall.flip ? " wall-celebration--a" : " wall-celebration--b"), ids];
    },

    pause: function (visibility) {
      return visibility === "hidden";
    }
  };
  dc.complaintops_wall = wall;

  document.addEventListener("visibilitychange", function () {
    if (document.getElementById("wall-visibility") && dc.set_props) {
      dc.set_props("wall-visibility", { data: document.visibilityState });
    }
  });
})();
