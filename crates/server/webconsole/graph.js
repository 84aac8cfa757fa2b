// Live traffic graph on a <canvas>: two lines (received, sent) in bytes per
// second over the last samples. Own code, about 60 lines, no library.

import { fmtBytes } from './ui.js';

export class TrafficGraph {
  constructor(canvas, maxSamples = 60) {
    this.canvas = canvas;
    this.max = maxSamples;
    this.samples = []; // { t: ms, rx: B/s, tx: B/s }
    this.last = null; // { t, rx, tx } totals of the previous poll
  }

  /** Adds the server's total byte counters read at time `t` (ms). */
  push(t, rxTotal, txTotal) {
    if (this.last && t > this.last.t) {
      const dt = (t - this.last.t) / 1000;
      this.samples.push({
        t,
        rx: Math.max(0, (rxTotal - this.last.rx) / dt),
        tx: Math.max(0, (txTotal - this.last.tx) / dt),
      });
      if (this.samples.length > this.max) this.samples.shift();
    }
    this.last = { t, rx: rxTotal, tx: txTotal };
    this.draw();
  }

  draw() {
    const c = this.canvas;
    c.dataset.samples = String(this.samples.length);
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, c.clientWidth), hgt = Math.max(1, c.clientHeight);
    if (c.width !== Math.round(w * ratio)) c.width = Math.round(w * ratio);
    if (c.height !== Math.round(hgt * ratio)) c.height = Math.round(hgt * ratio);
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const top = Math.max(1024, ...this.samples.map((s) => Math.max(s.rx, s.tx))) * 1.1;
    const pad = 4, left = 4, bottom = hgt - 16;
    g.strokeStyle = '#d0d7de';
    g.fillStyle = '#57606a';
    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad + ((bottom - pad) * i) / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
    }
    g.fillText(fmtBytes(top) + '/s', left + 2, pad + 11);
    g.fillText(this.samples.length ? 'last ' + this.samples.length + ' samples' : 'waiting for samples…', left + 2, hgt - 3);
    const x = (i) => left + ((w - left) * i) / Math.max(1, this.max - 1);
    const y = (v) => bottom - ((bottom - pad) * v) / top;
    for (const [key, color] of [['rx', '#1d4f91'], ['tx', '#d1242f']]) {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      const off = this.max - this.samples.length;
      this.samples.forEach((s, i) => (i ? g.lineTo(x(off + i), y(s[key])) : g.moveTo(x(off + i), y(s[key]))));
      g.stroke();
    }
  }
}
