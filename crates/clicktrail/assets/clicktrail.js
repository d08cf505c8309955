/*! clicktrail.js — Clicktrail's first-party tracking tag. No dependencies.
 *
 * On a landing page:   <script src="https://TRACKING/js/clicktrail.js"></script>
 *   keeps the click id of the URL parameter `data-click-param` (default `click_id`) in a cookie
 *   (and localStorage) of this site for `data-days` days (default 30, the attribution window).
 * On a conversion page, after the same tag:
 *   clicktrail.conversion({offer_id: 1, amount: "49.90", txid: "ORDER-1"}).then(function (r) {…})
 * For traffic linked straight to the site (no tracking redirect):
 *   clicktrail.click({offer_id: 1, affiliate_id: 2, sub1: "…"})
 * Calls made before the tag has loaded can wait in `window.clicktrail = {q: [["conversion", {…}]]}`.
 */
(function (window, document) {
  "use strict";
  var VERSION = "@VERSION@";
  var KEY = "_ct_click";
  var ID = /^[0-9A-Za-z_-]{1,64}$/;
  var script = document.currentScript;
  var attr = function (name) { return (script && script.getAttribute(name)) || ""; };
  var server = attr("data-server") || (script && script.src ? new URL(script.src, location.href).origin : "");
  var param = attr("data-click-param") || "click_id";
  var days = Math.min(Math.max(parseInt(attr("data-days"), 10) || 30, 1), 90);

  function remember(id) {
    var maxAge = days * 86400;
    document.cookie = KEY + "=" + encodeURIComponent(id) + "; Max-Age=" + maxAge + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    try {
      window.localStorage.setItem(KEY, JSON.stringify({ id: id, until: Date.now() + maxAge * 1000 }));
    } catch (e) { /* storage refused: the cookie alone */ }
  }

  function stored() {
    var match = document.cookie.match(new RegExp("(?:^|; )" + KEY + "=([^;]*)"));
    if (match && ID.test(decodeURIComponent(match[1]))) return decodeURIComponent(match[1]);
    try {
      var kept = JSON.parse(window.localStorage.getItem(KEY) || "null");
      if (kept && kept.until > Date.now() && ID.test(kept.id)) return kept.id;
    } catch (e) { /* nothing kept */ }
    return null;
  }

  // The redirect's click id, when this page was reached through a tracking link.
  var landed = new URLSearchParams(location.search).get(param);
  if (landed && ID.test(landed)) remember(landed);

  function fields(values, names) {
    var out = new URLSearchParams();
    names.forEach(function (name) {
      var v = values[name];
      if (v !== undefined && v !== null && String(v) !== "") out.append(name, String(v));
    });
    return out;
  }

  function image(url) {
    return new Promise(function (resolve) {
      var img = new Image(1, 1);
      img.onload = img.onerror = function () { resolve({ sent: true }); };
      img.src = url;
    });
  }

  // POST to the server: fetch with keepalive (survives the page being left), else a beacon,
  // else an image. Answers what the server said, or {sent: true} when it cannot be read.
  function send(path, body) {
    var url = server + path;
    if (window.fetch) {
      return window.fetch(url, { method: "POST", body: body, keepalive: true, credentials: "include", mode: "cors" })
        .then(function (r) { return r.json(); })
        .catch(function () { return { sent: false }; });
    }
    if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return Promise.resolve({ sent: true });
    return image(url + "?" + body.toString());
  }

  var api = {
    version: VERSION,
    /** The click id this site keeps, or null. */
    clickId: stored,
    /** Reports a conversion with the kept click id (or `click_id` given); a Promise of the answer. */
    conversion: function (c) {
      c = c || {};
      var body = fields(c, ["offer_id", "event", "amount", "txid", "coupon_code", "currency", "status", "payout", "revenue", "token"]);
      var id = c.click_id || stored();
      if (id) body.append("click_id", id);
      return send("/p", body);
    },
    /** Records a click for traffic that came straight to the site; keeps its id. */
    click: function (c) {
      c = c || {};
      if (!c.offer_id || !c.affiliate_id) return Promise.reject(new Error("clicktrail.click needs offer_id and affiliate_id"));
      var query = fields(c, ["sub1", "sub2", "sub3", "sub4", "sub5", "source_id", "creative_id", "campaign"]);
      query.append("async", "json");
      var url = server + "/c/" + encodeURIComponent(c.offer_id) + "/" + encodeURIComponent(c.affiliate_id) + "?" + query;
      return window.fetch(url, { credentials: "include", mode: "cors" })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          var id = answer && answer.transaction_id;
          if (id && !answer.error_code && ID.test(id)) remember(id);
          return { click_id: id || null, error_code: answer.error_code || 0, error_message: answer.error_message || null };
        });
    }
  };

  var queued = window.clicktrail && window.clicktrail.q;
  window.clicktrail = api;
  (queued || []).forEach(function (call) {
    if (api[call[0]]) api[call[0]].apply(null, Array.prototype.slice.call(call, 1));
  });
})(window, document);
