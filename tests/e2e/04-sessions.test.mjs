// Sessions in headless Chromium: a page's native EventSource with withCredentials opens
// ?session=new, reads `connected`, and after a dropped connection the browser's own
// reconnect presents the session cookie (and Last-Event-ID) by itself: the same session
// resumes, with every topic event and every event sent to the session exactly once.
// The page is served from another origin of the same site (127.0.0.1, another port), so
// the SameSite=Lax cookie goes with the cross-origin credentialed request.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, startProxy, publish, waitUntil, headerOf, launchBrowser } from './support.mjs';

const TEST_TIMEOUT = 30000;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>revenprox sessions</title></head>
<body>
<script>
  const params = new URLSearchParams(location.search);
  window.received = [];
  window.errors = 0;
  window.opens = 0;
  const es = new EventSource(params.get('src'), { withCredentials: true });
  window.es = es;
  const record = (e) => window.received.push({ type: e.type, id: e.lastEventId, data: e.data });
  es.onmessage = record;
  es.addEventListener('connected', record);
  es.addEventListener('resync', record);
  es.onopen = () => { window.opens++; };
  es.onerror = () => { window.errors++; };
</script>
</body></html>`;

async function startPageServer(t) {
    const server = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(PAGE);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
    });
    return { origin: `http://127.0.0.1:${server.address().port}` };
}

async function sendToSession(server, id, data) {
    const res = await fetch(`${server.url}/sessions/${id}/events`, {
        method: 'POST',
        body: Buffer.from(data, 'utf8'),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `send to session ${id}: ${res.status} ${text}`);
    return JSON.parse(text);
}

let browser;
before(async () => {
    browser = await launchBrowser();
});
after(async () => {
    if (browser) await browser.close();
});

test('a browser session survives a dropped connection through its cookie', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t);
    const server = await startServer(t, ['--cors-origins', site.origin, '--cors-credentials', 'true',
        '--retry', '200ms']);
    const proxy = await startProxy(t, server);
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const src = `${proxy.url}/events/live?session=new`;
    await page.goto(`${site.origin}/?${new URLSearchParams({ src })}`, { timeout: 10000 });
    const received = () => page.evaluate(() => window.received);
    const waitReceived = (n) => page.waitForFunction((k) => window.received.length >= k, n, { timeout: 8000 })
        .catch(async (err) => { throw new Error(`${JSON.stringify(await received())}\n${err.message}`); });

    await waitReceived(1);
    const hello = (await received())[0];
    assert.equal(hello.type, 'connected');
    assert.equal(hello.id, '', 'connected has no id');
    const connected = JSON.parse(hello.data);
    const sid = connected.sessionId;
    assert.match(sid, /^[0-9a-f]{32}$/);
    assert.deepEqual(connected.topics, ['live']);

    const expected = [];
    const push = (id, data) => expected.push({ type: 'message', id, data });
    push((await publish(server, 'live', 'before')).id, 'before');
    push((await sendToSession(server, sid, 'just for you')).id, 'just for you');
    await waitReceived(1 + expected.length);

    proxy.cut();
    await waitUntil(async () => page.evaluate(() => window.errors >= 1), {
        what: () => 'the page saw no error after the cut',
    });
    for (let i = 1; i <= 6; i++) {
        if (i % 2) push((await publish(server, 'live', `missed ${i}`)).id, `missed ${i}`);
        else push((await sendToSession(server, sid, `private ${i} 🎉`)).id, `private ${i} 🎉`);
    }
    proxy.restore();

    await waitReceived(2 + expected.length);
    const got = await received();
    const again = got[3];
    assert.equal(again.type, 'connected', `the reconnect starts with connected: ${JSON.stringify(got)}`);
    assert.equal(JSON.parse(again.data).sessionId, sid, 'the same session');
    assert.equal(JSON.parse(again.data).resumed, true);
    assert.deepEqual(got.filter((e) => e.type === 'message'), expected,
        'every missed topic and session event exactly once, in order');
    assert.equal(got.filter((e) => e.type === 'resync').length, 0, 'no resync');

    const gets = proxy.requestsOf('GET');
    assert.equal(gets.length, 2);
    assert.equal(headerOf(gets[0], 'Cookie'), undefined, 'no cookie before the session');
    assert.match(headerOf(gets[1], 'Cookie') || '', new RegExp(`revenprox_session=${sid}`),
        'the browser presented the session cookie by itself');
    assert.equal(headerOf(gets[1], 'Last-Event-ID'), expected[1].id);

    await page.evaluate(() => window.es.close());
    await server.stop();
});
