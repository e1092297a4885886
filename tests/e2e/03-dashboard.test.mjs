// The built-in dashboard (GET /dashboard) in headless Chromium: it charts the metrics the
// server publishes to `_revenprox/metrics`, its numbers follow what really happens, its
// playground subscribes and publishes, it loads nothing from elsewhere, and with auth on it
// says it needs a token and then works with one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
    startServer, publish, openStream, waitUntil, hs256, launchBrowser,
} from './support.mjs';

const TEST_TIMEOUT = 30000;
// Screenshots land here, for a person to look at when a test fails.
const SHOTS = mkdtempSync(path.join(os.tmpdir(), 'revenprox-dashboard-'));

let browser;
before(async () => {
    browser = await launchBrowser();
});
after(async () => {
    if (browser) await browser.close();
});

/** Opens `server`'s dashboard in a fresh context, recording every request the page makes. */
async function openDashboard(t, server) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    t.after(() => context.close());
    const page = await context.newPage();
    const requests = [];
    const consoleLines = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));
    // The server side may still be starting its publisher: GET /dashboard must answer first.
    await waitUntil(async () => (await fetch(`${server.url}/dashboard`)).status === 200, {
        timeout: 5000, what: () => 'GET /dashboard did not answer 200',
    });
    const res = await page.goto(`${server.url}/dashboard`, { timeout: 10000 });
    assert.equal(res.status(), 200);
    return { page, requests, consoleLines };
}

/** The number an element shows (its data-value), or null while it shows none. */
function value(page, id) {
    return page.$eval(`#${id}`, (el) => (el.dataset.value === undefined ? null : Number(el.dataset.value)));
}

/** Waits until element `id` holds a number >= `min`. */
async function waitValue(page, id, min, { timeout = 8000, consoleLines = [] } = {}) {
    try {
        await page.waitForFunction(({ id: i, min: m }) => {
            const v = document.getElementById(i).dataset.value;
            return v !== undefined && Number(v) >= m;
        }, { id, min }, { timeout, polling: 50 });
    } catch (err) {
        const shown = await page.$eval(`#${id}`, (el) => el.textContent);
        const status = await page.$eval('#status', (el) => el.textContent);
        const error = await page.$eval('#error', (el) => el.textContent);
        throw new Error(`#${id} never reached ${min} (shows ${JSON.stringify(shown)}; status ` +
            `${JSON.stringify(status)}; error ${JSON.stringify(error)})\n${consoleLines.join('\n')}\n${err.message}`);
    }
}

/** Publishes numbered events to `topic` in parallel batches of 10 for `ms` ms. */
async function publishFor(server, topic, ms) {
    const end = Date.now() + ms;
    let n = 0;
    while (Date.now() < end) {
        await Promise.all(Array.from({ length: 10 }, () => publish(server, topic, `burst ${n++}`)));
    }
    return n;
}

/** Keeps the events chart's pixels in the page, to compare with a later drawing. */
const keepPixels = (page) => page.evaluate(() => {
    const c = document.getElementById('chart-events');
    window.keptPixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data.slice();
});
/** How many pixels of the events chart differ from the kept ones. */
const changedPixels = (page) => page.evaluate(() => {
    const c = document.getElementById('chart-events');
    const now = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const old = window.keptPixels;
    if (old.length !== now.length) return now.length / 4;
    let n = 0;
    for (let i = 0; i < now.length; i += 4) {
        if (now[i] !== old[i] || now[i + 1] !== old[i + 1] || now[i + 2] !== old[i + 2] || now[i + 3] !== old[i + 3]) n++;
    }
    return n;
});

/** Every URL the page requested is on the server's origin (or inline data:). */
function assertOnlyOwnOrigin(requests, server) {
    assert.ok(requests.length > 0);
    const foreign = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== server.url);
    assert.deepEqual(foreign, [], 'the dashboard must load nothing from another origin');
}

