// Opens MissionPulse's Superset dashboards in headless Chromium, waits for every chart,
// records each chart's data responses and any error shown, and saves a full-page screenshot.
//
//   node bi/browser/check_dashboards.mjs BASE_URL OUT_DIR SLUG [SLUG ...]
//   (login from MISSIONPULSE_BI_USER / MISSIONPULSE_BI_PASSWORD; browser from CHROMIUM, default
//    /usr/bin/chromium; playwright-core from NODE_PATH, installed by `make setup-bi`)
//
// Writes OUT_DIR/report.json: {dashboards: [{slug, title, charts, rendered, errors,
// responses: [{slice_id, status, rowcount, sample}], screenshot}]}.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [base, outDir, ...slugs] = process.argv.slice(2);
if (!base || !outDir || slugs.length === 0) {
  console.error('usage: check_dashboards.mjs BASE_URL OUT_DIR SLUG [SLUG ...]');
  process.exit(2);
}
const user = process.env.MISSIONPULSE_BI_USER || 'admin';
const password = process.env.MISSIONPULSE_BI_PASSWORD || '';
const timeoutMs = Number(process.env.MISSIONPULSE_BI_TIMEOUT_MS || 120000);
fs.mkdirSync(outDir, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1600, height: 1200 } });
const page = await context.newPage();
const report = { base, dashboards: [] };

async function login() {
  await page.goto(new URL('/login/', base).href, { waitUntil: 'domcontentloaded' });
  const name = page.locator('input#username, input[name="username"]').first();
  await name.waitFor({ timeout: timeoutMs });
  await name.fill(user);
  await page.locator('input#password, input[name="password"]').first().fill(password);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.startsWith('/login'), { timeout: timeoutMs }),
    page.locator('button[type="submit"], input[type="submit"]').first().click(),
  ]);
}

async function checkDashboard(slug) {
  const responses = [];
  const pending = [];
  const onResponse = (response) => {
    if (!response.url().includes('/api/v1/chart/data')) return;
    pending.push((async () => {
      let sliceId = null;
      try {
        const body = response.request().postDataJSON();
        sliceId = body?.form_data?.slice_id ?? null;
      } catch { /* not JSON */ }
      let rowcount = null;
      let sample = null;
      try {
        const json = await response.json();
        const first = (json.result || [])[0] || {};
        rowcount = first.rowcount ?? (first.data || []).length;
        sample = (first.data || []).slice(0, 3);
      } catch { /* not JSON */ }
      responses.push({ slice_id: sliceId, status: response.status(), rowcount, sample });
    })());
  };
  page.on('response', onResponse);
  await page.goto(new URL(`/superset/dashboard/${slug}/`, base).href, { waitUntil: 'domcontentloaded' });
  const entry = { slug, title: null, charts: 0, rendered: 0, errors: [], responses, screenshot: null };
  try {
    await page.locator('.dashboard-component-chart-holder').first().waitFor({ timeout: timeoutMs });
    // every chart holder done loading: a rendered chart or an error, no spinner left
    await page.waitForFunction(() => {
      const holders = [...document.querySelectorAll('.dashboard-component-chart-holder')];
      if (holders.length === 0) return false;
      return holders.every((h) => !h.querySelector('.loading, [data-test="loading-indicator"]') &&
        h.querySelector('canvas, svg, table, .header-line, .big-number, [data-test="chart-error"], .alert'));
    }, null, { timeout: timeoutMs, polling: 500 });
    await page.waitForTimeout(1500); // let animations settle before the screenshot
  } catch (err) {
    entry.errors.push(`waiting for the charts: ${err.message.split('\n')[0]}`);
  }
  await Promise.all(pending);
  entry.title = await page.title();
  entry.charts = await page.locator('.dashboard-component-chart-holder').count();
  entry.rendered = await page.evaluate(() => [...document.querySelectorAll('.dashboard-component-chart-holder')]
    .filter((h) => h.querySelector('canvas, svg, table, .header-line, .big-number')).length);
  const shown = await page.evaluate(() => [...document.querySelectorAll(
    '[data-test="chart-error"], .alert-danger, .ant-alert-error, .error-alert')]
    .map((e) => e.innerText.trim()).filter(Boolean));
  entry.errors.push(...shown);
  entry.text = await page.evaluate(() => [...document.querySelectorAll('.dashboard-component-chart-holder')]
    .map((h) => h.innerText.replace(/\s+/g, ' ').trim().slice(0, 400)));
  entry.screenshot = path.join(outDir, `${slug}.png`);
  await page.screenshot({ path: entry.screenshot, fullPage: true });
  page.off('response', onResponse);
  return entry;
}

try {
  await login();
  for (const slug of slugs) report.dashboards.push(await checkDashboard(slug));
} catch (err) {
  report.error = err.message;
  await page.screenshot({ path: path.join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
} finally {
  fs.writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2));
  await browser.close();
}
console.log(JSON.stringify(report.dashboards.map((d) => ({ slug: d.slug, charts: d.charts, rendered: d.rendered, errors: d.errors.length }))));
process.exit(report.error ? 1 : 0);
