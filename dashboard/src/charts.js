// Chart.js with only the parts the pages use (bundled; nothing loads from elsewhere).
import { BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);
Chart.defaults.font.family = "system-ui, sans-serif";
Chart.defaults.color = "#222";
Chart.defaults.animation = false;

const live = new Set();
const pending = [];

/** Charts of the page being left are destroyed. */
export function destroyCharts() {
  for (const chart of live) chart.destroy();
  live.clear();
  pending.length = 0;
}

/** Draw the charts made since the last call whose canvas is now in the document. */
export function mountCharts() {
  for (const [canvas, config] of pending.splice(0)) {
    if (canvas.isConnected) live.add(new Chart(canvas, config));
  }
}

/** A chart in a figure with a text alternative. */
export function chart(label, config, height = 260) {
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  const box = document.createElement("div");
  box.className = "chart";
  box.style.height = `${height}px`;
  box.append(canvas);
  pending.push([canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, ...(config.options || {}) } }]);
  return box;
}
