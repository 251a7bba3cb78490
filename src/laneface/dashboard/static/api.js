// The JSON API of the service, called with the officer's API key (kept in sessionStorage only).

const KEY_NAME = "laneface.apiKey";
const BASE = new URL("../", window.location.href); // the dashboard lives at <service>/dashboard/

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export const session = {
  key() {
    return window.sessionStorage.getItem(KEY_NAME);
  },
  set(key) {
    window.sessionStorage.setItem(KEY_NAME, key);
  },
  clear() {
    window.sessionStorage.removeItem(KEY_NAME);
    images.clear();
    documentPhotos.clear();
    boothThumbnails.clear();
  },
};

let onUnauthenticated = () => {};

/** Called when the service answers 401 to a signed-in request (key revoked or rotated). */
export function setUnauthenticatedHandler(handler) {
  onUnauthenticated = handler;
}

function url(path, params) {
  const target = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(name, String(item));
  }
  return target;
}

async function errorOf(response) {
  let code = "error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") message = body.message;
    if (body && typeof body.error === "string") code = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

async function request(path, { method = "GET", params, body, key, signal, accept } = {}) {
  const apiKey = key ?? session.key();
  const headers = { Accept: accept ?? "application/json" };
  if (apiKey) headers["X-API-Key"] = apiKey;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path, params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal,
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, "network", "The service cannot be reached. Check the connection and try again.");
  }
  if (response.status === 401 && key === undefined) onUnauthenticated();
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJSON(path, params, options = {}) {
  const response = await request(path, { params, ...options });
  return response.json();
}

export async function postJSON(path, body) {
  const response = await request(path, { method: "POST", body });
  return response.json();
}

/**
 * Server-sent events read with fetch (EventSource cannot send the API key): calls onEvent(name, data) for each
 * event until the stream ends (resolves) or fails (rejects); abort with the signal.
 */
export async function readEvents(path, params, onEvent, signal) {
  const response = await request(path, { params, signal, accept: "text/event-stream" });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  }
}

// Face images and document photos: each read is audited by the service, so each image is fetched once per
// signed-in session and shown from an object URL afterwards (auto-refresh does not read it again).
function imageCache(pathOf) {
  return {
    cache: new Map(),
    resolved: new Map(),
    get(id) {
      if (!this.cache.has(id)) {
        const pending = request(pathOf(id), {})
          .then((response) => response.blob())
          .then((blob) => {
            const objectURL = URL.createObjectURL(blob);
            this.resolved.set(id, objectURL);
            return objectURL;
          });
        pending.catch(() => this.cache.delete(id));
        this.cache.set(id, pending);
      }
      return this.cache.get(id);
    },
    clear() {
      for (const objectURL of this.resolved.values()) URL.revokeObjectURL(objectURL);
      this.resolved.clear();
      this.cache.clear();
    },
  };
}

const images = imageCache((occupantPk) => `/v1/occupants/${encodeURIComponent(occupantPk)}/face-image`);
const documentPhotos = imageCache((docId) => `/v1/documents/${encodeURIComponent(docId)}/photo`);
// booth thumbnails by "lane/passage_id/occupant": the passage in the key, so the next vehicle's seat 1 is read anew
const boothThumbnails = imageCache((key) => {
  const [lane, , occupant] = key.split("/");
  return `/v1/booth/${encodeURIComponent(lane)}/thumbnails/${encodeURIComponent(occupant)}`;
});

/** A promise of an object URL of a booth occupant's thumbnail (audited; read once per session). */
export function boothThumbnailURL(lane, passageId, occupant) {
  return boothThumbnails.get(`${lane}/${passageId}/${occupant}`);
}

/** A promise of an object URL of a document's enrolled photo (officers only; read once per session). */
export function documentPhotoURL(docId) {
  return documentPhotos.get(docId);
}

/** A promise of an object URL of the occupant's best shot (read once, then cached for the session). */
export function faceImageURL(occupantPk) {
  return images.get(occupantPk);
}

/** The object URL when the image was already read, else null. */
export function cachedFaceImageURL(occupantPk) {
  return images.resolved.get(occupantPk) ?? null;
}
