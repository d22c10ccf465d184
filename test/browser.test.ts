import { afterAll, beforeAll, expect, test } from 'bun:test';
import { chromium, type Browser } from 'playwright-core';
import { removeDataDir, startService, type RunningService } from './support/service';

let service: RunningService;
let browser: Browser;
beforeAll(async () => {
  service = await startService({ env: { QUEUE_DRIVER: 'memory' } });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
afterAll(async () => {
  await browser?.close();
  await service?.stop();
  if (service) removeDataDir(service.dataDir);
});

test('Swagger UI at /docs: the operation is listed, "Try it out" on POST /submit_data answers 202, nothing leaves loopback', async () => {
  const page = await browser.newPage();
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${service.url}/docs`, { waitUntil: 'networkidle' });
  const operation = page.locator('#operations-Submissions-postSubmit_data');
  await operation.waitFor({ timeout: 15_000 });
  expect(await operation.textContent()).toContain('/submit_data');
  expect(await page.locator('.opblock-summary-path').allTextContents()).toEqual(
    expect.arrayContaining(['/submit_data', '/submissions/{id}', '/healthz', '/readyz']),
  );

  await operation.locator('.opblock-summary').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  // The request body is prefilled from the schema's example: the seed record.
  expect(JSON.parse(await operation.locator('textarea.body-param__text').inputValue())).toEqual({ name: 'Ravi', age: 32, city: 'Delhi' });
  await operation.getByRole('button', { name: 'Execute' }).click();
  const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
  await status.waitFor({ timeout: 15_000 });
  expect((await status.textContent())?.trim()).toStartWith('202');

  const offLoopback = requested.filter((url) => !['127.0.0.1', 'localhost'].includes(new URL(url).hostname) && !url.startsWith('data:'));
  expect(offLoopback).toEqual([]);
  expect(requested.some((url) => url.endsWith('/docs/assets/swagger-ui-bundle.js'))).toBe(true);
  expect(requested.some((url) => url.endsWith('/docs/json'))).toBe(true);
  expect(pageErrors).toEqual([]);
  await page.close();
}, 60_000);
