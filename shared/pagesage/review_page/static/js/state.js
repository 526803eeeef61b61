// The page's state and a tiny event bus: modules read `state` and re-render on events.

/** What the reader has open. Records are the API's JSON (camelCase). */
export const state = {
  project: null, // Project
  pages: [], // PageSummary[] by page number
  page: null, // PageAnnotations (current version)
  selectedBoxId: null,
  drafts: new Map(), // "<pageId>/<boxId>" -> unsaved text
  tokens: [], // OCR words of the page: {text, bbox: {x, y, w, h}, confidence 0-100}
  trail: [], // reference navigation: [{pageId, boxId, label}]
};

const listeners = new Map();

/** Call `listener(...args)` on every `emit(event, ...args)`. */
export function on(event, listener) {
  if (!listeners.has(event)) listeners.set(event, []);
  listeners.get(event).push(listener);
}

/** Tell the listeners of `event`. */
export function emit(event, ...args) {
  for (const listener of listeners.get(event) || []) listener(...args);
}

/** The page's boxes in reading order. */
export function boxesInOrder() {
  const boxes = state.page ? state.page.currentState.boundingBoxes : [];
  return [...boxes].sort((a, b) => a.readingOrder - b.readingOrder);
}

/** The box `boxId` of the open page, or undefined. */
export function boxById(boxId) {
  return state.page ? state.page.currentState.boundingBoxes.find((b) => b.boxId === boxId) : undefined;
}

/** The selected box, or undefined. */
export function selectedBox() {
  return boxById(state.selectedBoxId);
}

/** The key of a box's unsaved text in `state.drafts`. */
export function draftKey(boxId, pageId = state.page && state.page.pageId) {
  return `${pageId}/${boxId}`;
}
