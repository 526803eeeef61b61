// The review page: routing by the URL's hash, loading projects and pages, and every write
// through `perform` (the page reloaded after it, a stale write shown as a conflict that keeps
// the reader's change).
//
//   #/projects                                  the project list
//   #/projects/<projectId>                      its pages, the review queue, exports
//   #/projects/<projectId>/pages/<pageId>[/boxes/<boxId>]   the page, a box selected

import * as api from "./api.js";
import { $, $$, announce, clear, h } from "./dom.js";
import { initEditor } from "./editor.js";
import { initExports } from "./exports.js";
import { initHistory } from "./history.js";
import { showProject, showProjects } from "./projects.js";
import { initReferences } from "./references.js";
import { initShortcuts } from "./shortcuts.js";
import { boxById, boxesInOrder, draftKey, on, selectedBox, state } from "./state.js";
import { initValidation } from "./validation.js";
import { createViewer } from "./viewer.js";

const views = { projects: $("#projects-view"), project: $("#project-view"), page: $("#page-view") };
const current = { view: null, pageId: null };
let viewer = null;
let conflict = null; // {label, op, options} of the write that met a newer version
let wordsFor = null;

const ctx = { perform, selectBox, goTo, reload: reloadPage, showTab };
const editor = initEditor(ctx);
const references = initReferences(ctx, editor);
const validation = initValidation(ctx);
const history = initHistory(ctx);
const exportsPanel = initExports();
on("cursor", () => references.onCursor());

// -- writes -------------------------------------------------------------------------------------

/**
 * Run the write `op` (a function returning the API call's promise), then reload the page.
 * A write based on an old version (412, or 409 text_conflict) is shown in #conflict with the
 * reader's change kept; another refusal is announced (and given to `onError`). Resolves to the
 * answer, or null when nothing was written.
 */
async function perform(label, op, options = {}) {
  hideConflict();
  announce(`${label}…`);
  let result;
  try {
    result = await op();
  } catch (error) {
    if (error instanceof api.ApiError && error.isStale) {
      await showConflict(label, op, options);
      return null;
    }
    const detail = error instanceof api.ApiError ? `${error.detail} (${error.status}${error.code ? ` ${error.code}` : ""})` : error.message;
    if (options.onError && error instanceof api.ApiError) options.onError(error);
    await reloadPage().catch(() => {});
    announce(`${label} failed: ${detail}`, "error");
    return null;
  }
  if (options.onSuccess) options.onSuccess(result);
  const version = result && result.versionNumber;
  if (options.history) options.history(version);
  else if (version) history.edited(version);
  await reloadPage();
  announce(`${label}: saved as version ${state.page.version}`, "ok");
  return result || {};
}

async function showConflict(label, op, options) {
  conflict = { label, op, options };
  let now = "";
  try {
    const entries = (await api.versions(state.page.pageId)).versions;
    const latest = entries[entries.length - 1];
    now = ` It is now version ${latest.version} (${latest.changeType} by ${latest.editedBy.name}).`;
  } catch { /* the message stands without it */ }
  $("#conflict-message").textContent = `“${label}” was not saved: someone changed this page since you loaded it.${now} `
    + "Your unsaved text is kept. Reload the page and apply your change to the new version, or discard your change.";
  $("#conflict").hidden = false;
  announce(`${label} not saved: the page changed meanwhile`, "error");
  $("#conflict-reapply").focus();
}

function hideConflict() {
  $("#conflict").hidden = true;
}

$("#conflict-reapply").addEventListener("click", async () => {
  const pending = conflict;
  conflict = null;
  hideConflict();
  await reloadPage();
  if (pending) await perform(pending.label, pending.op, pending.options);
});
$("#conflict-discard").addEventListener("click", async () => {
  conflict = null;
  hideConflict();
  const box = selectedBox();
  if (box) state.drafts.delete(draftKey(box.boxId));
  await reloadPage();
  announce("Your change was discarded; the page shows the latest version", "ok");
});

// -- pages --------------------------------------------------------------------------------------

async function reloadPage() {
  if (!current.pageId) return;
  const page = await api.getPage(current.pageId);
  if (page.pageId !== current.pageId) return;
  state.page = page;
  if (state.selectedBoxId && !boxById(state.selectedBoxId)) state.selectedBoxId = null;
  const summary = state.pages.find((p) => p.pageId === page.pageId);
  if (summary) {
    Object.assign(summary, { reviewStatus: page.currentState.reviewStatus, confidence: page.currentState.confidence, version: page.version,
                             commitSha: page.commitSha, boxCount: page.currentState.boundingBoxes.length });
  }
  renderPage();
}

