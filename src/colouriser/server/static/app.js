"use strict";
// The colouriser page: pick / drop / paste a photo, upload it with progress, show before/after, download;
// then colour hints (click a spot, pick its colour, undo), alternative colourings and the confidence map.
// No libraries, no requests to other sites. The user's file name never leaves the browser.
(() => {
  const $ = (id) => document.getElementById(id);
  const pick = $("pick"), file = $("file"), busy = $("busy"), status = $("status"), progress = $("progress");
  const errorBox = $("error"), result = $("result"), compare = $("compare"), slider = $("slider");
  const before = $("before"), after = $("after"), download = $("download"), again = $("again");
  const hintMode = $("hint-mode"), undo = $("undo"), another = $("another"), showConfidence = $("show-confidence");
  const hintPanel = $("hint-panel"), hintColour = $("hint-colour"), markers = $("markers"), cursor = $("cursor");
  const overlay = $("confidence"), legend = $("legend"), editStatus = $("edit-status");
  const variantInfo = $("variant-info"), variantText = $("variant-text"), automatic = $("automatic");
  const VARIANTS = 6;  // alternatives offered by "Try another colouring" (the API allows 1 to 8)
  const EXTENSIONS = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/tiff": "tif",
                       "image/bmp": "bmp" };
  let limits = { max_upload_bytes: 20 * 1024 * 1024, max_pixels: 25000000 };
  let urls = [];
  let request = null;
  // The photo being edited: its bytes are resent with every change (the server keeps nothing).
  let photo = null;  // {file, format, name}
  let hints = [];  // [{x, y, colour}], x and y as fractions 0..1 of the photo's width and height
  let pending = null;  // the spot just clicked: {x, y, colour, committed}
  let variant = 0;
  const results = new Map();  // state key -> object URL of the colour result
  const maps = new Map();  // hints key -> object URL of the confidence map
  let editing = null;  // AbortController of the re-colouring request in flight
  let version = 0;  // counts the results shown (for tests and assistive status)
  let keyPoint = { x: 0.5, y: 0.5 };

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
    const format = /tiff?$/i.test(chosen.type) || /\.tiff?$/i.test(chosen.name || "") ? "png" : "";
    if (format) form.append("format", format);

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
        show(chosen, xhr.response, format);
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

  function show(original, colour, format) {
    forgetUrls();
    resetEdits();
    photo = { file: original, format: format, name: stem(original.name) };
    const afterUrl = URL.createObjectURL(colour);
    const beforeUrl = URL.createObjectURL(original);
    urls.push(afterUrl, beforeUrl);
    results.set(stateKey(), afterUrl);
    before.classList.remove("grey");
    before.onerror = () => {  // a format the browser cannot show (TIFF): its lightness is the result's
      before.onerror = null;
      before.classList.add("grey");
      before.src = afterUrl;
    };
    after.onload = () => {
      after.onload = shown;
      setPosition(50);
      setState("result");
      shown();
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
    download.download = photo.name + "-colour." + ext;
  }

  function shown() {
    version += 1;
    result.dataset.version = String(version);
    result.dataset.busy = "false";
    compare.removeAttribute("aria-busy");
  }

  // -- hints, alternatives and the confidence map -----------------------------------------------------------
  const hintsJson = () => JSON.stringify(hints.map((h) => ({
    x: (h.x * 100).toFixed(3) + "%", y: (h.y * 100).toFixed(3) + "%", colour: h.colour })));
  const stateKey = () => hintsJson() + "|" + variant;

  function resetEdits() {
    if (editing) editing.abort();
    editing = null;
    hints = [];
    pending = null;
    variant = 0;
    results.clear();
    maps.clear();
    showConfidence.checked = false;
    overlay.hidden = true;
    legend.hidden = true;
    setHintMode(false);
    hintPanel.hidden = true;
    editStatus.textContent = "";
    updateControls();
  }

  function updateControls() {
    undo.disabled = hints.length === 0 && !(pending && !pending.committed);
    variantInfo.hidden = variant === 0;
    variantText.textContent = "Alternative " + variant + " of " + VARIANTS + ": hints and the download use it.";
    another.textContent = variant === VARIANTS ? "Back to the first colouring" : "Try another colouring";
    markers.replaceChildren();
    const all = pending && !pending.committed ? hints.concat([pending]) : hints;
    all.forEach((h, i) => {
      const mark = document.createElement("span");
      mark.className = "marker" + (h === pending ? " pending" : "");
      mark.style.left = h.x * 100 + "%";
      mark.style.top = h.y * 100 + "%";
      mark.style.backgroundColor = h.colour;
      mark.textContent = String(i + 1);
      markers.appendChild(mark);
    });
  }

  function setHintMode(on) {
    hintMode.setAttribute("aria-pressed", String(on));
    compare.classList.toggle("hinting", on);
    slider.hidden = on;
    cursor.hidden = true;
    if (on) {
      setPosition(0);  // the whole photo in colour: hints are placed on the colour result
      compare.tabIndex = 0;
      compare.setAttribute("role", "application");
      compare.setAttribute("aria-label", "Photo: click a spot, or move the cross with the arrow keys and press " +
                           "Enter, to give that spot a colour");
    } else {
      compare.removeAttribute("tabindex");
      compare.removeAttribute("role");
      compare.removeAttribute("aria-label");
    }
  }

  let canvas = null, canvasSource = "";
  function colourAt(x, y) {
    // the current result's colour at a spot, read from a canvas copy of the displayed image
    const w = after.naturalWidth, h = after.naturalHeight;
    if (!w || !h) return "#808080";
    if (!canvas || canvasSource !== after.currentSrc) {
      canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      canvas.getContext("2d", { willReadFrequently: true }).drawImage(after, 0, 0);
      canvasSource = after.currentSrc;
    }
    const px = canvas.getContext("2d", { willReadFrequently: true })
      .getImageData(Math.round(x * (w - 1)), Math.round(y * (h - 1)), 1, 1).data;
    return "#" + [px[0], px[1], px[2]].map((v) => v.toString(16).padStart(2, "0")).join("");
  }

  function placeHint(x, y) {
    pending = { x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)), committed: false };
    pending.colour = colourAt(pending.x, pending.y);
    hintColour.value = pending.colour;
    hintPanel.hidden = false;
    updateControls();
    editStatus.textContent = "Spot chosen. Now choose its colour.";
    hintColour.focus({ preventScroll: true });
  }

  hintColour.addEventListener("input", () => {  // live marker colour while the picker is open
    if (!pending) return;
    pending.colour = hintColour.value;
    updateControls();
  });
  hintColour.addEventListener("change", () => {
    if (!pending) return;
    pending.colour = hintColour.value;
    if (!pending.committed) {
      pending.committed = true;
      hints.push(pending);
    }
    recolour();
  });

  hintMode.addEventListener("click", () => setHintMode(hintMode.getAttribute("aria-pressed") !== "true"));

  undo.addEventListener("click", () => {
    const unplaced = pending && !pending.committed;
    pending = null;
    hintPanel.hidden = true;
    if (unplaced) {  // a spot chosen but no colour given yet: just forget the spot
      updateControls();
      editStatus.textContent = describe();
      return;
    }
    if (!hints.length) return;
    hints.pop();
    recolour();
  });

  another.addEventListener("click", () => {
    variant = variant >= VARIANTS ? 0 : variant + 1;
    recolour();
  });
  automatic.addEventListener("click", () => {
    variant = 0;
    recolour();
    another.focus();
  });

  function describe() {
    const n = hints.length;
    const which = variant ? "alternative " + variant : "the first colouring";
    return "Showing " + which + (n ? " with " + n + " colour hint" + (n > 1 ? "s" : "") : "") + ".";
  }

  async function post(endpoint, extra, signal) {
    const form = new FormData();
    form.append("file", photo.file, "photo");
    if (photo.format) form.append("format", photo.format);
    if (hints.length) form.append("hints", hintsJson());
    Object.entries(extra).forEach(([k, v]) => form.append(k, v));
    let response;
    try {
      response = await fetch(endpoint, { method: "POST", body: form, signal: signal });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new Error("The connection to the server failed. Please check your connection and try again.");
    }
    if (!response.ok) {
      throw new Error(await explain({ status: response.status, response: await response.blob() }));
    }
    return response.blob();
  }

  async function recolour() {
    updateControls();
    if (editing) editing.abort();
    editing = null;
    const key = stateKey();
    if (results.has(key)) {
      display(results.get(key));
      return;
    }
    const controller = new AbortController();
    editing = controller;
    result.dataset.busy = "true";
    compare.setAttribute("aria-busy", "true");
    editStatus.textContent = "Colouring again\u2026";
    try {
      const blob = await post("/api/colourise", variant ? { variant: String(variant) } : {}, controller.signal);
      const url = URL.createObjectURL(blob);
      urls.push(url);
      results.set(key, url);
      if (editing === controller) display(url);
    } catch (e) {
      if (e.name === "AbortError") return;
      result.dataset.busy = "false";
      compare.removeAttribute("aria-busy");
      editStatus.textContent = "";
      showError(e.message);
    } finally {
      if (editing === controller) editing = null;
    }
  }

  function display(url) {
    showError("");
    if (after.src === url) shown();  // the same image again: no load event comes
    else after.src = url;
    download.href = url;
    editStatus.textContent = describe();
    if (showConfidence.checked) refreshConfidence();
  }

  async function refreshConfidence() {
    const key = hintsJson();
    legend.hidden = false;
    if (maps.has(key)) {
      overlay.src = maps.get(key);
      overlay.hidden = false;
      return;
    }
    try {
      const blob = await post("/api/confidence", {}, undefined);
      const url = URL.createObjectURL(blob);
      urls.push(url);
      maps.set(key, url);
      if (showConfidence.checked && hintsJson() === key) {
        overlay.src = url;
        overlay.hidden = false;
      }
    } catch (e) {
      showConfidence.checked = false;
      legend.hidden = true;
      showError(e.message);
    }
  }

  showConfidence.addEventListener("change", () => {
    if (showConfidence.checked) {
      refreshConfidence();
    } else {
      overlay.hidden = true;
      legend.hidden = true;
    }
  });

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
    if (compare.classList.contains("hinting")) {
      const box = compare.getBoundingClientRect();
      placeHint((e.clientX - box.left) / box.width, (e.clientY - box.top) / box.height);
      e.preventDefault();
      return;
    }
    dragging = true;
    compare.setPointerCapture(e.pointerId);
    fromPointer(e);
    e.preventDefault();
    slider.focus({ preventScroll: true });
  });
  compare.addEventListener("pointermove", (e) => { if (dragging) fromPointer(e); });
  const stop = () => { dragging = false; };
  compare.addEventListener("pointerup", stop);

  // The keyboard in hint mode: the arrows move a cross, Enter or Space places a hint under it.
  const moveCursor = () => {
    cursor.style.left = keyPoint.x * 100 + "%";
    cursor.style.top = keyPoint.y * 100 + "%";
  };
  compare.addEventListener("focus", () => {
    if (!compare.classList.contains("hinting")) return;
    cursor.hidden = false;
    moveCursor();
  });
  compare.addEventListener("blur", () => { cursor.hidden = true; });
  compare.addEventListener("keydown", (e) => {
    if (!compare.classList.contains("hinting") || e.target !== compare) return;
    const step = e.shiftKey ? 0.1 : 0.02;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      keyPoint = { x: Math.min(1, Math.max(0, keyPoint.x + moves[e.key][0])),
                   y: Math.min(1, Math.max(0, keyPoint.y + moves[e.key][1])) };
      cursor.hidden = false;
      moveCursor();
      e.preventDefault();
    } else if (e.key === "Enter" || e.key === " ") {
      placeHint(keyPoint.x, keyPoint.y);
      e.preventDefault();
    }
  });
  compare.addEventListener("pointercancel", stop);

  file.addEventListener("change", () => {
    start(file.files[0]);
    file.value = "";
  });

  again.addEventListener("click", () => {
    resetEdits();
    photo = null;
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
