// The scan station's camera: getUserMedia frames drawn on a canvas and decoded by
// zxing-wasm (vendored; its WebAssembly is compiled under the page's CSP by
// 'wasm-unsafe-eval'). `start(onText)` hands each QR code's text to `onText`; the
// station drops the repeats of a label the camera keeps seeing. Plain script.
"use strict";

window.RetraceCamera = (() => {
  const WASM_URL = "/static/vendor/zxing_wasm/reader/zxing_reader.wasm";
  const FRAME_MS = 150;
  const state = { stream: null, timer: null, decoding: false };

  const $ = (id) => document.getElementById(id);
  function show(node, visible) { node.classList.toggle("hidden", !visible); }

  function prepareDecoder() {
    if (!window.ZXingWASM) throw new Error("The QR decoder did not load; reload the page.");
    ZXingWASM.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path),
      },
      fireImmediately: true,
    });
  }

  async function start(onText) {
    const status = $("camera-status");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "This browser gives no camera here (it needs HTTPS); use the scanner field.";
      return;
    }
    try {
      prepareDecoder();
      state.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (err) {
      status.textContent = `No camera: ${err.message}`;
      return;
    }
    const video = $("camera-video");
    video.srcObject = state.stream;
    await video.play().catch(() => {});
    show($("camera"), true);
    show($("camera-start"), false);
    show($("camera-stop"), true);
    status.textContent = "Point the camera at a label.";
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    state.timer = setInterval(async () => {
      if (state.decoding || video.readyState < 2 || !video.videoWidth) return;
      state.decoding = true;
      try {
        const scale = Math.min(1, 960 / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        const frame = context.getImageData(0, 0, canvas.width, canvas.height);
        const found = await ZXingWASM.readBarcodes(frame, {
          formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1,
        });
        const hit = found.find((r) => r.isValid && r.text);
        if (hit) await onText(hit.text);
      } catch (err) {
        status.textContent = `Decoder: ${err.message}`;
      } finally {
        state.decoding = false;
      }
    }, FRAME_MS);
  }

  function stop() {
    clearInterval(state.timer);
    state.timer = null;
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    $("camera-video").srcObject = null;
    show($("camera"), false);
    show($("camera-start"), true);
    show($("camera-stop"), false);
    $("camera-status").textContent = "";
  }

  return { start, stop };
})();
