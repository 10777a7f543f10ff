import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import { startTestConnector, subscribe, type Subscriber } from '../helpers/local-connector.js';

// The lifecycle page in a real browser (Debian's chromium, driven by playwright-core).

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLASS_C = '70b3d57ed0000001';
let connector: LocalConnector;
let subscriber: Subscriber;
let browser: Browser;

beforeAll(async () => {
  connector = await startTestConnector();
  subscriber = await subscribe(connector.endpoints.mqtt, 'orbiwan/lorawan/#');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

afterAll(async () => {
  await browser.close();
  await subscriber.close();
  await connector.close();
});

describe('Lifecycle page', () => {
  it('shows a downlink move through its states to its final state, live', async () => {
    const page = await browser.newPage();
    await page.goto(`${connector.endpoints.http}/`);
    await page.locator('#connection', { hasText: 'live' }).waitFor();

    await subscriber.client.publishAsync(
      `orbiwan/lorawan/${CLASS_C}/downlink`,
      '{"data":"c0ffee","port":7,"requestId":"browser-1"}',
      { qos: 1 },
    );
    const row = page.locator('tr[data-request-id="browser-1"]');
    // The status word arrives before the execution ends: wait for the final outcome.
    await row.locator('.badge.final-ok[data-state="acknowledged"]').waitFor();

    expect(await row.locator('td').nth(1).textContent()).toBe(CLASS_C);
    const steps = await row.locator('.step').allTextContents();
    expect(steps).toEqual(
      expect.arrayContaining(['SendDownlink', 'accepted', 'sent', 'acknowledged', 'Delivered']),
    );
    await page.close();
  });

  it('lists the recent notifications per device', async () => {
    const page = await browser.newPage();
    await connector.simulator?.uplink('70b3d57ed0000003');
    await page.goto(`${connector.endpoints.http}/`);
    await page
      .locator('#notifications code')
      .getByText('70b3d57ed0000003', { exact: true })
      .waitFor();
    expect(await page.locator('#notifications').textContent()).toContain('uplink_early');
    await page.close();
  });
});
