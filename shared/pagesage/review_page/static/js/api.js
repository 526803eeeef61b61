// The review page's only way to the server: the /api/v1 HTTP API (docs/book.md, "API").
//
// * Every write of a page carries `If-Match` with the page's ETag (its `commitSha`), kept per
//   page from the last GET of the current page or the last successful write. A stale write
//   answers 412 (`current_version` in the body): the ETag is then NOT replaced, so nothing is
//   ever written over someone else's edit without the reader choosing to.
// * Errors are the API's JSON body (`detail`, `error_code`, `field`, `current_version`) as an
//   `ApiError`.
// * The page sends no identity: the server names the caller (a signed identity in Google
//   Cloud, the configured user locally).

const ROOT = (document.querySelector('meta[name="pagesage-api"]') || {}).content || "/api/v1";

/** An answer other than 2xx: `status`, and the JSON error body's fields. */
export class ApiError extends Error {
  constructor(status, body, method, path) {
    super(body.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body.error_code || null;
    this.detail = body.detail || `HTTP ${status}`;
    this.field = body.field || null;
    this.currentVersion = body.current_version || null;
    this.method = method;
    this.path = path;
  }

  /** True for a write based on a version that is no longer the page's (412, or a 409 text conflict). */
  get isStale() {
    return this.status === 412 || this.code === "text_conflict";
  }
}

const etags = new Map(); // pageId -> '"<commitSha>"'

/** The ETag a write of `pageId` is sent with, or undefined. */
export const etagOf = (pageId) => etags.get(pageId);

/**
 * `method path` with a JSON `body`; resolves to the parsed JSON answer (text when it is not
 * JSON, or with `raw`).
 * `page`: the page id whose ETag goes in `If-Match` (writes) or is taken from the answer
 * (`track`: a GET of the current page).
 */
export async function call(method, path, { body, page, track = false, accept = "application/json", raw = false } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (page && method !== "GET" && etags.has(page)) headers["If-Match"] = etags.get(page);
  let response;
  try {
    response = await fetch(ROOT + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                          credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, { detail: `the server cannot be reached (${error.message})`, error_code: "network" }, method, path);
  }
  const type = response.headers.get("Content-Type") || "";
  const text = await response.text();
  let parsed = text;
  if (type.includes("json") && !(raw && response.ok)) {
    try { parsed = JSON.parse(text); } catch { parsed = {}; }
  }
  if (!response.ok) {
    throw new ApiError(response.status, typeof parsed === "object" ? parsed : { detail: String(parsed).slice(0, 300) }, method, path);
  }
  const etag = response.headers.get("ETag");
  if (page && etag && (track || method !== "GET")) etags.set(page, etag);
  return parsed;
}

const enc = encodeURIComponent;

// -- projects and pages -------------------------------------------------------------------------

export const listProjects = (cursor) => call("GET", `/projects?limit=100${cursor ? `&cursor=${enc(cursor)}` : ""}`);
export const getProject = (projectId) => call("GET", `/projects/${enc(projectId)}`);
export const listPages = (projectId) => call("GET", `/projects/${enc(projectId)}/pages`);
/** The current page; its ETag is kept for the next write. */
export const getPage = (pageId) => call("GET", `/pages/${enc(pageId)}`, { page: pageId, track: true });
/** The page as of version `version` (its ETag is not kept: writes go to the current version). */
export const getPageVersion = (pageId, version) => call("GET", `/pages/${enc(pageId)}?version=${version}`);
/** The URL of the page image (PNG or JPEG). */
export const pageImageUrl = (pageId) => `${ROOT}/pages/${enc(pageId)}/image`;

// -- edits (each with If-Match) -----------------------------------------------------------------

const P = (pageId) => `/pages/${enc(pageId)}`;
const B = (pageId, boxId) => `${P(pageId)}/boxes/${enc(boxId)}`;

export const correctText = (pageId, boxId, oldText, newText, note = "") =>
  call("PUT", `${B(pageId, boxId)}/text`, { page: pageId, body: { oldText, newText, note } });
export const patchBox = (pageId, boxId, patch) => call("PATCH", B(pageId, boxId), { page: pageId, body: patch });
export const addBox = (pageId, draft) => call("POST", `${P(pageId)}/boxes`, { page: pageId, body: draft });
export const deleteBox = (pageId, boxId) => call("DELETE", B(pageId, boxId), { page: pageId });
export const mergeBoxes = (pageId, boxIds) => call("POST", `${P(pageId)}/boxes/merge`, { page: pageId, body: { boxIds } });
export const splitBox = (pageId, boxId, charOffset) => call("POST", `${B(pageId, boxId)}/split`, { page: pageId, body: { charOffset } });
export const setReadingOrder = (pageId, boxIds) => call("PUT", `${P(pageId)}/reading-order`, { page: pageId, body: { boxIds } });
export const addReference = (pageId, boxId, draft) =>
  call("POST", `${B(pageId, boxId)}/inline-references`, { page: pageId, body: draft });
export const patchReference = (pageId, boxId, referenceId, patch) =>
  call("PATCH", `${B(pageId, boxId)}/inline-references/${enc(referenceId)}`, { page: pageId, body: patch });
export const deleteReference = (pageId, boxId, referenceId) =>
  call("DELETE", `${B(pageId, boxId)}/inline-references/${enc(referenceId)}`, { page: pageId });
/** Detection: `apply` false lists proposals only (no write); true applies the confident ones. */
export const detectReferences = (pageId, apply = false) =>
  call("POST", `${P(pageId)}/detect-references`, apply ? { page: pageId, body: { apply: true } } : { body: {} });
export const revert = (pageId, version, note = "") => call("POST", `${P(pageId)}/revert`, { page: pageId, body: { version, note } });
export const setReviewStatus = (pageId, reviewStatus, note = "") =>
  call("PUT", `${P(pageId)}/review-status`, { page: pageId, body: { reviewStatus, note } });
export const autoFix = (pageId, warningIds) =>
  call("POST", `${P(pageId)}/auto-fix`, { page: pageId, body: warningIds ? { warningIds } : { confirmAll: true } });

// -- reads ----------------------------------------------------------------------------------------

export const versions = (pageId) => call("GET", `${P(pageId)}/versions`);
export const validatePage = (pageId) => call("POST", `${P(pageId)}/validate`);
export const incomingReferences = (boxId) => call("GET", `/boxes/${enc(boxId)}/incoming-references`);
export const outgoingReferences = (boxId) => call("GET", `/boxes/${enc(boxId)}/outgoing-references`);
/** The OCR words of a page result (provenance API); they expire with the job that made them. */
export const ocrResult = (pageResultId) => call("GET", `/ocr/page_results/${enc(pageResultId)}/full`);

// -- exports --------------------------------------------------------------------------------------

export const createExport = (projectId, config) => call("POST", `/projects/${enc(projectId)}/exports`, { body: config });
export const listExports = (projectId) => call("GET", `/projects/${enc(projectId)}/exports`);
export const exportFileUrl = (projectId, exportId) => `${ROOT}/projects/${enc(projectId)}/exports/${enc(exportId)}/file`;
export const exportFileText = (projectId, exportId) =>
  call("GET", `/projects/${enc(projectId)}/exports/${enc(exportId)}/file`, { accept: "*/*", raw: true });
