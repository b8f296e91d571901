// Drives sam-server's page in Debian's chromium, as a user would: open an image, click
// a point, wait for the mask, export it, choose "segment everything". Run by
// tests/server/test_browser.py, which starts the server and checks what this saves.
// usage: node drive.js URL IMAGE X Y OUTDIR
"use strict";
const path = require("path");
const { chromium } = require("playwright-core");

async function main() {
  const [url, image, x, y, out] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 2200, height: 1400 }, acceptDownloads: true });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("requestfailed", (r) => errors.push("request failed: " + r.url()));
  await page.goto(url);
  await page.waitForFunction(() => !document.getElementById("model").textContent.includes("connecting"));
  await page.setInputFiles("#file", image);
  await page.waitForSelector("#stage[data-image]", { timeout: 120000 });

  // a click at the image point (x, y): the viewport is wide enough for the image at
  // scale 1, where every image pixel has a screen pixel of its own
  const box = await page.locator("#overlay").boundingBox();
  const size = await page.evaluate(() => [state.image.width, state.image.height]);
  const t0 = Date.now();
  await page.mouse.click(box.x + (Number(x) + 0.5) * box.width / size[0], box.y + (Number(y) + 0.5) * box.height / size[1]);
  await page.waitForSelector('#stage[data-answers="1"]', { timeout: 60000 });
  const clickMs = Date.now() - t0;
  const status = await page.textContent("#status");
  const points = await page.evaluate(() => state.points);
  await page.screenshot({ path: path.join(out, "page.png") });

  const download = page.waitForEvent("download");
  await page.click("#export-mask");
  const file = await download;
  await file.saveAs(path.join(out, "mask.png"));

  const downloadJson = page.waitForEvent("download");
  await page.keyboard.press("j");
  await (await downloadJson).saveAs(path.join(out, "coco.json"));

  // undo takes the point away; the mask goes with it
  await page.keyboard.press("u");
  await page.waitForSelector('#stage[data-answers="2"]', { timeout: 60000 });
  const afterUndo = await page.evaluate(() => ({ points: state.points.length, answer: state.answer }));

  console.log(JSON.stringify({ status, points, click_ms: clickMs, after_undo: afterUndo, errors }));
  await browser.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