test('GET /dashboard is one small self-contained HTML page', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t);
    await waitUntil(async () => (await fetch(`${server.url}/dashboard`)).status === 200, {
        timeout: 5000, what: () => 'GET /dashboard did not answer 200',
    });
    const res = await fetch(`${server.url}/dashboard`);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const html = await res.text();
    assert.ok(html.length < 50 * 1024, `the page is ${html.length} bytes`);
    for (const id of ['connections', 'streams', 'events-in-rate', 'events-out-rate', 'drops', 'stalled',
        'uptime', 'chart-events', 'token', 'sub-form', 'pub-form']) {
        assert.ok(html.includes(`id="${id}"`), `the page has #${id}`);
    }
    // No reference to anything outside the page: no src=/href= to a URL, no @import or url().
    assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    assert.doesNotMatch(html, /@import|url\(/i);
    await server.stop();
});

test('the dashboard charts live metrics: a burst with subscribers moves numbers and charts', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t);
    const { page, requests, consoleLines } = await openDashboard(t, server);

    // Metrics arrive once a second; rates need two of them.
    await waitValue(page, 'connections', 1, { consoleLines });
    await waitValue(page, 'events-in-rate', 0, { consoleLines });
    const connsBefore = await value(page, 'connections');
    const streamsBefore = await value(page, 'streams');
    assert.ok(streamsBefore >= 1, 'the dashboard\'s own metrics stream counts');
    assert.ok((await value(page, 'uptime')) >= 0);
    assert.ok((await value(page, 'stalled')) >= 0);
    assert.ok((await value(page, 'drops')) >= 0);
    assert.equal(await page.$eval('#error', (el) => el.hidden), true, 'no error shown');
    // One row and one line per worker (the server runs 2).
    assert.equal(await page.locator('#workers tr').count(), 2);
    assert.equal(await page.locator('#chart-wconns + .legend li').count(), 2);

    const shot1 = await page.locator('#chart-events').screenshot();
    writeFileSync(path.join(SHOTS, 'events-before.png'), shot1);
    await keepPixels(page);
    const maxBefore = Number(await page.getAttribute('#chart-events', 'data-max'));

    // Three subscribers (from node), then events for 3 s.
    const N = 3;
    const streams = [];
    for (let i = 0; i < N; i++) streams.push(await openStream(t, server, '/events/burst'));
    const burst = publishFor(server, 'burst', 3000);
    await waitValue(page, 'connections', connsBefore + N, { consoleLines });
    await waitValue(page, 'streams', streamsBefore + N, { consoleLines });
    await waitValue(page, 'events-in-rate', 20, { consoleLines });
    await waitValue(page, 'events-out-rate', 20 * N, { consoleLines });
    const published = await burst;
    assert.ok(published > 100, `published ${published} events`);
    // The subscribers really got them.
    await waitUntil(() => streams.every((s) => s.text().includes(`data: burst ${published - 1}\n`)), {
        what: () => 'the subscribers did not get the whole burst',
    });

    const shot2 = await page.locator('#chart-events').screenshot();
    writeFileSync(path.join(SHOTS, 'events-after.png'), shot2);
    await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
    t.diagnostic(`screenshots in ${SHOTS}`);

    assert.notDeepEqual(shot1, shot2, 'the events chart looks different after the burst');
    const changed = await changedPixels(page);
    assert.ok(changed > 200, `only ${changed} pixels of the events chart changed`);
    const maxAfter = Number(await page.getAttribute('#chart-events', 'data-max'));
    assert.ok(maxAfter >= 20 && maxAfter > maxBefore, `the chart's scale grew: ${maxBefore} -> ${maxAfter}`);
    const rows = await page.$$eval('#workers tr', (trs) => trs.map((tr) => tr.textContent));
    assert.equal(rows.length, 2, rows.join('\n'));

    // The subscribers leave: the streams shown fall back.
    for (const s of streams) s.close();
    await page.waitForFunction((k) => Number(document.getElementById('streams').dataset.value) <= k,
        streamsBefore, { timeout: 8000 });

    assertOnlyOwnOrigin(requests, server);
    assert.deepEqual(consoleLines.filter((l) => /^(error|pageerror)/.test(l)), [], 'no page errors');
    await server.stop();
});

