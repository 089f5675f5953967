// Opens a self-contained HTML file (the weekly scorecard) in headless Chromium and says what
// rendered: the SVG charts and how many shapes each drew, the page's text length, any page
// error, and a full-page screenshot.
//
//   node bi/browser/check_report.mjs FILE.html OUT_DIR
//   (browser from CHROMIUM, default /usr/bin/chromium; playwright-core from NODE_PATH)
//
// Writes OUT_DIR/scorecard.json: {charts: [{shapes, width, height}], text_length, errors,
// screenshot}.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [file, outDir] = process.argv.slice(2);
if (!file || !outDir) {
  console.error('usage: check_report.mjs FILE.html OUT_DIR');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const errors = [];
const requests = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (err) => errors.push(String(err)));
  // self-contained: nothing may be fetched but the file itself
  page.on('request', (req) => { if (!req.url().startsWith('file:')) requests.push(req.url()); });
  await page.goto(pathToFileURL(path.resolve(file)).href, { waitUntil: 'load' });
  const charts = await page.$$eval('svg', (svgs) => svgs.map((svg) => {
    const box = svg.getBoundingClientRect();
    return {
      shapes: svg.querySelectorAll('rect, path, circle, line, polyline, polygon').length,
      width: Math.round(box.width),
      height: Math.round(box.height),
    };
  }));
  const textLength = await page.evaluate(() => document.body.innerText.length);
  const screenshot = path.join(outDir, 'scorecard.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  const result = { charts, text_length: textLength, errors, external_requests: requests, screenshot };
  fs.writeFileSync(path.join(outDir, 'scorecard.json'), JSON.stringify(result, null, 2));
} finally {
  await browser.close();
}
