// The scan station: sign in with a recycler's API key, read labels from the camera
// (zxing-wasm, vendored) or a handheld scanner, resolve each with POST /v1/scan,
// record the delivery with one POST /v1/intake and any other event the scan offers
// through the forms of scan_forms.js; the camera is scan_camera.js's. Plain script, no
// build step, no inline code: the page runs under a strict Content-Security-Policy.
"use strict";

(() => {
  const KEY_STORE = "retrace.key";
  const REPEAT_MS = 4000; // the camera sees a label many times a second
  const MASS = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/;
  const KINDS = {
    battery_pack: "Battery pack", battery_module: "Battery module",
    battery_cell: "Battery cell", pv_module: "PV module", wind_blade: "Wind-turbine blade",
  };
  const STATES = {
    registered: "registered", in_service: "in service", retired: "retired",
    collected: "collected", assessed: "assessed", repurposed: "repurposed",
    dismantled: "dismantled", recycled: "recycled", disposed: "disposed",
  };
  const TERMINAL = new Set(["repurposed", "dismantled", "recycled", "disposed"]);

  const $ = (id) => document.getElementById(id);
  const state = {
    key: null, org: null, lines: [], lastText: "", lastAt: 0, lastItem: null,
    idem: null, scans: 0,
  };

  // -- helpers ---------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function show(node, visible) { node.classList.toggle("hidden", !visible); }

  // A number field as wide as its placeholder (at least a mass of 7 digits and a
  // fraction): the stylesheet reads --fit, in characters (CSSOM, allowed by the CSP).
  function fit(input) {
    const chars = Math.max((input.getAttribute("placeholder") || "").length, 8) + 1;
    input.style.setProperty("--fit", String(chars));
    return input;
  }

  function say(text, tone) {
    const box = $("message");
    box.textContent = text || "";
    box.className = "notice " + (tone || "bad");
    show(box, Boolean(text));
  }

  class ApiError extends Error {
    constructor(problem, status) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.problem = problem;
      this.status = status;
    }
  }

  async function api(method, path, body, headers) {
    const init = { method, headers: { Accept: "application/json", ...(headers || {}) } };
    if (state.key) init.headers.Authorization = `Bearer ${state.key}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError({ detail: `The server cannot be reached (${err.message}). ` +
        "Check the network and try again." }, 0);
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => ({})) : {};
    if (!response.ok) {
      if (!data.detail) data.detail = `The server answered ${response.status} ${response.statusText}.`;
      throw new ApiError(data, response.status);
    }
    return data;
  }

  function randomKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // -- sign-in ---------------------------------------------------------------------

  async function signIn(key) {
    state.key = key;
    try {
      // Checks the key and sets the cookie that lets passport pages show more.
      state.org = await api("POST", "/scan/session");
    } catch (err) {
      state.key = null;
      sessionStorage.removeItem(KEY_STORE);
      throw err;
    }
    sessionStorage.setItem(KEY_STORE, key);
    $("who").textContent = `${state.org.name} (${state.org.role})`;
    show($("signin"), false);
    show($("station"), true);
    if (state.org.role !== "recycler") {
      say(`You are signed in as a ${state.org.role}. Only recyclers collect items; ` +
          "you can look items up but not record a delivery.", "warn");
    } else {
      say("");
    }
    $("scan-input").focus();
  }

  async function signOut() {
    RetraceCamera.stop();
    try { await api("DELETE", "/scan/session"); } catch (_err) { /* the cookie expires anyway */ }
    sessionStorage.removeItem(KEY_STORE);
    state.key = null;
    state.org = null;
    state.lines = [];
    renderLines();
    RetraceForms.clear(true);
    $("who").textContent = "";
    show($("station"), false);
    show($("result"), false);
    show($("results"), false);
    show($("signin"), true);
    say("Signed out.", "ok");
    $("api-key").focus();
  }

  // -- scanning --------------------------------------------------------------------

  function verdict(scan) {
    const item = scan.item;
    const holder = scan.holder ? scan.holder.name : item.holder;
    const mine = state.org && item.holder === state.org.id;
    const shown = STATES[item.state] || item.state;
    if (scan.allowed_events.includes("collected")) {
      return { tone: "ok", collect: true, text: "Ready to collect: enter its mass in the delivery below" };
    }
    if (scan.allowed_events.length) {
      return { tone: "ok", text: mine ? `With you (${shown}): record what you do with it` : `You may record events on it (${shown})` };
    }
    if (TERMINAL.has(item.state)) {
      return { tone: "warn", text: `Its life here has ended: it was ${shown}` };
    }
    if (state.org && state.org.role !== "recycler") {
      return { tone: "bad", text: `Only recyclers collect items; you are a ${state.org.role}` };
    }
    if (item.state === "retired") {
      return { tone: "bad", text: `Cannot be collected: it is held by ${holder} and must be transferred to you first` };
    }
    if (!mine) return { tone: "bad", text: `Held by ${holder} (${shown}): nothing you may record on it` };
    return { tone: "bad", text: `Cannot be collected: it is ${shown}, not retired` };
  }

  function renderScan(scan, text) {
    const item = scan.item;
    const v = verdict(scan);
    const box = $("result");
    box.className = `result ${v.tone}`;
    box.dataset.item = item.id;
    const body = $("result-body");
    body.replaceChildren(
      el("h3", {}, `${KINDS[item.kind] || item.kind} `, el("span", { class: "code", text: item.code })),
      el("p", { class: `verdict ${v.tone}`, "data-collectable": v.collect ? "true" : "false", text: v.text }),
      el("dl", { class: "facts" },
        el("dt", { text: "State" }), el("dd", { "data-field": "state", text: STATES[item.state] || item.state }),
        el("dt", { text: "Holder" }), el("dd", { "data-field": "holder", text: scan.holder ? scan.holder.name : item.holder }),
        item.attributes && item.attributes.mass_kg ? el("dt", { text: "Registered mass" }) : null,
        item.attributes && item.attributes.mass_kg ? el("dd", { text: `${item.attributes.mass_kg} kg` }) : null),
      el("p", {}, el("a", { href: `/p/${encodeURIComponent(item.id)}`, target: "_blank", rel: "noopener" }, "Open passport")),
    );
    show(box, true);
    state.lastItem = item.id;
    RetraceForms.offer(scan);
    if (v.collect && text) addLine(item, text);
  }

  // A failed scan: nothing of the previous item stays under "Last scan", only the error.
  function renderFailure(text, err) {
    const box = $("result");
    box.className = "result bad";
    delete box.dataset.item;
    state.lastItem = null;
    RetraceForms.clear(true);
    $("result-body").replaceChildren(el("p", { class: "verdict bad", role: "alert", "data-failed": "true",
      text: `Scan of “${text.slice(0, 80)}”: ${err.message}` }));
    show(box, true);
  }

  async function handleScan(raw, source) {
    const text = (raw || "").trim();
    if (!text) return;
    const now = Date.now();
    // The camera sees a label many times a second: the item it shows stays, its form too.
    if (source === "camera" && text === state.lastText && (state.lastItem || now - state.lastAt < REPEAT_MS)) return;
    state.lastText = text;
    state.lastAt = now;
    $("camera-status").textContent = source === "camera" ? "Label read." : "";
    const turn = ++state.scans; // a slower earlier answer never replaces a later one
    RetraceForms.clear(true);
    // The delivery's site, once entered, says where the scan happened (cloned-label check).
    const site = $("site").value.trim();
    try {
      const scan = await api("POST", "/v1/scan", site ? { payload: text, site } : { payload: text });
      if (turn !== state.scans) return;
      say("");
      renderScan(scan, text);
    } catch (err) {
      if (turn !== state.scans) return;
      say("");
      renderFailure(text, err);
    }
  }

  // After an event is recorded: the item as it is now, and what may be recorded next.
  async function refresh(written) {
    const turn = ++state.scans;
    try {
      const scan = await api("POST", "/v1/scan", { payload: written.item.id });
      if (turn === state.scans) renderScan(scan, null);
    } catch (err) {
      if (turn === state.scans) say(`Recorded, but the item could not be read again: ${err.message}`, "warn");
    }
  }

  // -- the delivery list -----------------------------------------------------------

  function addLine(item, text) {
    // Scanned again (the camera rereads a label it still sees): it is on the list once.
    if (state.lines.some((l) => l.id === item.id)) return;
    state.lines.push({
      id: item.id, code: item.code, kind: item.kind, scanned: text, mass: "",
      hint: item.attributes && item.attributes.mass_kg,
    });
    renderLines();
  }

  function renderLines() {
    const body = $("lines-body");
    body.replaceChildren(...state.lines.map((line) => el("tr", { "data-item": line.id },
      el("td", { class: "code" }, `${KINDS[line.kind] || line.kind}`, el("br"),
        el("span", { class: "code", text: line.code })),
      el("td", {}, fit(el("input", {
        id: `mass-${line.id}`, class: "mass fit", type: "text", inputmode: "decimal",
        value: line.mass, placeholder: line.hint ? `rated ${line.hint}` : "kg", required: true,
        "aria-label": `Measured mass in kg of ${line.code}`,
        oninput: (e) => { line.mass = e.target.value.trim().replace(",", "."); },
      }))),
      el("td", {}, el("button", {
        type: "button", class: "link", "aria-label": `Remove ${line.code}`,
        onclick: () => { state.lines = state.lines.filter((l) => l !== line); renderLines(); },
      }, "Remove")),
    )));
    const any = state.lines.length > 0;
    show($("lines"), any);
    show($("lines-empty"), !any);
    $("intake-submit").disabled = !any;
    $("intake-clear").disabled = !any;
    $("intake-submit").textContent = any
      ? `Record delivery (${state.lines.length} item${state.lines.length === 1 ? "" : "s"})`
      : "Record delivery";
  }

  function problemText(problem) {
    if (!problem) return "refused";
    return problem.detail || problem.title || "refused";
  }

  async function submitIntake(event) {
    event.preventDefault();
    const site = $("site").value.trim();
    if (!site) {
      say("Enter the site where this delivery arrives.");
      $("site").focus();
      return;
    }
    for (const line of state.lines) {
      if (!MASS.test(line.mass)) {
        say(`Enter the measured mass of ${line.code} in kg, e.g. 412.5.`);
        $(`mass-${line.id}`).focus();
        return;
      }
    }
    const body = JSON.stringify({
      site, deliveries: state.lines.map((l) => ({ payload: l.id, mass_kg: l.mass })),
    });
    // A retry of the very same delivery reuses its key, so it is recorded once.
    if (!state.idem || state.idem.body !== body) state.idem = { body, key: randomKey() };
    const button = $("intake-submit");
    button.disabled = true;
    button.textContent = "Recording…";
    try {
      const sent = state.lines.slice();
      const out = await api("POST", "/v1/intake", body, { "Idempotency-Key": state.idem.key });
      state.idem = null;
      renderResults(out, sent);
    } catch (err) {
      say(`The delivery was not recorded: ${err.message}`);
    } finally {
      renderLines();
    }
  }

  function renderResults(out, sent) {
    const results = Array.isArray(out.results) ? out.results : [];
    const done = new Set();
    const rows = results.map((r, index) => {
      const line = sent[typeof r.line === "number" ? r.line : index];
      const ok = Boolean(r.ok);
      if (ok && line) done.add(line.id);
      const what = ok ? "Collected" : `Refused: ${problemText(r.error)}`;
      return el("tr", { "data-ok": ok ? "true" : "false" },
        el("td", { class: "code", text: line ? line.code : (r.code || r.id || `line ${index + 1}`) }),
        el("td", { class: ok ? "verdict ok" : "verdict bad", text: what }));
    });
    $("results-body").replaceChildren(...rows);
    const accepted = out.accepted ?? results.filter((r) => r.ok).length;
    const refused = out.refused ?? results.length - accepted;
    $("results-summary").replaceChildren(el("p", { class: refused ? "notice warn" : "notice ok" },
      `${accepted} collected` + (refused ? `, ${refused} refused: fix them and record again.` : ".")));
    show($("results"), true);
    state.lines = state.lines.filter((l) => !done.has(l.id));
    // The last scan's verdict ("ready to collect") is out of date once it is collected.
    if (done.has(state.lastItem)) show($("result"), false);
    if (refused) say("");
    else say("Delivery recorded.", "ok");
  }

  // -- wiring ----------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    RetraceForms.init({
      api, el, show, fit, randomKey, kinds: KINDS, states: STATES,
      me: () => state.org, onRecorded: refresh,
    });
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) { say("Enter your API key."); return; }
      const button = $("signin-button");
      button.disabled = true;
      try {
        await signIn(key);
        $("api-key").value = "";
      } catch (err) {
        say(`Sign-in failed: ${err.message}`);
        $("api-key").focus();
      } finally {
        button.disabled = false;
      }
    });
    $("scan-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("scan-input");
      const text = input.value;
      input.value = "";
      input.focus();
      handleScan(text, "keyboard");
    });
    $("camera-start").addEventListener("click", () => RetraceCamera.start((text) => handleScan(text, "camera")));
    $("camera-stop").addEventListener("click", () => RetraceCamera.stop());
    $("intake-form").addEventListener("submit", submitIntake);
    $("intake-clear").addEventListener("click", () => { state.lines = []; renderLines(); });
    $("signout").addEventListener("click", signOut);
    // A handheld scanner types wherever the focus is: send stray keystrokes to the field
    // (a focused button keeps its space bar; form fields keep what is typed into them).
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (!state.org || event.ctrlKey || event.metaKey || event.altKey) return;
      if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
          target instanceof HTMLTextAreaElement) return;
      if (target instanceof HTMLButtonElement && event.key === " ") return;
      if (event.key.length === 1) $("scan-input").focus();
    });
    renderLines();
    const saved = sessionStorage.getItem(KEY_STORE);
    if (saved) {
      signIn(saved).catch((err) => say(`Sign in again: ${err.message}`));
    } else {
      $("api-key").focus();
    }
  });
})();
