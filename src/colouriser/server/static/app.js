"use strict";
// The colouriser page: pick / drop / paste a photo, upload it with progress, show before/after, download.
// No libraries, no requests to other sites. The user's file name never leaves the browser.
(() => {
  const $ = (id) => document.getElementById(id);
  const pick = $("pick"), file = $("file"), busy = $("busy"), status = $("status"), progress = $("progress");
  const errorBox = $("error"), result = $("result"), compare = $("compare"), slider = $("slider");
  const before = $("before"), after = $("after"), download = $("download"), again = $("again");
  const EXTENSIONS = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/tiff": "tif",
                       "image/bmp": "bmp" };
  let limits = { max_upload_bytes: 20 * 1024 * 1024, max_pixels: 25000000 };
  let urls = [];
  let request = null;

  const megabytes = (n) => {
    const mb = n / (1024 * 1024);
    return (mb >= 10 ? Math.round(mb) : Math.round(mb * 10) / 10) + " MB";
  };

  fetch("/api/limits").then((r) => (r.ok ? r.json() : null)).then((j) => {
    if (j && j.max_upload_bytes) {
      limits = j;
      $("limit-mb").textContent = megabytes(j.max_upload_bytes);
    }
  }).catch(() => {});

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function setState(state) {
    pick.hidden = state === "busy";
    busy.hidden = state !== "busy";
    result.hidden = state !== "result";
    document.body.dataset.state = state;
  }

  function forgetUrls() {
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [];
  }

  function stem(name) {
    const base = (name || "photo").replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
    return base.replace(/[^\w\- ]+/g, "_").slice(0, 80) || "photo";
  }

  async function explain(xhr) {
    let detail = "";
    try {
      const text = await xhr.response.text();
      detail = JSON.parse(text).detail || "";
    } catch (e) { /* not JSON: fall back on the status */ }
    if (detail) return detail;
    switch (xhr.status) {
      case 413: return "This photo is too large. Please choose a smaller one.";
      case 415: return "This file is not a photo we can read. Please choose a JPEG, PNG, TIFF, WebP or BMP image.";
      case 422: return "This photo cannot be coloured. It may be damaged or too small.";
      case 429: return "You have sent many photos in a short time. Please wait a minute and try again.";
      case 502: case 503: return "The service is busy right now. Please try again in a few seconds.";
      case 504: return "Colouring took too long. Please try again, or with a smaller photo.";
      default: return "Something went wrong (error " + xhr.status + "). Please try again.";
    }
  }

  function start(chosen) {
    if (!chosen) return;
    showError("");
    if (request) request.abort();
    if (chosen.size === 0) {
      showError("This file is empty. Please choose a photo.");
      return;
    }
    if (chosen.size > limits.max_upload_bytes) {
      showError("This file is " + megabytes(chosen.size) + ", more than the limit of " +
                megabytes(limits.max_upload_bytes) + ". Please choose a smaller photo.");
      return;
    }
    if (chosen.type && !chosen.type.startsWith("image/")) {
      showError("This file is not a photo. Please choose a JPEG, PNG, TIFF, WebP or BMP image.");
      return;
    }
    const form = new FormData();
    form.append("file", chosen, "photo");  // a neutral name: the real one stays here
    if (/tiff?$/i.test(chosen.type) || /\.tiff?$/i.test(chosen.name || "")) form.append("format", "png");

    const xhr = new XMLHttpRequest();
    request = xhr;
    xhr.open("POST", "/api/colourise");
    xhr.responseType = "blob";
    xhr.timeout = 180000;
    progress.value = 0;
    status.textContent = "Uploading your photo\u2026";
    setState("busy");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        progress.value = Math.round((e.loaded / e.total) * 100);
        status.textContent = "Uploading your photo\u2026 " + progress.value + "%";
      }
    };
    xhr.upload.onload = () => {
      progress.removeAttribute("value");  // indeterminate while the photo is coloured
      status.textContent = "Colouring your photo\u2026 this takes a few seconds.";
    };
    xhr.onload = async () => {
      request = null;
      if (xhr.status === 200) {
        show(chosen, xhr.response);
      } else {
        setState("pick");
        showError(await explain(xhr));
      }
    };
    xhr.onerror = () => {
      request = null;
      setState("pick");
      showError("The connection to the server failed. Please check your connection and try again.");
    };
    xhr.ontimeout = () => {
      request = null;
      setState("pick");
      showError("The server took too long to answer. Please try again in a moment.");
    };
    xhr.send(form);
  }

  function show(original, colour) {
    forgetUrls();
    const afterUrl = URL.createObjectURL(colour);
    const beforeUrl = URL.createObjectURL(original);
    urls.push(afterUrl, beforeUrl);
    before.classList.remove("grey");
    before.onerror = () => {  // a format the browser cannot show (TIFF): its lightness is the result's
      before.onerror = null;
      before.classList.add("grey");
      before.src = afterUrl;
    };
    after.onload = () => {
      setPosition(50);
      setState("result");
      $("result-title").focus();
    };
    after.onerror = () => {
      setState("pick");
      showError("The colour photo came back in a format this browser cannot show. Please try a JPEG or PNG.");
    };
    before.src = beforeUrl;
    after.src = afterUrl;
    const ext = EXTENSIONS[colour.type] || "jpg";
    download.href = afterUrl;
    download.download = stem(original.name) + "-colour." + ext;
  }

  function setPosition(percent) {
    const p = Math.min(100, Math.max(0, percent));
    slider.value = String(p);
    compare.style.setProperty("--pos", p + "%");
  }

  slider.addEventListener("input", () => setPosition(Number(slider.value)));

  // Pointer dragging anywhere on the photo (mouse, pen or finger); the range input serves the keyboard.
  let dragging = false;
  const fromPointer = (e) => {
    const box = compare.getBoundingClientRect();
    setPosition(((e.clientX - box.left) / box.width) * 100);
  };
  compare.addEventListener("pointerdown", (e) => {
    dragging = true;
    compare.setPointerCapture(e.pointerId);
    fromPointer(e);
    e.preventDefault();
    slider.focus({ preventScroll: true });
  });
  compare.addEventListener("pointermove", (e) => { if (dragging) fromPointer(e); });
  const stop = () => { dragging = false; };
  compare.addEventListener("pointerup", stop);
  compare.addEventListener("pointercancel", stop);

  file.addEventListener("change", () => {
    start(file.files[0]);
    file.value = "";
  });

  again.addEventListener("click", () => {
    forgetUrls();
    before.removeAttribute("src");
    after.removeAttribute("src");
    showError("");
    setState("pick");
    file.focus();
  });

  // Drag and drop anywhere on the page.
  let depth = 0;
  document.addEventListener("dragenter", (e) => { e.preventDefault(); depth += 1; pick.classList.add("over"); });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) pick.classList.remove("over"); });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    pick.classList.remove("over");
    const dropped = e.dataTransfer && e.dataTransfer.files[0];
    if (dropped) start(dropped);
    else showError("Nothing to colour was dropped. Please drop a photo file.");
  });

  // Paste a copied image or image file.
  document.addEventListener("paste", (e) => {
    const items = e.clipboardData ? Array.from(e.clipboardData.items) : [];
    const item = items.find((i) => i.kind === "file");
    if (item) {
      e.preventDefault();
      start(item.getAsFile());
    }
  });

  $("result-title").tabIndex = -1;
  setState("pick");
})();