function renderPage() {
  const page = state.page;
  viewer.show(api.pageImageUrl(page.pageId), boxesInOrder());
  if (state.selectedBoxId) viewer.select(state.selectedBoxId);
  const status = $("#page-status");
  status.textContent = page.currentState.reviewStatus;
  status.className = `badge status-${page.currentState.reviewStatus}`;
  $("#page-version").textContent = `version ${page.version}`;
  const select = clear($("#page-select"));
  for (const summary of state.pages) {
    select.append(h("option", { value: summary.pageId, selected: summary.pageId === page.pageId, text: `${summary.pageNumber}` }));
  }
  const index = state.pages.findIndex((p) => p.pageId === page.pageId);
  $("#prev-page").disabled = index <= 0;
  $("#next-page").disabled = index < 0 || index >= state.pages.length - 1;
  crumbs([["Projects", "#/projects"], [state.project.title, projectHash()], [`Page ${page.pageNumber}`, null]]);
  document.title = `p. ${page.pageNumber} · ${state.project.title} · PageSage review`;
  editor.render();
  references.render();
  validation.render();
  history.pageLoaded();
}

function projectHash(projectId = state.project.projectId) {
  return `#/projects/${encodeURIComponent(projectId)}`;
}

function pageHash(pageId, boxId) {
  return `${projectHash()}/pages/${encodeURIComponent(pageId)}${boxId ? `/boxes/${encodeURIComponent(boxId)}` : ""}`;
}

/** Select `boxId` (null: none); `pan` brings it into view, `focus` puts the keyboard in its text. */
function selectBox(boxId, { pan = false, focus = false } = {}) {
  if (boxId !== state.selectedBoxId) {
    state.selectedBoxId = boxId;
    window.history.replaceState(null, "", pageHash(state.page.pageId, boxId));
    editor.render();
    references.render();
  }
  if (boxId && viewer) viewer.select(boxId, { pan });
  if (focus) editor.focusText();
}

/** Show `boxId` of `pageId`, opening that page when it is another. */
function goTo(pageId, boxId) {
  if (pageId === current.pageId) selectBox(boxId, { pan: true });
  else window.location.hash = pageHash(pageId, boxId);
}

async function loadWords(page) {
  if (wordsFor === page.pageId) return;
  wordsFor = page.pageId;
  const ids = [...new Set(page.currentState.boundingBoxes.map((b) => b.ocrSource && b.ocrSource.pageResultId).filter(Boolean))];
  const words = [];
  let missing = 0;
  for (const id of ids) {
    try {
      const result = await api.ocrResult(id);
      for (const token of result.tokens) words.push({ text: token.text, bbox: token.bbox, confidence: token.confidence });
    } catch {
      missing += 1; // the OCR provenance expires with its job: no word overlays then
    }
  }
  if (wordsFor !== page.pageId) return;
  state.tokens = words;
  viewer.setWords(words);
  $("#words-state").textContent = words.length ? `${words.length} words` : missing ? "OCR words expired" : "no OCR words";
}

async function openPage(pageId, boxId) {
  showView("page");
  if (!viewer) {
    viewer = createViewer($("#viewer"), {
      onSelect: (id) => selectBox(id),
      onChange: (id, coordinates) => {
        const box = boxById(id);
        if (!box || JSON.stringify({ ...box.coordinates, rotation: undefined }) === JSON.stringify({ ...coordinates, rotation: undefined })) return;
        const rotation = box.coordinates.rotation;
        perform("Move or resize box", () => api.patchBox(state.page.pageId, id, { coordinates: rotation == null ? coordinates : { ...coordinates, rotation } }));
      },
      onDraw: (coordinates, temporaryId) => drawn(coordinates, temporaryId),
      onError: (message) => announce(message, "error"),
    });
  }
  if (current.pageId !== pageId) {
    validation.reset();
    history.reset();
    state.selectedBoxId = null;
    hideConflict();
  }
  current.pageId = pageId;
  await reloadPage();
  if (boxId && boxById(boxId)) selectBox(boxId, { pan: true });
  loadWords(state.page);
}

async function drawn(coordinates, temporaryId) {
  setDrawing(false);
  const language = (state.project.languages || [])[0] || "english";
  const result = await perform("Draw box", () => api.addBox(state.page.pageId, { coordinates, contentType: $("#draw-type").value, language }));
  if (!result) viewer.discard(temporaryId);
  else if (result.createdBoxIds && result.createdBoxIds[0]) {
    showTab("box");
    selectBox(result.createdBoxIds[0], { focus: true });
  }
}

function setDrawing(enabled) {
  $("#draw-box").setAttribute("aria-pressed", String(enabled));
  $("#draw-box").textContent = enabled ? "Drawing: drag on the image (click to stop)" : "Draw box";
  if (viewer) viewer.setDrawing(enabled);
}

