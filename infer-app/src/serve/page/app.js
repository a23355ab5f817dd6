// The page's behaviour: get an image (file, drop, paste, drawing, example), ask
// /api/v1/recognize, show lines with their boxes and doubtful words, send flags.
"use strict";

const $ = (id) => document.getElementById(id);
const DOUBTFUL = 0.5; // a word whose weakest character is below this is marked
let current = { dataUrl: null, image: null, reading: null };

function setStatus(text) { $("status").textContent = text; }

async function readDataUrl(dataUrl, layout) {
  current = { dataUrl, image: null, reading: null };
  $("flag-submit").disabled = true;
  $("flag-status").textContent = "";
  const img = new Image();
  img.onload = () => { current.image = img; draw(); };
  img.src = dataUrl;
  setStatus("Reading…");
  $("lines").replaceChildren();
  try {
    const res = await fetch("/api/v1/recognize", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ image: dataUrl, layout: layout || $("layout").value }),
    });
    const body = await res.json();
    if (!res.ok) { setStatus(`Could not read it: ${body.message || res.status}`); return; }
    current.reading = body;
    show(body);
  } catch (e) {
    setStatus(`Could not reach the server: ${e}`);
  }
}

function fileToDataUrl(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

async function readFile(file, layout) {
  if (!file) return;
  readDataUrl(await fileToDataUrl(file), layout);
}

function show(reading) {
  const list = $("lines");
  list.replaceChildren();
  for (const line of reading.lines.length ? reading.lines : [{ text: reading.text, words: [], confidence: reading.confidence }]) {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.className = "text";
    if (line.words && line.words.length) {
      line.words.forEach((w, i) => {
        if (i) text.append(" ");
        if (w.confidence < DOUBTFUL) {
          const m = document.createElement("mark");
          m.textContent = w.text;
          m.title = `confidence ${Math.round(100 * w.confidence)} %`;
          text.append(m);
        } else {
          text.append(w.text);
        }
      });
    } else {
      text.textContent = line.text || "(nothing)";
    }
    li.append(text);
    if (line.confidence != null) {
      const c = document.createElement("span");
      c.className = "conf";
      c.textContent = `${Math.round(100 * line.confidence)} %`;
      c.setAttribute("aria-label", `confidence ${Math.round(100 * line.confidence)} percent`);
      li.append(c);
    }
    list.append(li);
  }
  const n = reading.lines.length;
  const conf = reading.confidence != null ? `, ${Math.round(100 * reading.confidence)} % confident` : "";
  setStatus(`Read ${n} line${n === 1 ? "" : "s"} in ${Math.round(reading.latency_ms)} ms${conf}.`);
  $("copy").disabled = $("download").disabled = false;
  $("flag-submit").disabled = false;
  $("correction").value = reading.text;
  draw();
}

// The image with the line boxes over it.
function draw() {
  const img = current.image;
  if (!img) return;
  const view = $("view");
  view.width = img.naturalWidth;
  view.height = img.naturalHeight;
  const ctx = view.getContext("2d");
  ctx.drawImage(img, 0, 0);
  $("preview").hidden = false;
  const lines = current.reading ? current.reading.lines : [];
  const scale = Math.max(1, img.naturalWidth / 600);
  ctx.lineWidth = 2 * scale;
  ctx.font = `${14 * scale}px system-ui, sans-serif`;
  lines.forEach((l, i) => {
    const [x, y, w, h] = l.box;
    ctx.strokeStyle = l.confidence < DOUBTFUL ? "#d97706" : "#1a56db";
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(String(i + 1), x + 3 * scale, y + 15 * scale);
  });
}

// Upload, drop, paste.
$("file").addEventListener("change", (e) => readFile(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  readFile(e.dataTransfer.files[0]);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData || {}).items || []].find((i) => i.type.startsWith("image/"));
  if (item) readFile(item.getAsFile());
});

// Tabs.
function selectTab(name) {
  for (const t of ["upload", "draw"]) {
    $(`tab-${t}`).setAttribute("aria-selected", String(t === name));
    $(`${t}-pane`).hidden = t !== name;
  }
}
$("tab-upload").addEventListener("click", () => selectTab("upload"));
$("tab-draw").addEventListener("click", () => selectTab("draw"));

// Drawing with mouse, pen or finger.
const pad = $("pad");
const pctx = pad.getContext("2d");
function clearPad() { pctx.fillStyle = "#fff"; pctx.fillRect(0, 0, pad.width, pad.height); }
clearPad();
let drawing = false;
function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  pctx.beginPath();
  pctx.moveTo(...padPoint(e));
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  pctx.lineWidth = 5; pctx.lineCap = "round"; pctx.lineJoin = "round"; pctx.strokeStyle = "#111";
  pctx.lineTo(...padPoint(e));
  pctx.stroke();
});
pad.addEventListener("pointerup", () => { drawing = false; });
$("pad-clear").addEventListener("click", clearPad);
$("pad-read").addEventListener("click", () => readDataUrl(pad.toDataURL("image/png"), "line"));

// Examples.
async function loadExamples() {
  try {
    const examples = await (await fetch("/api/v1/examples")).json();
    const list = $("examples");
    for (const ex of examples) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "example";
      b.dataset.name = ex.name;
      const img = document.createElement("img");
      img.src = `/examples/${encodeURIComponent(ex.name)}`;
      img.alt = `Example ${ex.layout}: ${ex.reference}`;
      const caption = document.createElement("span");
      caption.textContent = ex.layout === "paragraph" ? "A paragraph" : "A line";
      b.append(img, caption);
      b.addEventListener("click", async () => {
        const blob = await (await fetch(img.src)).blob();
        $("layout").value = ex.layout;
        readFile(blob, ex.layout);
      });
      li.append(b);
      list.append(li);
    }
  } catch (e) {
    $("examples").textContent = "Examples could not be loaded.";
  }
}
loadExamples();

// Copy and download.
$("copy").addEventListener("click", async () => {
  if (!current.reading) return;
  try {
    await navigator.clipboard.writeText(current.reading.text);
    setStatus("Copied to the clipboard.");
  } catch (e) {
    setStatus("The browser refused the clipboard; select the text instead.");
  }
});
$("download").addEventListener("click", () => {
  if (!current.reading) return;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([current.reading.text + "\n"], { type: "text/plain" }));
  a.download = "reading.txt";
  a.click();
  URL.revokeObjectURL(a.href);
});

// Flagging.
$("flag-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current.reading) return;
  const flag = new FormData($("flag-form")).get("flag");
  const correction = $("correction").value;
  const r = current.reading;
  $("flag-submit").disabled = true;
  try {
    const res = await fetch("/api/v1/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        flag,
        correction: correction !== r.text ? correction : null,
        request_id: r.request_id,
        text: r.text,
        model: r.model,
        image: current.dataUrl,
      }),
    });
    const body = await res.json();
    $("flag-status").textContent = res.ok ? `Thank you: stored as #${body.id}.` : `Not stored: ${body.message}`;
  } catch (err) {
    $("flag-status").textContent = `Not stored: ${err}`;
  } finally {
    $("flag-submit").disabled = false;
  }
});

// Which model answers.
fetch("/readyz").then((r) => r.json()).then((b) => { $("model").textContent = `Model: ${b.model}${b.status === "ready" ? "" : " (warming up)"}.`; }).catch(() => {});
