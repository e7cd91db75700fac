// FluxKit: draw the sigma schedule on FluxKit's scheduler nodes after they run.
// The Python nodes send their sigmas as the UI output `fluxkit_sigmas` (a list of floats, last one 0).
import { app } from "../../scripts/app.js";

const SCHEDULER_NODES = new Set(["FluxKitTurboScheduler", "FluxKitDMD2Scheduler"]);
const PLOT_W = 300;
const PLOT_H = 140;

function drawSigmas(canvas, sigmas) {
  const ctx = canvas.getContext("2d");
  const pad = 24;
  const top = Math.max(...sigmas, 1e-6);
  const x = (i) => pad + (i * (PLOT_W - 2 * pad)) / Math.max(sigmas.length - 1, 1);
  const y = (s) => PLOT_H - pad - (s / top) * (PLOT_H - 2 * pad);
  ctx.clearRect(0, 0, PLOT_W, PLOT_H);
  ctx.fillStyle = "#1e1e24";
  ctx.fillRect(0, 0, PLOT_W, PLOT_H);
  ctx.strokeStyle = "#666";
  ctx.beginPath();
  ctx.moveTo(pad, pad);
  ctx.lineTo(pad, PLOT_H - pad);
  ctx.lineTo(PLOT_W - pad, PLOT_H - pad);
  ctx.stroke();
  ctx.strokeStyle = "#c86dd7";
  ctx.lineWidth = 2;
  ctx.beginPath();
  sigmas.forEach((s, i) => (i ? ctx.lineTo(x(i), y(s)) : ctx.moveTo(x(i), y(s))));
  ctx.stroke();
  ctx.fillStyle = "#eee";
  ctx.font = "10px sans-serif";
  sigmas.forEach((s, i) => ctx.fillRect(x(i) - 2, y(s) - 2, 4, 4));
  ctx.fillText(`σ max ${top.toFixed(3)}`, pad + 4, pad - 8);
  ctx.fillText(`${sigmas.length - 1} steps`, PLOT_W - pad - 44, pad - 8);
}

app.registerExtension({
  name: "FluxKit.SigmaPlot",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!SCHEDULER_NODES.has(nodeData.name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      const result = onExecuted?.apply(this, arguments);
      const sigmas = output?.fluxkit_sigmas;
      if (!Array.isArray(sigmas) || sigmas.length === 0) return result;
      if (!this.fluxkitPlot) {
        const canvas = document.createElement("canvas");
        canvas.className = "fluxkit-sigma-plot";
        canvas.width = PLOT_W;
        canvas.height = PLOT_H;
        canvas.title = "FluxKit: sigma per step";
        this.fluxkitPlot = canvas;
        this.addDOMWidget("fluxkit_sigma_plot", "fluxkit_plot", canvas, {
          serialize: false,
          getMinHeight: () => PLOT_H + 10,
        });
        this.setSize([Math.max(this.size[0], PLOT_W + 20), this.computeSize()[1]]);
      }
      drawSigmas(this.fluxkitPlot, sigmas);
      this.fluxkitPlot.dataset.sigmas = JSON.stringify(sigmas);
      app.graph.setDirtyCanvas(true, true);
      return result;
    };
  },
});
