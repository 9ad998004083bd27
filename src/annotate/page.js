// The page of `stance annotate`: draws the current article with every
// sentence coloured by the model's label (opacity: its probability), and
// saves each decision at once through the local API. No framework, no build.
"use strict";

const SHORT = { "pro-dialogue": "pro", "anti-dialogue": "anti", neutral: "neutral" };
const state = { session: null, labels: new Map(), current: 0, busy: false, pickedByMouse: new Set() };

const $ = (id) => document.getElementById(id);
const key = (doc, start, end) => `${doc}\u0000${start}\u0000${end}`;
const itemKey = (s) => key(s.doc, s.start, s.end);

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function setLabels(records) {
  state.labels = new Map(records.map((r) => [key(r.doc, r.start, r.end), r]));
}

function fillSelect(select, values) {
  select.replaceChildren(...values.map((v) => new Option(v, v)));
}

function claimsOf(s) {
  const label = state.labels.get(itemKey(s));
  return label ? label : s;
}

// The selects show the saved claims, else the model's (the gazetteer's
// holder and target), else the standard's fallbacks.
function showClaims(s) {
  const source = claimsOf(s);
  const pro = source.claims.find((c) => c.stance === "pro-dialogue");
  const anti = source.claims.find((c) => c.stance === "anti-dialogue");
  const first = source.mixed ? pro : source.claims[0];
  $("holder-a").value = first ? first.holder : s.holder || "author";
  $("target-a").value = first ? first.target : s.target || "unspecified";
  $("holder-b").value = source.mixed && anti ? anti.holder : "author";
  $("target-b").value = source.mixed && anti ? anti.target : $("target-a").value;
  $("second-claim").hidden = !source.mixed;
}

function render() {
  const { session } = state;
  const s = session.queue[state.current];
  const done = session.queue.filter((q) => state.labels.has(itemKey(q))).length;
  $("progress").textContent = `${done} / ${session.queue.length} labelled`;
  $("file").textContent = `${session.out} · order: ${session.order} · suggestions: ${session.suggested_by}`;
  if (!s) {
    $("current-text").textContent = "No sentences.";
    return;
  }
  const article = session.articles.find((a) => a.id === s.doc);
  $("article-title").textContent = (article && article.title) || s.doc;
  $("article-meta").textContent = s.doc;
  const sentences = $("sentences");
  sentences.replaceChildren();
  session.queue
    .map((q, i) => [q, i])
    .filter(([q]) => q.doc === s.doc)
    .sort(([a], [b]) => a.start - b.start)
    .forEach(([q, i]) => {
      const span = document.createElement("span");
      span.className = `s ${SHORT[q.stance]}`;
      span.style.setProperty("--p", q.scores[q.stance].toFixed(3));
      span.dataset.index = i;
      span.dataset.start = q.start;
      if (q.boilerplate) span.classList.add("boilerplate");
      const label = state.labels.get(itemKey(q));
      if (label) {
        span.classList.add("done", `done-${SHORT[label.stance]}`);
        if (label.mixed) span.classList.add("done-mixed");
        span.title = `labelled ${label.mixed ? "mixed" : label.stance}`;
      } else {
        span.title = `model: ${q.stance} ${q.scores[q.stance].toFixed(2)}`;
      }
      if (i === state.current) span.classList.add("current");
      span.textContent = q.text;
      span.addEventListener("click", () => go(i));
      sentences.append(span, " ");
    });
  $("position").textContent = `sentence ${state.current + 1} of ${session.queue.length} (${s.doc}, ${s.start}..${s.end})`;
  $("current-text").textContent = s.text;
  const probs = ["pro-dialogue", "anti-dialogue", "neutral"]
    .map((l) => `${SHORT[l]} ${s.scores[l].toFixed(2)}`)
    .join(" · ");
  const claims = s.claims.map((c) => `${c.holder} ${SHORT[c.stance]} ${c.target}`).join("; ");
  $("suggestion").textContent = `model: ${s.boilerplate ? "boilerplate, " : ""}${s.mixed ? "mixed" : s.stance} (${probs})${claims ? ` · ${claims}` : ""}`;
  const label = state.labels.get(itemKey(s));
  document.querySelectorAll("#stance-buttons button").forEach((b) => {
    const chosen = label && (b.id === "mixed-button" ? label.mixed : !label.mixed && b.dataset.stance === label.stance);
    b.classList.toggle("chosen", Boolean(chosen));
  });
  $("decision").textContent = label
    ? `saved: ${label.mixed ? "mixed" : label.stance}${label.claims.length ? ` (${label.claims.map((c) => `${c.holder} ${SHORT[c.stance]} ${c.target}`).join("; ")})` : ""}`
    : "not labelled yet";
  showClaims(s);
  $("note").value = label ? label.note : "";
  const current = sentences.querySelector(".current");
  if (current) current.scrollIntoView({ block: "nearest" });
}

function go(index) {
  const n = state.session.queue.length;
  state.current = Math.max(0, Math.min(n - 1, index));
  render();
}

