// Browser entry for the kernel self-test: acquires navigator.gpu, creates the engine's Gpu, runs the self-test
// and publishes the outcome twice: a visible table (for screenshots) and `window.__vilavtResult` (for the
// headless test in test/browser/). Platform-neutral: bundled by esbuild for the browser, no Node imports.
import { Gpu, type AdapterDescription, type GpuFeatures } from '../runtime/device.js';
import { runSelfTest } from '../selftest/index.js';

export interface SelfTestCase { name: string; ok: boolean; maxRelErr: number; detail?: string; skipped?: boolean }

export interface BrowserSelfTestReport {
  /** True when an adapter was found and every case passed. */
  ok: boolean;
  /** Adapter as the engine describes it (null when WebGPU or an adapter is missing). */
  adapter: AdapterDescription | null;
  /** Every feature the adapter offers (independent of what the engine chose to enable). */
  adapterFeatures: string[];
  /** What the engine enabled on its device. */
  engineFeatures: GpuFeatures | null;
  cases: SelfTestCase[];
  /** Set when the run could not complete (no WebGPU, no adapter, an exception). */
  error?: string;
  elapsedMs: number;
}

declare global {
  interface Window { __vilavtResult?: BrowserSelfTestReport }
}

async function run(): Promise<BrowserSelfTestReport> {
  const t0 = performance.now();
  const report: BrowserSelfTestReport = { ok: false, adapter: null, adapterFeatures: [], engineFeatures: null, cases: [], elapsedMs: 0 };
  let gpu: Gpu | undefined;
  try {
    if (!navigator.gpu) throw new Error('navigator.gpu is missing: WebGPU is disabled (Chromium needs --enable-unsafe-webgpu on Linux) or the page is not a secure context');
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
    report.adapterFeatures = [...adapter.features].sort();
    gpu = await Gpu.create({ gpu: navigator.gpu });
    report.adapter = gpu.adapter;
    report.engineFeatures = gpu.features;
    report.cases = (await runSelfTest(gpu)).map(({ name, ok, maxRelErr, detail, skipped }) => ({ name, ok, maxRelErr, detail, skipped }));
    report.ok = report.cases.length > 0 && report.cases.every((c) => c.ok);
  } catch (e) {
    report.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } finally {
    gpu?.destroy();
  }
  report.elapsedMs = Math.round(performance.now() - t0);
  return report;
}

function render(r: BrowserSelfTestReport): void {
  const el = (tag: string, text = '', style = '') => {
    const e = document.createElement(tag);
    e.textContent = text;
    if (style) e.setAttribute('style', style);
    return e;
  };
  const root = document.getElementById('app') ?? document.body;
  root.replaceChildren();
  root.append(el('h1', `ViLaVT WebGPU self-test: ${r.ok ? 'PASS' : 'FAIL'}`, `color:${r.ok ? '#070' : '#b00'}`));
  const a = r.adapter;
  root.append(el('p', a ? `Adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}${a.isFallbackAdapter ? ' (fallback)' : ''}` : 'Adapter: none'));
  if (r.engineFeatures) {
    const f = r.engineFeatures;
    root.append(el('p', `Engine features: shader-f16=${f.f16} subgroups=${f.subgroups} timestamp-query=${f.timestamp}`));
  }
  if (r.error) root.append(el('pre', r.error, 'color:#b00'));
  const table = el('table', '', 'border-collapse:collapse;font-family:monospace');
  const row = (cells: string[], head = false, ok = true) => {
    const tr = el('tr');
    for (const c of cells) tr.append(el(head ? 'th' : 'td', c, `border:1px solid #999;padding:2px 8px;${ok ? '' : 'color:#b00'}`));
    table.append(tr);
  };
  row(['case', 'result', 'max rel err', 'detail'], true);
  for (const c of r.cases) row([c.name, c.skipped ? 'skipped' : c.ok ? 'ok' : 'FAIL', c.maxRelErr.toExponential(2), c.detail ?? ''], false, c.ok);
  const skipped = r.cases.filter((c) => c.skipped).length;
  root.append(table, el('p', `${r.cases.length - skipped} cases run${skipped ? `, ${skipped} skipped (need shader-f16)` : ''} in ${r.elapsedMs} ms`));
  const json = el('pre', JSON.stringify(r));
  json.id = 'vilavt-result';
  json.hidden = true;
  root.append(json);
}

void run().then((r) => {
  render(r);
  window.__vilavtResult = r;
});
