export interface PlotSeries {
  name: string;
  points: { x: number; y: number }[];
}

export interface Panel {
  title: string;
  yLabel: string;
  series: PlotSeries[];
  /** Draw the y axis on a log10 scale (latencies spanning ms to s). */
  logY?: boolean;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A dependency-free SVG line chart: stacked panels sharing the x axis (seconds), one legend. */
export function renderSvg(title: string, xLabel: string, panels: Panel[]): string {
  const width = 960;
  const panelH = 240;
  const left = 70;
  const right = 190;
  const top = 40;
  const gap = 50;
  const height = top + panels.length * (panelH + gap) + 10;
  const plotW = width - left - right;
  const allX = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.x)));
  const xMax = Math.max(1, ...allX);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const color = (name: string) => COLORS[names.indexOf(name) % COLORS.length]!;
  panels.forEach((panel, pi) => {
    const y0 = top + pi * (panelH + gap);
    const ys = panel.series
      .flatMap((s) => s.points.map((p) => p.y))
      .filter((v) => Number.isFinite(v) && v > 0);
    const rawMax = Math.max(1, ...ys);
    const rawMin = panel.logY ? Math.max(1, Math.min(...ys, rawMax)) : 0;
    const lo = panel.logY ? 10 ** Math.floor(Math.log10(rawMin)) : 0;
    const hi = panel.logY ? 10 ** Math.ceil(Math.log10(rawMax * 1.01)) : niceMax(rawMax);
    const sx = (x: number) => left + (x / xMax) * plotW;
    const sy = (y: number) => {
      const f = panel.logY
        ? (Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
        : y / hi;
      return y0 + panelH - f * panelH;
    };
    out.push(`<text x="${left}" y="${y0 - 8}" font-weight="bold">${esc(panel.title)}</text>`);
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="none" stroke="#999"/>`);
    const ticks = panel.logY
      ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i)
      : Array.from({ length: 5 }, (_, i) => (hi * i) / 4);
    for (const t of ticks) {
      const y = sy(t);
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
      out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${fmtTick(t)}</text>`);
    }
    for (let i = 0; i <= 5; i++) {
      const x = (xMax * i) / 5;
      out.push(`<text x="${sx(x)}" y="${y0 + panelH + 16}" text-anchor="middle">${fmtTick(x)}</text>`);
    }
    out.push(
      `<text transform="translate(${left - 52},${y0 + panelH / 2}) rotate(-90)" text-anchor="middle">${esc(panel.yLabel)}</text>`,
    );
    out.push(
      `<text x="${left + plotW / 2}" y="${y0 + panelH + 32}" text-anchor="middle">${esc(xLabel)}</text>`,
    );
    for (const s of panel.series) {
      const pts = s.points.filter((p) => Number.isFinite(p.y));
      if (pts.length === 0) continue;
      const d = pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
      out.push(`<polyline fill="none" stroke="${color(s.name)}" stroke-width="1.8" points="${d}"/>`);
    }
  });
  names.forEach((n, i) => {
    const y = top + 10 + i * 18;
    out.push(`<rect x="${width - right + 15}" y="${y - 9}" width="14" height="4" fill="${color(n)}"/>`);
    out.push(`<text x="${width - right + 35}" y="${y - 4}">${esc(n)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v: number): string {
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}