function nextUnlabelled(from) {
  const q = state.session.queue;
  for (let k = 1; k <= q.length; k++) {
    const i = (from + k) % q.length;
    if (!state.labels.has(itemKey(q[i]))) return i;
  }
  return from;
}

function status(text, kind) {
  $("status").textContent = text;
  $("status").className = kind;
}

// A decision in the gold format: the claims follow the stance as the
// standard asks (one claim for pro or anti, none for neutral, a pro and an
// anti claim for mixed).
function decision(s, stance, mixed, claims) {
  const a = { holder: $("holder-a").value, target: $("target-a").value };
  const b = { holder: $("holder-b").value, target: $("target-b").value };
  if (!claims) {
    if (mixed) {
      claims = [
        { holder: a.holder, stance: "pro-dialogue", target: a.target },
        { holder: b.holder, stance: "anti-dialogue", target: b.target },
      ];
    } else if (stance === "neutral") {
      claims = [];
    } else {
      claims = [{ holder: a.holder, stance, target: a.target }];
    }
  }
  return {
    doc: s.doc, start: s.start, end: s.end, text: s.text,
    stance: mixed ? "neutral" : stance, mixed, claims, note: $("note").value,
  };
}

async function save(record, advance) {
  if (state.busy) return;
  state.busy = true;
  try {
    setLabels(await api("/api/label", record));
    status(`saved ${record.doc} ${record.start}..${record.end}`, "saved");
    if (advance) state.current = Math.min(state.current + 1, state.session.queue.length - 1);
  } catch (e) {
    status(`not saved: ${e.message}`, "error");
  } finally {
    state.busy = false;
    render();
  }
}

function label(stance, advance = true) {
  const s = state.session.queue[state.current];
  return save(decision(s, stance, false), advance);
}

function labelMixed(advance = true) {
  const s = state.session.queue[state.current];
  $("second-claim").hidden = false;
  return save(decision(s, "neutral", true), advance);
}

function acceptSuggestion() {
  const s = state.session.queue[state.current];
  return save(decision(s, s.stance, s.mixed, s.claims), true);
}

// A changed holder or target is saved at once when the sentence is labelled.
function resaveClaims() {
  const s = state.session.queue[state.current];
  const saved = state.labels.get(itemKey(s));
  if (saved && saved.claims.length) save(decision(s, saved.stance, saved.mixed), false);
}

function cycle(select) {
  select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
  resaveClaims();
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const field = event.target.closest("input, select, textarea");
  if (field && !state.pickedByMouse.has(field)) {
    if (event.key === "Escape") field.blur();
    // Leaving the note saves it (its change event).
    if (event.key === "Enter" && field.id === "note") field.blur();
    return;
  }
  const actions = {
    1: () => label("pro-dialogue"),
    2: () => label("anti-dialogue"),
    3: () => label("neutral"),
    m: () => labelMixed(),
    Enter: () => acceptSuggestion(),
    j: () => go(state.current + 1),
    ArrowDown: () => go(state.current + 1),
    k: () => go(state.current - 1),
    ArrowUp: () => go(state.current - 1),
    n: () => go(nextUnlabelled(state.current)),
    h: () => cycle($("holder-a")),
    t: () => cycle($("target-a")),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    if (field) field.blur();
    action();
  }
}

function resaveNote() {
  const s = state.session.queue[state.current];
  const saved = state.labels.get(itemKey(s));
  if (saved) save(decision(s, saved.stance, saved.mixed, saved.claims), false);
}

async function start() {
  const [session, labels] = await Promise.all([api("/api/session"), api("/api/labels")]);
  state.session = session;
  setLabels(labels);
  for (const id of ["holder-a", "holder-b"]) fillSelect($(id), session.holders);
  for (const id of ["target-a", "target-b"]) fillSelect($(id), session.targets);
  document.querySelectorAll("#stance-buttons button[data-stance]").forEach((b) =>
    b.addEventListener("click", () => label(b.dataset.stance)));
  $("mixed-button").addEventListener("click", () => labelMixed());
  for (const id of ["holder-a", "target-a", "holder-b", "target-b"]) {
    const select = $(id);
    select.addEventListener("change", resaveClaims);
    // A select keeps the focus after a pick, and keys typed into a field are
    // the field's (arrow keys, type-ahead). One picked with the mouse leaves
    // the keys to the page, so a holder clicked then 2 labels the sentence;
    // one reached with Tab keeps them until Esc.
    // (A pick fires mousedown in one browser, click in another.)
    for (const type of ["mousedown", "click"]) {
      select.addEventListener(type, () => state.pickedByMouse.add(select));
    }
    select.addEventListener("blur", () => state.pickedByMouse.delete(select));
  }
  $("note").addEventListener("change", resaveNote);
  document.addEventListener("keydown", onKey);
  // Carry on where the file stopped: the first sentence not labelled yet.
  const first = session.queue.findIndex((s) => !state.labels.has(itemKey(s)));
  state.current = first < 0 ? 0 : first;
  render();
  document.body.dataset.ready = "true";
}

start().catch((e) => status(`cannot load: ${e.message}`, "error"));
