// One live stream per page (server-sent events from /live/events) for every unfinished video card and session
// panel on it: when one changes, only that element is re-fetched. While the stream is open the page's
// <html data-live> turns the elements' own polling off (their hx-trigger checks it); without EventSource, after
// an error, or when the server answers 204 (a plain WSGI server), polling goes on as before.
(function () {
  "use strict";
  if (!window.EventSource || !window.htmx) return;
  const root = document.documentElement;
  let stream = null;
  let watching = new Set();

  function liveElements() {
    return Array.from(document.querySelectorAll("[data-live-video], [data-live-session]"));
  }

  function idOf(element) {
    return element.dataset.liveVideo || element.dataset.liveSession;
  }

  function refresh(element) {
    const url = element.getAttribute("hx-get");
    if (!url) return;
    const live = url + (url.indexOf("?") < 0 ? "?" : "&") + "via=live";
    htmx.ajax("GET", live, {source: element, target: element, swap: "outerHTML"});
  }

  function stop() {
    if (stream) stream.close();
    stream = null;
    watching = new Set();
    root.removeAttribute("data-live");
  }

  function connect() {
    const ids = liveElements().map(idOf);
    if (stream && ids.every(function (id) { return watching.has(id); })) return;  // nothing new to follow
    stop();
    if (!ids.length) return;
    const videos = ids.filter(function (id) { return id.indexOf("vid_") === 0; });
    const sessions = ids.filter(function (id) { return id.indexOf("ses_") === 0; });
    const url = document.body.dataset.liveUrl + "?v=" + videos.join(",") + "&s=" + sessions.join(",");
    watching = new Set(ids);
    stream = new EventSource(url);
    stream.onopen = function () { root.setAttribute("data-live", ""); };
    stream.onerror = function () {
      root.removeAttribute("data-live");  // polling takes over while EventSource reconnects (or for good)
      if (stream && stream.readyState === EventSource.CLOSED) { stream = null; watching = new Set(); }
    };
    stream.addEventListener("video", function (event) {
      const data = JSON.parse(event.data);
      const card = document.querySelector("[data-live-video='" + data.id + "']");
      if (card && (card.dataset.status !== data.status || card.dataset.progress !== String(data.progress))) {
        refresh(card);
      }
    });
    stream.addEventListener("session", function (event) {
      const data = JSON.parse(event.data);
      const panel = document.querySelector("[data-live-session='" + data.id + "']");
      if (panel && (panel.dataset.status !== data.status || panel.dataset.videos !== String(data.videos))) {
        refresh(panel);
      }
    });
    stream.addEventListener("end", stop);  // everything followed is final
  }

  document.addEventListener("DOMContentLoaded", connect);
  document.addEventListener("htmx:afterSettle", connect);  // a new card or session panel: follow it too
})();
