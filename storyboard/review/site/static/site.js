// The review page: lazy video, chapters, takes in sync, keyboard, decisions.
// No network beyond the page's own files; works from file://.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("page-data").textContent);
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.shot"));
  var current = 0;

  // -- the film: a chapter per shot; before it is cut, the chosen clips in turn --
  var film = document.querySelector("video.film");
  function addChapters(video, base) {
    if (!video || !window.VTTCue) return;
    var track = video.addTextTrack("chapters", "shots");
    data.shots.forEach(function (s, i) {
      var end = i + 1 < data.shots.length ? data.shots[i + 1].start : s.start + s.duration;
      track.addCue(new VTTCue(s.start - base, Math.max(end, s.start + 0.001) - base, s.id));
    });
  }
  // captions: each shot's, timed in its clip; on the film, from where the shot starts
  function addCaptions(video, shots, inFilm) {
    if (!video || !window.VTTCue) return null;
    var track = video.addTextTrack("captions", "captions", "en");
    shots.forEach(function (s) {
      (s.captions || []).forEach(function (c) {
        track.addCue(new VTTCue(c.start + (inFilm ? s.start : 0), c.end + (inFilm ? s.start : 0), c.text));
      });
    });
    track.mode = "showing";
    return track;
  }
  if (film && film.classList.contains("playlist")) {
    var queue = data.shots.filter(function (s) { return s.clip; });
    var at = 0;
    film.dataset.src = queue.length ? queue[0].clip : "";
    var said = queue.length ? addCaptions(film, [queue[0]], false) : null;
    if (queue.length) film.addEventListener("ended", function () {
      at = (at + 1) % queue.length;
      film.src = queue[at].clip;
      if (said) {
        Array.prototype.slice.call(said.cues || []).forEach(function (c) { said.removeCue(c); });
        (queue[at].captions || []).forEach(function (c) { said.addCue(new VTTCue(c.start, c.end, c.text)); });
      }
      if (at) film.play();
    });
  } else {
    addChapters(film, 0);
    addCaptions(film, data.shots, true);
  }
  cards.forEach(function (card, i) {
    card.querySelectorAll("video.take-clip").forEach(function (v) { addCaptions(v, [data.shots[i]], false); });
  });

  // -- lazy video: a video gets its source when it comes near the screen --
  function load(video) {
    if (!video.getAttribute("src") && video.dataset.src) {
      video.src = video.dataset.src;
      video.preload = "metadata";
    }
  }
  var lazy = document.querySelectorAll("video[data-src]");
  if ("IntersectionObserver" in window) {
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (e.isIntersecting) { load(e.target); seen.unobserve(e.target); } });
    }, {rootMargin: "200px"});
    lazy.forEach(function (v) { seen.observe(v); });
  } else {
    lazy.forEach(load);
  }
  document.addEventListener("play", function (e) { if (e.target.tagName === "VIDEO") load(e.target); }, true);

  // -- cards and keyboard --
  function focusCard(i) {
    current = Math.max(0, Math.min(cards.length - 1, i));
    var card = cards[current];
    card.querySelector("details").open = true;
    card.focus({preventScroll: true});
    card.scrollIntoView({block: "start"});
    if (film && !film.classList.contains("playlist") && !film.paused) film.currentTime = data.shots[current].start;
  }
  function activeVideo() {
    var card = cards[current];
    return (card && card.querySelector("details[open] .take.chosen video, details[open] video.new")) || film;
  }
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT" && e.target.type === "text" || e.target.tagName === "TEXTAREA") return;
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    var k = e.key;
    if (k === " ") {
      var v = activeVideo();
      if (v) { load(v); if (v.paused) v.play(); else v.pause(); }
    } else if (k === "j" || k === "J" || k === "ArrowUp" || k === "ArrowLeft") {
      focusCard(current - 1);
    } else if (k === "k" || k === "K" || k === "ArrowDown" || k === "ArrowRight") {
      focusCard(current + 1);
    } else if (/^[1-9]$/.test(k)) {
      var radio = cards[current] && cards[current].querySelector('input[name^="take-"][value="' + k + '"]');
      if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", {bubbles: true})); }
    } else {
      return;
    }
    e.preventDefault();
  });
  cards.forEach(function (card, i) {
    card.addEventListener("focusin", function () { current = i; });
    card.addEventListener("click", function () { current = i; });
  });

  // -- takes side by side, playing together --
  document.querySelectorAll("button.sync").forEach(function (button) {
    button.addEventListener("click", function () {
      var videos = button.closest("article").querySelectorAll(".takes video");
      videos.forEach(function (v) { load(v); v.currentTime = 0; });
      videos.forEach(function (v) { v.play(); });
    });
  });
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.name || input.name.indexOf("take-") !== 0) return;
    var card = input.closest("article");
    card.querySelectorAll(".take").forEach(function (f) {
      f.classList.toggle("picked", f.dataset.take === input.value);
    });
  });

  // -- decisions --
  function quote(text) { return JSON.stringify(text); }
  function decisions() {
    var lines = [
      "# Review decisions: apply with `storyboard apply-review FILE`",
      "version: 1",
      "storyboard: " + quote(data.storyboard),
      "revision: " + quote(data.revision),
      "decisions:"
    ];
    var any = false;
    data.shots.forEach(function (s, i) {
      var card = cards[i];
      var take = card.querySelector('input[name="take-' + CSS.escape(s.id) + '"]:checked');
      var verdict = card.querySelector('input[name="verdict-' + CSS.escape(s.id) + '"]:checked');
      var note = card.querySelector('input[name="note-' + CSS.escape(s.id) + '"]').value.trim();
      var number = take ? parseInt(take.value, 10) : s.chosen;
      if (number === s.chosen && !verdict && !note) return;
      var key = (s.takes.filter(function (t) { return t.number === number; })[0] || {}).key || "";
      any = true;
      lines.push("  - shot: " + quote(s.id));
      lines.push("    take: " + number);
      lines.push("    key: " + quote(key));
      if (verdict) lines.push("    verdict: " + verdict.value);
      if (note) lines.push("    note: " + quote(note));
    });
    if (!any) lines[lines.length - 1] = "decisions: []";
    return lines.join("\n") + "\n";
  }
  document.getElementById("export").addEventListener("click", function () {
    var text = decisions();
    var box = document.getElementById("decisions");
    box.value = text;
    box.hidden = false;
    var stem = data.storyboard.replace(/\.ya?ml$/, "");
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], {type: "application/x-yaml"}));
    link.download = stem + ".decisions.yaml";
    document.body.appendChild(link);
    link.click();
    link.remove();
    var status = document.getElementById("export-status");
    status.textContent = "Downloaded " + link.download;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        status.textContent += " and copied";
      }, function () {});
    }
  });
  window.storyboardReview = {decisions: decisions, load: load, ready: true, readyAt: performance.now()};
})();
