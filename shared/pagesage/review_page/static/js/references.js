// Inline references: the box text rendered with its markers underlined, the box's reference
// list, adding a reference at the cursor (the marker is the selection, or the marker characters
// at the cursor) to a footnote matched by number, detection proposals to convert, the
// "referenced by" list of a box, and the trail of followed references (jump and back).

import * as api from "./api.js";
import { $, announce, clear, excerpt, h } from "./dom.js";
import { boxById, boxesInOrder, draftKey, selectedBox, state } from "./state.js";
import { cpLength, cpOffset, footnoteValue, markerAt, markerValue, utf16Index } from "./text.js";

const live = (ref) => !ref.isOrphaned;

/** Set up the reference panels; returns their controls. */
export function initReferences(ctx, editor) {
  const text = editor.textArea;
  const target = $("#ref-target");
  let chosenByHand = false;
  let lastMarker = null;
  let incomingFor = null;
  let loads = 0;

  // -- preview and list ------------------------------------------------------------------------

  function targetLabel(ref) {
    const box = boxById(ref.targetBoxId);
    if (box) return `${box.contentType} “${excerpt(box.text.corrected, 40)}”`;
    return ref.targetPageNumber ? `a box on page ${ref.targetPageNumber}` : `box ${ref.targetBoxId}`;
  }

  function renderPreview(box) {
    const preview = clear($("#box-preview"));
    const value = box.text.corrected;
    const refs = box.inlineReferences.filter(live).sort((a, b) => a.position.charOffset - b.position.charOffset);
    let at = 0;
    for (const ref of refs) {
      const start = utf16Index(value, ref.position.charOffset);
      const end = utf16Index(value, ref.position.charOffset + ref.position.length);
      if (start < at) continue;
      preview.append(value.slice(at, start));
      preview.append(h("a", { href: "#", class: `ref${ref.needsReview ? " needs-review" : ""}`, dataset: { referenceId: ref.referenceId },
                              title: `${ref.type} → ${targetLabel(ref)}${ref.needsReview ? ` (needs review: ${ref.reviewReason})` : ""}`,
                              onclick: (event) => { event.preventDefault(); follow(ref); } }, value.slice(start, end)));
      at = end;
    }
    preview.append(value.slice(at));
    if (state.drafts.has(draftKey(box.boxId))) preview.append(h("p", { class: "hint", text: "(the saved text: save to see your changes here)" }));
  }

  function renderList(box) {
    const list = clear($("#ref-list"));
    if (!box.inlineReferences.length) list.append(h("li", { class: "hint", text: "No references in this box." }));
    for (const ref of box.inlineReferences) {
      const flags = [ref.isOrphaned ? `orphaned (${ref.orphanedReason})` : null, ref.needsReview ? `needs review (${ref.reviewReason})` : null,
                     ref.createdBy === "ai" ? "detected" : null].filter(Boolean);
      list.append(h("li", { dataset: { referenceId: ref.referenceId }, class: ref.isOrphaned ? "orphaned" : null },
        h("span", { class: "marker", text: ref.displayText }), " → ", h("span", { text: targetLabel(ref) }),
        flags.length ? h("span", { class: "flags", text: ` · ${flags.join(", ")}` }) : null,
        h("span", { class: "actions" },
          live(ref) ? h("button", { type: "button", text: "Follow", onclick: () => follow(ref) }) : null,
          ref.isOrphaned || ref.needsReview ? h("button", { type: "button", text: "Confirm", onclick: () => confirmRef(box, ref) }) : null,
          h("button", { type: "button", text: "Remove", onclick: () => removeRef(box, ref) }))));
    }
  }

  function confirmRef(box, ref) {
    const { boxId } = box;
    ctx.perform("Confirm reference", () => api.patchReference(state.page.pageId, boxId, ref.referenceId, {}));
  }

  function removeRef(box, ref) {
    const { boxId } = box;
    ctx.perform("Remove reference", () => api.deleteReference(state.page.pageId, boxId, ref.referenceId));
  }

  // -- adding ----------------------------------------------------------------------------------

  function footnotes() {
    return boxesInOrder().filter((b) => b.contentType === "footnote");
  }

  function fillTargets() {
    const current = target.value;
    clear(target);
    target.append(h("option", { value: "", text: "— choose the note —" }));
    const notes = footnotes();
    const group = h("optgroup", { label: "Footnotes on this page" });
    notes.forEach((b) => group.append(h("option", { value: b.boxId, text: `${footnoteValue(b.text.corrected) ?? "?"} · ${excerpt(b.text.corrected, 40)}` })));
    target.append(group);
    const others = h("optgroup", { label: "Other boxes on this page" });
    boxesInOrder().filter((b) => b.contentType !== "footnote" && b.boxId !== state.selectedBoxId)
      .forEach((b) => others.append(h("option", { value: b.boxId, text: `${b.readingOrder} · ${b.contentType} · ${excerpt(b.text.corrected, 30)}` })));
    target.append(others);
    if (current && Array.from(target.options).some((o) => o.value === current)) target.value = current;
  }

  target.addEventListener("change", () => { chosenByHand = true; });

  /** The marker at the text area's cursor: {start, end} UTF-16, its text, its value. */
  function markerHere() {
    const at = markerAt(text.value, text.selectionStart, text.selectionEnd);
    if (!at) return null;
    const marker = text.value.slice(at.start, at.end);
    return { ...at, marker, value: markerValue(marker) };
  }

  function onCursor() {
    const found = markerHere();
    const markerText = found ? found.marker : "";
    $("#ref-marker").textContent = found ? `“${markerText}”` : "(select the marker in the text)";
    $("#ref-offset").textContent = found ? `code point ${cpOffset(text.value, found.start)}, length ${cpLength(markerText)}` : "";
    if (markerText !== lastMarker) {
      lastMarker = markerText;
      chosenByHand = false;
    }
    const match = found && found.value ? footnotes().find((b) => footnoteValue(b.text.corrected) === found.value) : null;
    $("#ref-match").textContent = match ? "matched by number" : "";
    if (match && !chosenByHand) target.value = match.boxId;
  }

  /** Add a reference from the marker at the cursor to the chosen note (saving the text first). */
  async function addAtCursor() {
    const box = selectedBox();
    if (!box) return;
    if (!(await editor.saveText())) return;
    const found = markerHere();
    if (!found) {
      announce("Select the marker in the text (or put the cursor on it) first", "error");
      text.focus();
      return;
    }
    onCursor();
    if (!target.value) {
      announce("Choose the note the reference points at", "error");
      target.focus();
      return;
    }
    const { boxId } = box;
    const body = { position: { charOffset: cpOffset(text.value, found.start), length: cpLength(found.marker) }, type: $("#ref-type").value,
                   targetBoxId: target.value, displayText: found.marker };
    await ctx.perform("Add reference", () => api.addReference(state.page.pageId, boxId, body));
  }

  $("#add-ref-form").addEventListener("submit", (event) => { event.preventDefault(); addAtCursor(); });

  // -- detection -------------------------------------------------------------------------------

  function renderProposals(answer) {
    const list = clear($("#proposals"));
    const found = [...answer.applied.map((r) => ({ ...r, confident: true })), ...answer.proposals];
    if (!found.length) list.append(h("li", { class: "hint", text: "Nothing new detected on this page." }));
    for (const item of found) {
      const boxId = item.boxId || ownerOf(item);
      const box = boxById(boxId);
      list.append(h("li", {},
        h("span", { class: "marker", text: item.displayText }), ` in ${box ? `${box.contentType} ${box.readingOrder}` : boxId} → `,
        item.targetBoxId ? targetLabel(item) : "no note found",
        item.confident ? " (confident)" : ` (${Math.round(item.confidence * 100)}%: ${item.reason})`,
        h("button", { type: "button", text: "Convert", onclick: () => convert(boxId, item) })));
    }
  }

  function ownerOf(ref) {
    const box = state.page.currentState.boundingBoxes.find((b) => b.text.corrected.length >= ref.position.charOffset
      && Array.from(b.text.corrected).slice(ref.position.charOffset, ref.position.charOffset + ref.position.length).join("") === ref.displayText);
    return box ? box.boxId : null;
  }

  async function convert(boxId, item) {
    const targetBoxId = item.targetBoxId || target.value;
    if (!boxId || !targetBoxId) {
      announce("Choose the note in the add-reference form first", "error");
      return;
    }
    const body = { position: item.position, type: item.type || "footnote", targetBoxId, displayText: item.displayText };
    if (await ctx.perform("Convert detected reference", () => api.addReference(state.page.pageId, boxId, body))) detect();
  }

  async function detect() {
    try {
      renderProposals(await api.detectReferences(state.page.pageId));
    } catch (error) {
      announce(`Detection failed: ${error.detail || error.message}`, "error");
    }
  }

  $("#detect-refs").addEventListener("click", detect);
  $("#apply-detected").addEventListener("click", async () => {
    if (await ctx.perform("Apply detected references", () => api.detectReferences(state.page.pageId, true))) detect();
  });

  // -- referenced by ---------------------------------------------------------------------------

  async function loadIncoming(box, { force = false } = {}) {
    const section = $("#incoming");
    const key = `${box.boxId}@${state.page.version}`;
    if (!force && box.contentType !== "footnote") {
      section.hidden = true;
      incomingFor = null;
      return;
    }
    section.hidden = false;
    if (incomingFor === key && !force) return;
    incomingFor = key;
    const load = ++loads;
    const list = $("#incoming-list");
    try {
      const answer = await api.incomingReferences(box.boxId);
      if (load !== loads) return; // a later load shows its own answer
      clear(list);
      if (!answer.incomingReferences.length) list.append(h("li", { class: "hint", text: "No reference points at this box." }));
      for (const ref of answer.incomingReferences) {
        list.append(h("li", { class: ref.isValid ? null : "orphaned" },
          h("span", { class: "marker", text: ref.displayText }), ` page ${ref.sourcePageNumber}: “${excerpt(ref.textExcerpt, 50)}”`,
          ref.isValid ? null : " (no longer valid)",
          h("button", { type: "button", text: "Jump", onclick: () => jump({ pageId: ref.sourcePageId, boxId: ref.sourceBoxId }) })));
      }
    } catch (error) {
      if (load === loads) clear(list).append(h("li", { class: "error", text: error.detail || error.message }));
    }
  }

  // -- navigation ------------------------------------------------------------------------------

  function here() {
    const box = selectedBox();
    return state.page ? { pageId: state.page.pageId, boxId: box ? box.boxId : null,
                          label: `p. ${state.page.pageNumber}${box ? ` ${box.contentType} ${box.readingOrder}` : ""}` } : null;
  }

  /** Go to `to` ({pageId, boxId}), remembering where we were (Alt+← comes back). */
  function jump(to) {
    const from = here();
    if (from) state.trail.push(from);
    renderTrail();
    ctx.goTo(to.pageId, to.boxId);
  }

  /** Follow `ref` (default: the reference at the cursor, else the box's first) to its target. */
  function follow(ref) {
    const box = selectedBox();
    if (!ref && box) {
      const offset = cpOffset(text.value, text.selectionStart);
      const refs = box.inlineReferences.filter(live);
      ref = refs.find((r) => r.position.charOffset <= offset && offset <= r.position.charOffset + r.position.length) || refs[0];
    }
    if (!ref) {
      announce("This box has no reference to follow", "error");
      return;
    }
    jump({ pageId: ref.targetPageId || state.page.pageId, boxId: ref.targetBoxId });
  }

  /** Go back along the trail (to `index`, default the last place). */
  function back(index = state.trail.length - 1) {
    if (index < 0 || !state.trail.length) {
      announce("Nothing to go back to", "error");
      return;
    }
    const to = state.trail[index];
    state.trail.length = index;
    renderTrail();
    ctx.goTo(to.pageId, to.boxId);
  }

  function renderTrail() {
    const nav = $("#trail");
    nav.hidden = state.trail.length === 0;
    const list = clear($("#trail-list"));
    state.trail.forEach((place, i) => list.append(h("li", {}, h("button", { type: "button", text: place.label, onclick: () => back(i) }))));
  }

  $("#trail-back").addEventListener("click", () => back());

  /** Show every reference pointing at the selected box. */
  function showIncoming() {
    const box = selectedBox();
    if (!box) return;
    ctx.showTab("box");
    loadIncoming(box, { force: true }).then(() => $("#incoming-h").focus());
  }

  // -- find a footnote by number ---------------------------------------------------------------

  const findForm = $("#find-footnote");
  function openFind() {
    findForm.hidden = false;
    $("#find-footnote-number").select();
    $("#find-footnote-number").focus();
  }

  findForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = $("#find-footnote-number").value.trim();
    const value = markerValue(raw) || raw;
    const onPage = footnotes().find((b) => footnoteValue(b.text.corrected) === value);
    if (onPage) {
      findForm.hidden = true;
      jump({ pageId: state.page.pageId, boxId: onPage.boxId });
      return;
    }
    for (const summary of state.pages) {
      if (summary.pageId === state.page.pageId) continue;
      try {
        const page = await api.getPageVersion(summary.pageId, summary.version);
        const note = page.currentState.boundingBoxes.find((b) => b.contentType === "footnote" && footnoteValue(b.text.corrected) === value);
        if (note) {
          findForm.hidden = true;
          jump({ pageId: page.pageId, boxId: note.boxId });
          return;
        }
      } catch { /* a page that cannot be read is skipped */ }
    }
    announce(`No footnote ${value} in this project`, "error");
  });
  $("#find-footnote-close").addEventListener("click", () => { findForm.hidden = true; });

  function render() {
    fillTargets();
    const box = selectedBox();
    if (!box) return;
    renderPreview(box);
    renderList(box);
    onCursor();
    loadIncoming(box);
  }

  return { render, onCursor, addAtCursor, follow, back, showIncoming, openFind, renderTrail };
}