test('the playground subscribes to a pattern and publishes from the page', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t);
    const { page, requests, consoleLines } = await openDashboard(t, server);

    await page.fill('#sub-topic', 'play/#');
    await page.click('#sub-form button[type=submit]');
    await page.waitForSelector('#sub-status[data-state="open"]', { timeout: 5000 });

    await page.fill('#pub-topic', 'play/room');
    await page.fill('#pub-event', 'chat');
    await page.fill('#pub-data', 'hello from the page ✓\nsecond line');
    await page.click('#pub-form button[type=submit]');
    await page.waitForFunction(() => /^published /.test(document.getElementById('pub-result').textContent),
        null, { timeout: 5000 });
    const result = await page.textContent('#pub-result');
    const id = /^published (\S+) to play\/room$/.exec(result)?.[1];
    assert.match(id ?? '', /^[0-9a-f]{8}-\d+$/, result);

    // On a pattern stream the event's type names its topic (and type).
    await page.waitForFunction(() => document.querySelectorAll('#sub-log li').length >= 1, null, { timeout: 5000 });
    assert.equal(await page.textContent('#sub-log li:first-child'),
        `play/room:chat ${id} hello from the page ✓\nsecond line`);

    // An event published by someone else shows too, newest first.
    const other = await publish(server, 'play/lobby', '<b>not markup</b>');
    await page.waitForFunction(() => document.querySelectorAll('#sub-log li').length >= 2, null, { timeout: 5000 });
    assert.equal(await page.textContent('#sub-log li:first-child'), `play/lobby ${other.id} <b>not markup</b>`);
    assert.equal(await page.locator('#sub-log b').count(), 2, 'event data is shown as text, never as HTML');

    // Stop ends the stream.
    await page.click('#sub-stop');
    assert.equal(await page.textContent('#sub-status'), 'not subscribed');

    assertOnlyOwnOrigin(requests, server);
    assert.deepEqual(consoleLines.filter((l) => /^(error|pageerror)/.test(l)), [], 'no page errors');
    await server.stop();
});

test('auth jwt: without a token the page says so; with one it works', { timeout: TEST_TIMEOUT }, async (t) => {
    const secret = 'e2e-dashboard-secret-of-at-least-32-bytes';
    const server = await startServer(t, ['--auth-mode', 'jwt', '--auth-jwt-secret', secret]);
    const { page, requests } = await openDashboard(t, server);

    await page.waitForSelector('#error:not([hidden])', { timeout: 8000 });
    const error = await page.textContent('#error');
    assert.match(error, /401/, error);
    assert.match(error, /requires a token/, error);
    assert.equal(await value(page, 'connections'), null, 'no numbers without metrics');

    const token = hs256({ sub: 'dashboard', exp: Math.floor(Date.now() / 1000) + 3600,
        read: ['#'], write: ['#'] }, secret);
    await page.fill('#token', token);
    await page.click('#token-form button');
    await waitValue(page, 'connections', 1);
    await waitValue(page, 'events-in-rate', 0);
    assert.equal(await page.$eval('#error', (el) => el.hidden), true, 'the error is gone');

    // The playground uses the token too (Authorization: Bearer).
    await page.fill('#sub-topic', 'secure');
    await page.click('#sub-form button[type=submit]');
    await page.waitForSelector('#sub-status[data-state="open"]', { timeout: 5000 });
    await page.fill('#pub-topic', 'secure');
    await page.fill('#pub-data', 'with a token');
    await page.click('#pub-form button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#sub-log li').length >= 1, null, { timeout: 5000 });
    assert.match(await page.textContent('#sub-log li:first-child'), /^message [0-9a-f]{8}-\d+ with a token$/);

    assertOnlyOwnOrigin(requests, server);
    await server.stop();
});