$("#draw-box").addEventListener("click", () => setDrawing($("#draw-box").getAttribute("aria-pressed") !== "true"));
$("#show-words").addEventListener("change", (event) => viewer && viewer.setWordsVisible(event.target.checked));
$("#show-order").addEventListener("change", (event) => viewer && viewer.setOrderVisible(event.target.checked));
$("#page-select").addEventListener("change", (event) => goTo(event.target.value, null));
$("#prev-page").addEventListener("click", () => stepPage(-1));
$("#next-page").addEventListener("click", () => stepPage(1));

function stepPage(step) {
  const index = state.pages.findIndex((p) => p.pageId === current.pageId);
  const next = state.pages[index + step];
  if (next) goTo(next.pageId, null);
  else announce(step > 0 ? "This is the last page" : "This is the first page", "error");
}

function stepBox(step) {
  const ordered = boxesInOrder();
  if (!ordered.length) return;
  const index = ordered.findIndex((b) => b.boxId === state.selectedBoxId);
  const next = index < 0 ? ordered[step > 0 ? 0 : ordered.length - 1] : ordered[index + step];
  if (next) selectBox(next.boxId, { pan: true });
  else announce(step > 0 ? "This is the last box" : "This is the first box");
}

// -- views, tabs, routing -----------------------------------------------------------------------

function showView(name) {
  current.view = name;
  for (const [key, element] of Object.entries(views)) element.hidden = key !== name;
  const slot = name === "page" ? $("#panel-export") : $("#project-exports");
  if ($("#exports").parentElement !== slot) slot.append($("#exports"));
}

/** Show the side panel `name` ("box", "boxes", "check", "history", "export"). */
function showTab(name) {
  for (const tab of $$('[role="tab"]')) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
  }
  if (name === "history") history.load();
  if (name === "export") exportsPanel.load();
}

for (const tab of $$('[role="tab"]')) {
  tab.addEventListener("click", () => showTab(tab.dataset.tab));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const tabs = $$('[role="tab"]');
    const next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    showTab(next.dataset.tab);
    next.focus();
  });
}

function crumbs(items) {
  const nav = clear($("#crumbs"));
  const list = h("ol");
  for (const [label, href] of items) list.append(h("li", {}, href ? h("a", { href, text: label }) : h("span", { "aria-current": "page", text: label })));
  nav.append(list);
}

async function ensureProject(projectId, { refresh = false } = {}) {
  if (!state.project || state.project.projectId !== projectId || refresh) {
    const [project, pages] = await Promise.all([api.getProject(projectId), api.listPages(projectId)]);
    state.project = project;
    state.pages = pages.items.sort((a, b) => a.pageNumber - b.pageNumber);
  }
}

async function route() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] !== "projects" || parts.length < 2) {
      current.pageId = null;
      showView("projects");
      crumbs([["Projects", null]]);
      document.title = "Projects · PageSage review";
      await showProjects();
      return;
    }
    const onPage = parts[2] === "pages" && parts[3];
    await ensureProject(parts[1], { refresh: !onPage });
    if (onPage) {
      await openPage(parts[3], parts[4] === "boxes" ? parts[5] : null);
      return;
    }
    current.pageId = null;
    showView("project");
    crumbs([["Projects", "#/projects"], [state.project.title, null]]);
    document.title = `${state.project.title} · PageSage review`;
    showProject(state.project, state.pages);
    exportsPanel.load();
  } catch (error) {
    announce(error instanceof api.ApiError ? `${error.detail} (${error.status})` : error.message, "error");
  }
}

initShortcuts({
  pageOpen: () => current.view === "page" && Boolean(state.page),
  save: () => editor.saveText(),
  addReference: () => { showTab("box"); references.addAtCursor(); },
  findFootnote: () => { showTab("box"); references.openFind(); },
  showIncoming: () => references.showIncoming(),
  follow: () => references.follow(),
  back: () => references.back(),
  undo: () => history.undo(),
  redo: () => history.redo(),
  leaveEditor: () => {
    document.activeElement.blur();
    const canvas = $("#viewer .openseadragon-canvas");
    if (canvas) canvas.focus();
  },
  box: stepBox,
  page: stepPage,
  edit: () => {
    if (!selectedBox()) stepBox(1);
    showTab("box");
    editor.focusText();
  },
});

window.addEventListener("beforeunload", (event) => {
  if (state.drafts.size) event.preventDefault();
});
window.addEventListener("hashchange", route);

/** For scripts and tests driving the page: its state and the viewer's objects. */
window.pagesage = {
  state,
  get viewer() { return viewer && viewer.viewer; },
  get annotator() { return viewer && viewer.annotator; },
};

route();
