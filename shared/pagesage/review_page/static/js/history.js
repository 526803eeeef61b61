// Version history of the page: every version (who, when, what), a word diff of the box texts of
// any two versions (jsdiff), revert to a version, and undo/redo of the page's edits.
//
// Undo and redo are real edits: undo makes the state before the last edit the next version
// (`POST /pages/:id/revert`), redo makes the undone state the next version again. History is
// never rewritten; another person's edit in between starts a new undo chain.

import { diffWords } from "../vendor/diff/libesm/index.js";
import * as api from "./api.js";
import { $, announce, clear, h, when } from "./dom.js";
import { state } from "./state.js";

/** Set up the history panel and undo/redo; returns their controls. */
export function initHistory(ctx) {
  const cache = new Map(); // "<pageId>@<version>" -> PageAnnotations
  let entries = [];
  let shownFor = null;
  let loads = 0;
  // undo state: `cursor` is the version whose state the page now has; `expected` the version
  // our last edit made (another version number means someone else edited)
  let chain = { pageId: null, cursor: 0, expected: 0, redo: [] };

  async function pageAt(version) {
    const key = `${state.page.pageId}@${version}`;
    if (!cache.has(key)) cache.set(key, await api.getPageVersion(state.page.pageId, version));
    return cache.get(key);
  }

  async function load() {
    const key = `${state.page.pageId}@${state.page.version}`;
    if (shownFor === key) return;
    shownFor = key;
    const load = ++loads;
    let answer;
    try {
      answer = await api.versions(state.page.pageId);
    } catch (error) {
      announce(`History failed: ${error.detail || error.message}`, "error");
      shownFor = null;
      return;
    }
    if (load !== loads) return; // a later load shows its own answer
    entries = answer.versions;
    render();
  }

  function describe(entry) {
    const c = entry.changes;
    switch (c.action) {
      case "text_corrected": return `text of ${c.boxId}`;
      case "reverted": return `reverted to version ${c.toVersion}`;
      case "review_status_changed": return `review ${c.before} → ${c.after}`;
      case "merged": return `merged ${c.sourceBoxIds.length} boxes`;
      case "split": return `split ${c.sourceBoxId}`;
      case "reading_order_changed": return `reading order (${c.changes.length} boxes)`;
      case "auto_fixed": return `auto-fixed ${c.warningIds.length}`;
      default: return c.boxId ? `${c.action} ${c.boxId}` : c.action;
    }
  }

  function render() {
    const table = clear($("#versions"));
    const from = $("#diff-from");
    const to = $("#diff-to");
    clear(from);
    clear(to);
    for (const entry of [...entries].reverse()) {
      table.append(h("tr", { dataset: { version: String(entry.version) } },
        h("td", { text: String(entry.version) }), h("td", { text: when(entry.timestamp) }), h("td", { text: entry.editedBy.name }),
        h("td", { text: `${entry.changeType}: ${describe(entry)}${entry.note ? ` — ${entry.note}` : ""}` }),
        h("td", {},
          entry.version > 1 ? h("button", { type: "button", text: "Changes", onclick: () => compare(entry.version - 1, entry.version) }) : null,
          entry.version !== state.page.version ? h("button", { type: "button", text: "Revert to", onclick: () => revertTo(entry.version) }) : null)));
      from.append(h("option", { value: String(entry.version), text: `v${entry.version}` }));
      to.append(h("option", { value: String(entry.version), text: `v${entry.version}` }));
    }
    if (entries.length) {
      to.value = String(entries[entries.length - 1].version);
      from.value = String(Math.max(1, entries[entries.length - 1].version - 1));
    }
  }

  /** Show the word diff of every box's text between versions `a` and `b`. */
  async function compare(a, b) {
    const out = clear($("#diff"));
    out.append(h("p", { text: `Comparing version ${a} with version ${b}…` }));
    let left;
    let right;
    try {
      [left, right] = await Promise.all([pageAt(a), pageAt(b)]);
    } catch (error) {
      clear(out).append(h("p", { class: "error", text: error.detail || error.message }));
      return;
    }
    clear(out).append(h("h3", { text: `Version ${a} → version ${b}` }));
    const before = new Map(left.currentState.boundingBoxes.map((box) => [box.boxId, box]));
    const after = new Map(right.currentState.boundingBoxes.map((box) => [box.boxId, box]));
    const ids = [...[...after.values()].sort((x, y) => x.readingOrder - y.readingOrder).map((box) => box.boxId),
                 ...[...before.keys()].filter((id) => !after.has(id))];
    let changed = 0;
    for (const id of ids) {
      const x = before.get(id);
      const y = after.get(id);
      const notes = [];
      if (!x) notes.push("added");
      else if (!y) notes.push("removed");
      else {
        if (x.contentType !== y.contentType) notes.push(`type ${x.contentType} → ${y.contentType}`);
        if (x.readingOrder !== y.readingOrder) notes.push(`order ${x.readingOrder} → ${y.readingOrder}`);
        if (JSON.stringify(x.coordinates) !== JSON.stringify(y.coordinates)) notes.push("moved or resized");
        if (x.inlineReferences.length !== y.inlineReferences.length) notes.push(`references ${x.inlineReferences.length} → ${y.inlineReferences.length}`);
      }
      const oldText = x ? x.text.corrected : "";
      const newText = y ? y.text.corrected : "";
      if (!notes.length && oldText === newText) continue;
      changed += 1;
      const body = h("p", { class: "diff-text", lang: (y || x).language === "english" ? "en" : null });
      for (const part of diffWords(oldText, newText)) {
        body.append(part.added ? h("ins", { text: part.value }) : part.removed ? h("del", { text: part.value }) : part.value);
      }
      out.append(h("section", { class: "diff-box", dataset: { boxId: id } },
        h("h4", {}, h("code", { text: id }), notes.length ? ` · ${notes.join(", ")}` : ""), body));
    }
    if (!changed) out.append(h("p", { text: "No differences." }));
  }

  $("#compare").addEventListener("click", () => compare(Number($("#diff-from").value), Number($("#diff-to").value)));

  async function revertTo(version) {
    await ctx.perform(`Revert to version ${version}`, () => api.revert(state.page.pageId, version, `revert to version ${version}`));
  }

  // -- undo / redo -----------------------------------------------------------------------------

  /** Called after every load of the current page. */
  function pageLoaded() {
    const page = state.page;
    if (chain.pageId !== page.pageId || page.version !== chain.expected) {
      chain = { pageId: page.pageId, cursor: page.version, expected: page.version, redo: [] };
    }
    $("#undo").disabled = chain.cursor <= 1 || page.currentState.reviewStatus === "approved";
    $("#redo").disabled = chain.redo.length === 0 || page.currentState.reviewStatus === "approved";
    $("#undo").title = chain.cursor > 1 ? `Undo: make version ${chain.cursor - 1}'s state the next version (Ctrl+Z)` : "Nothing to undo";
    $("#redo").title = chain.redo.length ? `Redo: back to version ${chain.redo[chain.redo.length - 1]}'s state (Ctrl+Shift+Z)` : "Nothing to redo";
    if (!$("#panel-history").hidden) load();
  }

  /** Our own edit made version `version`: a new undo step, the redo list cleared. */
  function edited(version) {
    chain = { pageId: state.page.pageId, cursor: version, expected: version, redo: [] };
  }

  async function undo() {
    if (chain.cursor <= 1) return announce("Nothing to undo", "error");
    const target = chain.cursor - 1;
    const from = chain.cursor;
    const done = await ctx.perform("Undo", () => api.revert(state.page.pageId, target, `undo (back to version ${target})`),
      { history: (version) => { chain = { ...chain, cursor: target, expected: version, redo: [...chain.redo, from] }; } });
    return done;
  }

  async function redo() {
    if (!chain.redo.length) return announce("Nothing to redo", "error");
    const target = chain.redo[chain.redo.length - 1];
    const done = await ctx.perform("Redo", () => api.revert(state.page.pageId, target, `redo (version ${target})`),
      { history: (version) => { chain = { ...chain, cursor: target, expected: version, redo: chain.redo.slice(0, -1) }; } });
    return done;
  }

  $("#undo").addEventListener("click", undo);
  $("#redo").addEventListener("click", redo);

  return { load, compare, pageLoaded, edited, undo, redo, reset() { shownFor = null; clear($("#diff")); } };
}
