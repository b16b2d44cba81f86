// Uploads many photos at once, straight to storage through signed URLs.
// Big files go up in parts, so a dropped connection resumes with the missing parts only.
// Progress per file and for the batch, at most PARALLEL files at a time, retry and cancel.
// Each [data-upload] section is one uploader; its data-kind (photo, floor_plan, video) goes
// with every upload, and media checks the file's content against it.
(function () {
  "use strict";
  document.querySelectorAll("[data-upload]").forEach(uploader);
})();

function uploader(root) {
  "use strict";
  const kind = root.dataset.kind || "photo";
  const PARALLEL = 3;
  const PART_RETRIES = 3;
  // `complete` is idempotent: after a restart or a database outage (502/503/504, a lost
  // connection) it is sent again, as long as the server asks (Retry-After), about two minutes.
  const COMPLETE_TRIES = 8;
  const galleryId = root.dataset.gallery;
  const texts = JSON.parse(root.dataset.texts);
  const input = root.querySelector("input[type=file]");
  const zone = root.querySelector(".dropzone");
  const list = root.querySelector(".upload-list");
  const totalBar = root.querySelector(".upload-total progress");
  const totalText = root.querySelector(".upload-total .label");
  const jobs = [];
  let running = 0;

  class Failed extends Error {
    // `wait`: seconds after which the same request may succeed (the failure is passing).
    constructor(message, wait) { super(message); this.wait = wait; }
  }

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        credentials: "same-origin",
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      throw new Failed(texts.network, 2);
    }
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = (data && data.error) || {};
      const passing = [502, 503, 504].includes(response.status);
      const wait = passing ? Number(response.headers.get("retry-after")) || 2 : undefined;
      throw new Failed(error.message || texts.failed + " (" + response.status + ")", wait);
    }
    return data;
  }

  async function complete(job) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await api("POST", "/api/media/assets/" + job.assetId + "/complete");
      } catch (error) {
        if (job.cancelled || error.wait === undefined || attempt >= COMPLETE_TRIES) throw error;
        await sleep(Math.min(30, error.wait * attempt) * 1000);
      }
    }
  }

  function put(job, url, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open("PUT", url);
      xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Failed(texts.failed + " (" + xhr.status + ")")));
      xhr.onerror = () => reject(new Failed(texts.network));
      xhr.onabort = () => reject(new Failed(texts.cancelled));
      xhr.send(blob);
    });
  }

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  async function sendParts(job, plan) {
    const done = new Map(plan.uploaded.map((p) => [p.part_number, p.size]));
    const base = () => Array.from(done.values()).reduce((a, b) => a + b, 0);
    for (const part of plan.missing) {
      const start = (part.part_number - 1) * plan.part_size;
      const blob = job.file.slice(start, Math.min(start + plan.part_size, job.file.size));
      for (let attempt = 1; ; attempt++) {
        if (job.cancelled) throw new Failed(texts.cancelled);
        try {
          const before = base();
          await put(job, part.url, blob, (loaded) => progress(job, before + loaded));
          done.set(part.part_number, blob.size);
          break;
        } catch (error) {
          if (job.cancelled || attempt >= PART_RETRIES) throw error;
          await sleep(500 * 2 ** attempt);
        }
      }
    }
  }

  async function upload(job) {
    job.cancelled = false;
    show(job, "uploading", texts.uploading);
    if (!job.assetId) {
      const ticket = await api("POST", "/api/media/galleries/" + galleryId + "/uploads",
        { file_name: job.file.name, byte_size: job.file.size, kind: kind });
      job.assetId = ticket.asset_id;
      job.plan = ticket.multipart;
      job.url = ticket.upload_url;
    } else if (job.plan && !job.sent) {
      job.plan = await api("GET", "/api/media/assets/" + job.assetId + "/parts");
    }
    // A retry after the bytes went up (only `complete` failed) sends just `complete` again.
    if (!job.sent) {
      if (job.plan) {
        await sendParts(job, job.plan);
      } else {
        await put(job, job.url, job.file, (loaded) => progress(job, loaded));
      }
      job.sent = true;
    }
    progress(job, job.file.size);
    await complete(job);
    show(job, "done", texts.done);
    // The photo grid rests while nothing is in progress; this wakes it (and the panels below).
    document.body.dispatchEvent(new CustomEvent("pix:uploaded"));
  }

  function progress(job, loaded) {
    job.loaded = Math.min(loaded, job.file.size);
    job.bar.value = job.file.size ? job.loaded / job.file.size : 1;
    const size = jobs.reduce((sum, j) => sum + j.file.size, 0);
    const sent = jobs.reduce((sum, j) => sum + (j.loaded || 0), 0);
    totalBar.value = size ? sent / size : 0;
    totalText.textContent = Math.round(100 * totalBar.value) + " %";
  }

  function show(job, state, text) {
    job.state = state;
    job.row.dataset.state = state;
    job.status.textContent = text;
    job.retry.hidden = state !== "failed";
    job.cancel.hidden = !(state === "waiting" || state === "uploading");
  }

  function pump() {
    while (running < PARALLEL) {
      const job = jobs.find((j) => j.state === "waiting");
      if (!job) break;
      running++;
      upload(job)
        .catch((error) => show(job, job.cancelled ? "cancelled" : "failed", error.message))
        .finally(() => { running--; pump(); });
    }
  }

  function add(file) {
    const row = document.createElement("li");
    row.className = "upload";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "status small muted";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button small secondary";
    retry.textContent = texts.retry;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button small secondary";
    cancel.textContent = texts.cancel;
    row.append(name, bar, status, retry, cancel);
    list.append(row);
    const job = { file, row, bar, status, retry, cancel, loaded: 0 };
    retry.addEventListener("click", () => { show(job, "waiting", texts.waiting); pump(); });
    cancel.addEventListener("click", () => {
      job.cancelled = true;
      if (job.xhr) job.xhr.abort();
      if (job.state === "waiting") show(job, "cancelled", texts.cancelled);
    });
    jobs.push(job);
    show(job, "waiting", texts.waiting);
  }

  function addAll(files) {
    for (const file of files) add(file);
    root.querySelector(".upload-total").hidden = false;
    pump();
  }

  input.addEventListener("change", () => { addAll(input.files); input.value = ""; });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    addAll(event.dataTransfer.files);
  });
}
