// The scan station's event forms. After a scan, one button per event the caller may
// record on the item (the scan's `allowed_events`); each opens a form generated from
// that event's payload schema (GET /scan/forms, derived from the event registry), sends
// it with POST /v1/items/{id}/events and shows the entry written, or each problem next
// to the field its JSON pointer names. Plain script, no build step, no inline code:
// the page runs under a strict Content-Security-Policy. scan.js calls `init` first.
"use strict";

window.RetraceForms = (() => {
  let kit = null; // what scan.js lends: api, el, show, fit, randomKey, kinds, states, me, onRecorded
  let forms = null; // promise of the descriptors, by event type
  let orgs = null; // promise of the orgs a transfer may go to
  const open = { scan: null, form: null, value: null, idem: null, node: null, orgs: null, pending: null };

  const $ = (id) => document.getElementById(id);

  function init(lent) { kit = lent; }

  function descriptors() {
    if (!forms) {
      forms = kit.api("GET", "/scan/forms")
        .then((body) => new Map(body.events.map((d) => [d.type, d])))
        .catch((err) => { forms = null; throw err; });
    }
    return forms;
  }

  function orgList() {
    // Without the list, an org field is typed in by id.
    if (!orgs) orgs = kit.api("GET", "/v1/orgs").catch(() => { orgs = null; return null; });
    return orgs;
  }

  // -- reading the JSON Schema -------------------------------------------------------

  // `X | None` is {anyOf: [X, {type: "null"}]}: the field X, optional.
  function solid(schema) {
    const options = Array.isArray(schema.anyOf) ? schema.anyOf.filter((s) => s.type !== "null") : null;
    if (!options || options.length !== 1) return schema;
    const { anyOf: _drop, ...rest } = schema;
    return { ...options[0], ...rest };
  }

  function shape(schema) {
    if (schema.type === "array") return "rows";
    if (schema.type === "object") return schema.properties ? "object" : "map";
    if (Array.isArray(schema.enum)) return "choice";
    if (schema["x-org-roles"]) return "org";
    if (schema.type === "integer") return "integer";
    if (schema.format === "decimal") return "decimal";
    return "text";
  }

  function blank(schema) {
    const s = solid(schema);
    switch (shape(s)) {
      case "object":
        return Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, blank(p)]));
      case "rows":
        return Array.from({ length: Math.max(1, s.minItems || 0) }, () => blank(s.items));
      case "map":
        return [];
      default:
        return "";
    }
  }

  function example(schema) {
    const value = Array.isArray(schema.examples) ? schema.examples[0] : undefined;
    return typeof value === "string" || typeof value === "number" ? String(value) : "";
  }

  // The data sent: empty optional fields left out, every row kept so pointers match rows.
  function collect(schema, value) {
    const s = solid(schema);
    switch (shape(s)) {
      case "object": {
        const out = {};
        for (const [name, prop] of Object.entries(s.properties)) {
          const v = collect(prop, value[name]);
          if (v !== undefined) out[name] = v;
        }
        return out;
      }
      case "rows":
        return value.map((row) => collect(s.items, row) ?? "");
      case "map": {
        const pairs = value.filter((p) => p.name.trim());
        if (!pairs.length) return undefined;
        return Object.fromEntries(pairs.map((p) => [p.name.trim(), p.value.trim()]));
      }
      case "integer": {
        const text = value.trim();
        if (!text) return undefined;
        return /^-?[0-9]{1,15}$/.test(text) ? Number(text) : text;
      }
      case "decimal": {
        const text = value.trim().replace(",", ".");
        return text || undefined;
      }
      default: {
        const text = value.trim();
        return text || undefined;
      }
    }
  }

  // -- building the form ---------------------------------------------------------------

  function slotId(pointer) { return "f" + pointer.replace(/[^A-Za-z0-9_]/g, "-"); }

  function errorSlot(pointer) {
    return kit.el("p", { class: "field-error hidden", id: `${slotId(pointer)}-error`, "data-error-for": pointer });
  }

  function control(schema, holder, key, pointer, required, label) {
    const kind = shape(schema);
    const common = {
      id: slotId(pointer), name: pointer, "data-pointer": pointer, "aria-required": required ? "true" : null,
      "aria-describedby": `${slotId(pointer)}-error`,
      oninput: (e) => { holder[key] = e.target.value; },
    };
    const choices = kind === "choice" ? schema.enum.map((v) => [v, kit.kinds[v] || v])
      : kind === "org" && open.orgs ? open.orgs
        .filter((o) => schema["x-org-roles"].includes(o.role) && o.id !== kit.me().id)
        .map((o) => [o.id, `${o.name} (${o.role}, ${o.region})`]) : null;
    if (choices) {
      return kit.el("select", { ...common, onchange: common.oninput, oninput: null, "aria-label": label },
        kit.el("option", { value: "", text: kind === "org" ? "Choose an organisation…" : "Choose…" }),
        ...choices.map(([v, text]) => kit.el("option", { value: v, selected: holder[key] === v, text })));
    }
    const hint = example(schema);
    const input = kit.el("input", {
      ...common, type: "text", value: holder[key], placeholder: hint || null,
      class: kind === "decimal" || kind === "integer" ? "fit" : null,
      inputmode: kind === "decimal" ? "decimal" : kind === "integer" ? "numeric" : null,
      maxlength: schema.maxLength || null, spellcheck: "false", autocomplete: "off",
      "aria-label": label,
    });
    return input.classList.contains("fit") ? kit.fit(input) : input;
  }

  function field(schema, holder, key, pointer, required, rowLabel) {
    const s = solid(schema);
    const kind = shape(s);
    if (kind === "rows") return rowsField(s, holder[key], pointer);
    if (kind === "map") return mapField(s, holder[key], pointer);
    if (kind === "object") {
      return kit.el("fieldset", { class: "field field-object" }, kit.el("legend", { text: s.title }),
        ...objectFields(s, holder[key], pointer, rowLabel), errorSlot(pointer));
    }
    const words = s.title + (required ? "" : " (optional)");
    return kit.el("div", { class: `field field-${kind}` },
      kit.el("label", { for: slotId(pointer), text: words }),
      control(s, holder, key, pointer, required, rowLabel ? `${words}, ${rowLabel}` : null),
      errorSlot(pointer));
  }

  function objectFields(schema, value, pointer, rowLabel) {
    const required = new Set(schema.required || []);
    return Object.entries(schema.properties).map(([name, prop]) =>
      field(prop, value, name, `${pointer}/${name}`, required.has(name), rowLabel));
  }

  function rowsField(schema, rows, pointer) {
    const items = solid(schema.items);
    const list = kit.el("ol", { class: "rows" }, ...rows.map((row, index) => {
      const at = `${pointer}/${index}`;
      const rowLabel = `line ${index + 1} of ${schema.title}`;
      const whole = shape(items) === "object";
      const fields = whole ? objectFields(items, row, at, rowLabel) : [field(items, rows, index, at, true, rowLabel)];
      return kit.el("li", { class: "row-item", "data-row": at },
        kit.el("div", { class: "row-fields" }, ...fields),
        whole ? errorSlot(at) : null,
        rows.length <= (schema.minItems || 0) ? null : kit.el("button", {
          type: "button", class: "link remove-row", "aria-label": `Remove ${rowLabel}`,
          onclick: () => { rows.splice(index, 1); redraw(`${pointer}/add`); },
        }, "Remove"));
    }));
    return kit.el("fieldset", { class: "field field-rows" },
      kit.el("legend", { text: schema.title }), list, errorSlot(pointer),
      kit.el("button", {
        type: "button", class: "secondary add-row", id: slotId(`${pointer}/add`),
        "aria-label": `Add a line to ${schema.title}`,
        onclick: () => { rows.push(blank(items)); redraw(`${pointer}/${rows.length - 1}`); },
      }, "Add a line"));
  }

  function mapField(schema, pairs, pointer) {
    const sample = Array.isArray(schema.examples) && schema.examples[0] ? Object.entries(schema.examples[0])[0] : null;
    const hint = { name: sample ? sample[0] : "name", value: sample ? String(sample[1]) : "value" };
    const list = kit.el("ol", { class: "rows" }, ...pairs.map((pair, index) => {
      const at = `${pointer}/#${index}`;
      const part = (key, words) => kit.el("div", { class: "field field-text" },
        kit.el("label", { for: slotId(`${at}/${key}`), text: words }),
        kit.el("input", {
          id: slotId(`${at}/${key}`), type: "text", value: pair[key], placeholder: hint[key],
          spellcheck: "false", autocomplete: "off", "aria-label": `${words}, ${schema.title} line ${index + 1}`,
          oninput: (e) => { pair[key] = e.target.value; },
        }));
      return kit.el("li", { class: "row-item" },
        kit.el("div", { class: "row-fields" }, part("name", "Name"), part("value", "Value")),
        kit.el("button", {
          type: "button", class: "link remove-row", "aria-label": `Remove ${schema.title} line ${index + 1}`,
          onclick: () => { pairs.splice(index, 1); redraw(`${pointer}/add`); },
        }, "Remove"));
    }));
    return kit.el("fieldset", { class: "field field-map" },
      kit.el("legend", { text: `${schema.title} (optional)` }), list, errorSlot(pointer),
      kit.el("button", {
        type: "button", class: "secondary add-row", id: slotId(`${pointer}/add`),
        "aria-label": `Add a line to ${schema.title}`,
        onclick: () => { pairs.push({ name: "", value: "" }); redraw(`${pointer}/#${pairs.length - 1}/name`); },
      }, "Add a line"));
  }

  // Rows added or removed: the form is drawn again from its values, focus kept near.
  function redraw(focus) {
    const d = open.form;
    const form = kit.el("form", { class: "event-form", "data-event": d.type, novalidate: true, autocomplete: "off" },
      kit.el("h3", { text: d.label }),
      d.to ? kit.el("p", { class: "muted", text: `Leads to: ${kit.states[d.to] || d.to}` }) : null,
      errorSlot("/data"),
      ...objectFields(d.schema, open.value, "/data", null),
      kit.el("p", { class: "row actions" },
        kit.el("button", { type: "submit", class: "record", text: `Record ${d.label.toLowerCase()}` }),
        kit.el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => close(true) })));
    form.addEventListener("submit", submit);
    if (open.node) open.node.replaceWith(form);
    else $("events").append(form);
    open.node = form;
    const target = typeof focus === "string" ? $(slotId(focus)) : null;
    if (target) target.focus();
    else if (focus === true) form.querySelector("input, select")?.focus();
  }

  // -- what a scan offers --------------------------------------------------------------

  async function offer(scan) {
    close(false);
    open.scan = scan;
    const box = $("events");
    const types = scan.allowed_events.filter((t) => t !== "collected");
    kit.show(box, types.length > 0);
    box.replaceChildren();
    if (!types.length) return;
    let known;
    try {
      known = await descriptors();
    } catch (err) {
      box.append(kit.el("p", { class: "notice bad", role: "alert", text: `The event forms did not load: ${err.message}` }));
      return;
    }
    if (open.scan !== scan) return; // another scan came first
    const buttons = types.filter((t) => known.has(t)).map((t) => kit.el("button", {
      type: "button", class: "secondary", "data-event": t, "aria-expanded": "false",
      onclick: () => start(known.get(t)),
    }, known.get(t).label));
    box.append(kit.el("div", { class: "offer", role: "group", "aria-labelledby": "offer-title" },
      kit.el("h3", { id: "offer-title", text: "Record" }), kit.el("div", { class: "row" }, ...buttons)));
  }

  async function start(descriptor) {
    close(false);
    const scan = open.scan;
    for (const b of $("events").querySelectorAll("[data-event]")) {
      b.setAttribute("aria-expanded", String(b.dataset.event === descriptor.type));
    }
    open.pending = descriptor;
    if (Object.values(descriptor.schema.properties).some((p) => solid(p)["x-org-roles"])) {
      open.orgs = await orgList();
    }
    if (open.pending !== descriptor || open.scan !== scan) return; // another choice came first
    open.form = descriptor;
    open.value = blank(descriptor.schema);
    redraw(true);
  }

  function close(refocus) {
    if (open.node) open.node.remove();
    open.node = open.form = open.value = open.idem = open.pending = null;
    for (const b of document.querySelectorAll("#events [data-event]")) b.setAttribute("aria-expanded", "false");
    if (refocus) $("scan-input").focus();
  }

  // A new scan, a failed one or signing out: nothing of the last item stays offered;
  // `recorded` also drops the note of what was recorded on it.
  function clear(recordedToo) {
    close(false);
    open.scan = null;
    $("events").replaceChildren();
    kit.show($("events"), false);
    if (recordedToo) {
      $("recorded").replaceChildren();
      delete $("recorded").dataset.event;
      kit.show($("recorded"), false);
    }
  }

  // -- sending it ----------------------------------------------------------------------

  async function submit(event) {
    event.preventDefault();
    const d = open.form;
    const item = open.scan.item;
    const form = open.node;
    clearProblems(form);
    const body = JSON.stringify({ type: d.type, data: collect(d.schema, open.value) });
    // A retry of the very same event reuses its key, so it is recorded once.
    if (!open.idem || open.idem.body !== body) open.idem = { body, key: kit.randomKey() };
    const button = form.querySelector("button.record");
    button.disabled = true;
    try {
      const out = await kit.api("POST", `/v1/items/${encodeURIComponent(item.id)}/events`, body,
        { "Idempotency-Key": open.idem.key });
      close(false);
      recorded(d, out);
      $("scan-input").focus();
      kit.onRecorded(out);
    } catch (err) {
      if (open.node === form) showProblem(form, err);
    } finally {
      button.disabled = false;
    }
  }

  function clearProblems(form) {
    for (const slot of form.querySelectorAll("[data-error-for]")) {
      slot.replaceChildren();
      kit.show(slot, false);
    }
    for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
  }

  // Each problem next to the field its pointer names, or the nearest part of the form that holds it.
  function showProblem(form, err) {
    const problem = err.problem || {};
    const listed = Array.isArray(problem.errors) && problem.errors.length ? problem.errors
      : [{ pointer: problem.pointer, detail: err.message }];
    let first = null;
    for (const { pointer, detail } of listed) {
      let at = typeof pointer === "string" && pointer.startsWith("/data") ? pointer : "/data";
      let slot = null;
      for (;;) {
        slot = form.querySelector(`[data-error-for="${CSS.escape(at)}"]`);
        if (slot || at === "/data") break;
        at = at.slice(0, at.lastIndexOf("/"));
      }
      const text = String(detail || "refused").replace(`${pointer}: `, "");
      slot.append(kit.el("span", { text: at === pointer || !pointer ? text : `${pointer.slice(at.length + 1)}: ${text}` }));
      slot.setAttribute("role", "alert");
      kit.show(slot, true);
      const input = form.querySelector(`[data-pointer="${CSS.escape(at)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      first = first || input || slot;
    }
    if (first && first.focus) first.focus();
  }

  function recorded(d, out) {
    const box = $("recorded");
    const entry = out.entry;
    const born = (out.entries || []).filter((e) => e.type === "registered" && e.item !== out.item.id);
    box.replaceChildren(...[
      kit.el("p", { class: "verdict ok", text: `${d.label}: recorded` }),
      kit.el("dl", { class: "facts" },
        kit.el("dt", { text: "Entry" }), kit.el("dd", { "data-field": "seq", text: `#${entry.seq}` }),
        kit.el("dt", { text: "Hash" }), kit.el("dd", { class: "mono", "data-field": "hash", text: entry.hash }),
        kit.el("dt", { text: "State" }), kit.el("dd", { "data-field": "state", text: kit.states[out.item.state] || out.item.state })),
      born.length ? kit.el("p", { text: born.length === 1 ? "New item:" : `${born.length} new items:` }) : null,
      born.length ? kit.el("ul", { class: "links" }, ...born.map((e) => kit.el("li", { "data-new-item": e.item },
        `${kit.kinds[e.data.kind] || e.data.kind} `, kit.el("span", { class: "code", text: e.data.code }), " ",
        kit.el("a", { href: `/p/${encodeURIComponent(e.item)}`, target: "_blank", rel: "noopener" }, "passport")))) : null,
    ].filter(Boolean));
    box.dataset.event = d.type;
    kit.show(box, true);
  }

  return { init, offer, clear };
})();
