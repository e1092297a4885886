// Headless Chromium's native EventSource, in a page served from another loopback origin
// (http://127.0.0.2:PORT or http://127.0.0.3:PORT) than the server (http://127.0.0.1:PORT):
// what a web page sees, including CORS and reconnection.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
    startServer, startProxy, publish, publishJson, waitUntil, headerOf, hs256, launchBrowser,
    tempDataDir,
} from './support.mjs';

const TEST_TIMEOUT = 20000;

// The page opens `new EventSource(src, {withCredentials})` itself on load and records what
// it gets in window.received / window.errors / window.opens.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>revenprox e2e</title></head>
<body>
<pre id="log"></pre>
<script>
  const params = new URLSearchParams(location.search);
  window.received = [];
  window.errors = [];
  window.opens = 0;
  const es = new EventSource(params.get('src'), { withCredentials: params.get('cred') === '1' });
  window.es = es;
  const record = (e) => {
    window.received.push({ type: e.type, id: e.lastEventId, data: e.data, origin: e.origin });
    document.getElementById('log').textContent += e.type + ' ' + e.lastEventId + ' ' + e.data + '\\n';
  };
  es.onmessage = record;
  for (const type of (params.get('types') || '').split(',').filter(Boolean)) {
    es.addEventListener(type, record);
  }
  es.onopen = () => { window.opens++; };
  es.onerror = () => { window.errors.push(es.readyState); };
</script>
</body></html>`;

/** A tiny web server on `host` (a loopback address) serving the page above. */
async function startPageServer(t, host) {
    const server = http.createServer((req, res) => {
        if (req.url === '/' || req.url.startsWith('/?')) {
            res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
            res.end(PAGE);
        } else {
            res.writeHead(404);
            res.end();
        }
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
    });
    const origin = `http://${host}:${server.address().port}`;
    t.after(() => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
    });
    return { origin, server };
}

let browser;
before(async () => {
    browser = await launchBrowser();
});
after(async () => {
    if (browser) await browser.close();
});

/**
 * Opens the page of `pageOrigin` in a fresh browser context; the page subscribes to `src`.
 * Returns helpers to read what the page received.
 */
async function openPage(t, pageOrigin, src, { types = [], credentials = true, cookies = [] } = {}) {
    const context = await browser.newContext();
    t.after(() => context.close());
    if (cookies.length) await context.addCookies(cookies);
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(m.text()));
    const query = new URLSearchParams({ src, types: types.join(','), cred: credentials ? '1' : '0' });
    await page.goto(`${pageOrigin}/?${query}`, { timeout: 10000 });
    const state = () => page.evaluate(() => ({
        received: window.received,
        errors: window.errors,
        opens: window.opens,
        readyState: window.es.readyState,
    }));
    return {
        page,
        consoleLines,
        state,
        received: () => page.evaluate(() => window.received),
        async waitReceived(n, timeout = 8000) {
            try {
                await page.waitForFunction((k) => window.received.length >= k, n, { timeout });
            } catch (err) {
                throw new Error(`page expected ${n} events: ${JSON.stringify(await state())}\n` +
                    `console: ${consoleLines.join('\n')}\n${err.message}`);
            }
        },
        async waitOpen(count = 1, timeout = 8000) {
            try {
                await page.waitForFunction((k) => window.opens >= k, count, { timeout });
            } catch (err) {
                throw new Error(`page stream did not open: ${JSON.stringify(await state())}\n` +
                    `console: ${consoleLines.join('\n')}\n${err.message}`);
            }
        },
        close: () => page.evaluate(() => window.es.close()),
    };
}

test('a cross-origin page gets events with type, id, multi-line data and intact UTF-8', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const server = await startServer(t, ['--cors-origins', site.origin, '--cors-credentials', 'true']);
    const client = await openPage(t, site.origin, `${server.url}/events/x`, { types: ['update', 'café 🎉'] });
    await client.waitOpen();

    const expected = [];
    const add = (type, data, id) => expected.push({ type, id, data, origin: server.url });
    add('message', 'hello', (await publish(server, 'x', 'hello')).id);
    add('update', 'line 1\nline 2\nline 3', (await publish(server, 'x', 'line 1\r\nline 2\nline 3', { event: 'update' })).id);
    add('message', 'héllo 世界 🎉', (await publish(server, 'x', 'héllo 世界 🎉')).id);
    const batch = await publishJson(server, [
        { topic: 'x', event: 'café 🎉', data: '日本語\n中文\n한국어' },
        { topic: 'y', data: 'other topic' },
        { topic: 'x', data: '👩‍👩‍👧‍👦🇯🇵👍🏽\n' },
        { topic: 'x', data: '' },
    ]);
    add('café 🎉', '日本語\n中文\n한국어', batch.ids[0]);
    add('message', '👩‍👩‍👧‍👦🇯🇵👍🏽\n', batch.ids[2]);
    add('message', '', batch.ids[3]);
    const big = '漢字🎉'.repeat(30000);
    add('message', big, (await publish(server, 'x', big)).id);
    add('update', 'the end', (await publishJson(server, { topic: 'x', event: 'update', data: 'the end' })).id);

    await client.waitReceived(expected.length);
    const got = await client.received();
    assert.equal(got.length, expected.length, 'no extra events');
    assert.ok(got[6].data === big, `big UTF-8 event intact (got ${got[6].data.length} chars, want ${big.length})`);
    got[6].data = expected[6].data = '<big>';
    assert.deepEqual(got, expected);
    const st = await client.state();
    assert.deepEqual(st.errors, [], 'no error events');
    assert.equal(st.opens, 1);

    // What a person sees: the page rendered the events as text.
    const text = await client.page.textContent('#log');
    assert.ok(text.includes('message ' + expected[2].id + ' héllo 世界 🎉'), text.slice(0, 300));
    assert.ok(text.includes('日本語\n中文\n한국어'));

    await client.close();
    await server.stop();
});

test('a multi-topic stream in the browser names the topic in the event type', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const server = await startServer(t, ['--cors-origins', site.origin, '--cors-credentials', 'true']);
    const client = await openPage(t, site.origin, `${server.url}/events?topic=news&topic=sport/%2B`, {
        types: ['news', 'news:breaking', 'sport', 'sport/football', 'sport/tennis:score', 'weather'],
    });
    await client.waitOpen();

    const { ids } = await publishJson(server, [
        { topic: 'news', data: 'n1' },
        { topic: 'weather', data: 'sunny' },
        { topic: 'sport/football', data: 'goal ⚽\nagain' },
        { topic: 'sport', data: 'parent' },
        { topic: 'news', event: 'breaking', data: 'flash' },
        { topic: 'sport/tennis', event: 'score', data: '30-15' },
    ]);
    const expected = [
        { type: 'news', id: ids[0], data: 'n1', origin: server.url },
        { type: 'sport/football', id: ids[2], data: 'goal ⚽\nagain', origin: server.url },
        { type: 'news:breaking', id: ids[4], data: 'flash', origin: server.url },
        { type: 'sport/tennis:score', id: ids[5], data: '30-15', origin: server.url },
    ];
    await client.waitReceived(expected.length);
    const last = await publish(server, 'news', 'n2');
    expected.push({ type: 'news', id: last.id, data: 'n2', origin: server.url });
    await client.waitReceived(expected.length);
    assert.deepEqual(await client.received(), expected);

    await client.close();
    await server.stop();
});

test('CORS: an allowed origin reads the stream, another origin gets an error and no events', { timeout: TEST_TIMEOUT }, async (t) => {
    const allowed = await startPageServer(t, '127.0.0.2');
    const other = await startPageServer(t, '127.0.0.3');
    // The allowed origin is second in a comma-separated list.
    const server = await startServer(t, ['--cors-origins', `http://127.0.0.9:1,${allowed.origin}`,
        '--cors-credentials', 'true']);
    const src = `${server.url}/events/cors`;
    const good = await openPage(t, allowed.origin, src);
    const bad = await openPage(t, other.origin, src);
    await good.waitOpen();
    // The browser refuses the response without a matching Access-Control-Allow-Origin:
    // the EventSource fails for good (CLOSED, no reconnect).
    await waitUntil(async () => (await bad.state()).readyState === 2, {
        timeout: 8000, what: () => 'the not-allowed page did not fail',
    });

    const ids = [];
    for (let i = 1; i <= 3; i++) ids.push((await publish(server, 'cors', `secret ${i}`)).id);
    await good.waitReceived(3);
    assert.deepEqual((await good.received()).map((e) => [e.id, e.data]),
        ids.map((id, i) => [id, `secret ${i + 1}`]));

    const badState = await bad.state();
    assert.deepEqual(badState.received, [], 'the other origin must not read any event');
    assert.equal(badState.opens, 0, 'the other origin never sees the stream open');
    assert.ok(badState.errors.length >= 1, 'the other origin gets an error event');
    assert.equal(badState.errors.at(-1), 2, 'and its EventSource is CLOSED');
    assert.ok(bad.consoleLines.some((l) => /blocked by CORS policy: No 'Access-Control-Allow-Origin'/.test(l)),
        `the browser blames CORS: ${bad.consoleLines.join('\n')}`);

    await good.close();
    await server.stop();
});

test('CORS credentials: a credentialed EventSource needs --cors-credentials true', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    // Origin allowed, credentials not allowed.
    const server = await startServer(t, ['--cors-origins', site.origin]);
    const src = `${server.url}/events/cred`;
    const withCred = await openPage(t, site.origin, src, { credentials: true });
    const plain = await openPage(t, site.origin, src, { credentials: false });
    await plain.waitOpen();
    await waitUntil(async () => (await withCred.state()).readyState === 2, {
        timeout: 8000,
        what: () => 'a credentialed EventSource opened without Access-Control-Allow-Credentials',
    });

    const a = await publish(server, 'cred', 'for plain requests');
    await plain.waitReceived(1);
    assert.deepEqual((await plain.received()).map((e) => [e.id, e.data]), [[a.id, 'for plain requests']]);
    const st = await withCred.state();
    assert.deepEqual(st.received, []);
    assert.equal(st.opens, 0);
    assert.ok(withCred.consoleLines.some((l) => /blocked by CORS policy: .*Access-Control-Allow-Credentials/.test(l)),
        `the browser blames missing credentials support: ${withCred.consoleLines.join('\n')}`);

    await plain.close();
    await server.stop();
});

test('after a dropped connection the browser resumes with Last-Event-ID: missed events exactly once', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const server = await startServer(t, ['--cors-origins', site.origin, '--cors-credentials', 'true',
        '--retry', '200ms']);
    const proxy = await startProxy(t, server);
    const client = await openPage(t, site.origin, `${proxy.url}/events/live`, { types: ['tick'] });
    await client.waitOpen();

    const expected = [];
    const push = (type, id, data) => expected.push({ type, id, data, origin: proxy.url });
    for (let i = 1; i <= 3; i++) push('message', (await publish(server, 'live', `before ${i}`)).id, `before ${i}`);
    await client.waitReceived(3);
    const lastSeen = expected[2].id;

    // Cut the link (the server keeps running); the browser's reconnect is held by the proxy
    // while the events below are published.
    proxy.cut();
    await waitUntil(async () => (await client.state()).errors.length >= 1, {
        what: () => 'the page saw no error after the cut',
    });
    const N = 25;
    for (let i = 1; i <= N; i++) {
        if (i % 5 === 0) {
            push('tick', (await publish(server, 'live', `missed ${i}\n第${i}行`, { event: 'tick' })).id, `missed ${i}\n第${i}行`);
        } else {
            const r = await publishJson(server, [{ topic: 'live', data: `missed ${i} 🎉` }, { topic: 'elsewhere', data: '-' }]);
            push('message', r.ids[0], `missed ${i} 🎉`);
        }
    }
    assert.equal((await client.received()).length, 3, 'nothing arrives while the link is down');
    proxy.restore();

    await client.waitReceived(3 + N);
    push('message', (await publish(server, 'live', 'live 1')).id, 'live 1');
    await client.waitReceived(expected.length);

    assert.deepEqual(await client.received(), expected, 'every missed event exactly once, in order');
    const st = await client.state();
    assert.equal(st.opens, 2, 'the page reconnected once');
    const gets = proxy.requestsOf('GET');
    assert.equal(gets.length, 2, `two stream requests, got:\n${gets.join('\n\n')}`);
    assert.equal(headerOf(gets[0], 'Last-Event-ID'), undefined);
    assert.equal(headerOf(gets[1], 'Last-Event-ID'), lastSeen, 'the reconnect sent the last id seen');
    assert.equal(headerOf(gets[1], 'Origin'), site.origin);

    await client.close();
    await server.stop();
});

/**
 * A page whose first connection drops before its first event: the stream's opening id
 * (`id:` and a blank line, which dispatches nothing) set the EventSource's last event id,
 * so the reconnect resumes and gets every event published while it was away instead of
 * starting live again. `published`: whether anything was published before the page
 * connected (no: the opening id is the epoch's origin, `<epoch>-0`).
 */
async function dropBeforeFirstEvent(t, published) {
    const site = await startPageServer(t, '127.0.0.2');
    const server = await startServer(t, ['--cors-origins', site.origin, '--cors-credentials', 'true',
        '--retry', '200ms']);
    const proxy = await startProxy(t, server);
    const before = published ? (await publish(server, 'early', 'before')).id : null;
    const client = await openPage(t, site.origin, `${proxy.url}/events/early`);
    await client.waitOpen();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the opening bytes are read
    assert.equal((await client.received()).length, 0, 'the opening id dispatches no event');

    proxy.cut();
    await waitUntil(async () => (await client.state()).errors.length >= 1, {
        what: () => 'the page saw no error after the cut',
    });
    const expected = [];
    for (let i = 1; i <= 5; i++) {
        const id = (await publish(server, 'early', `missed ${i}`)).id;
        expected.push({ type: 'message', id, data: `missed ${i}`, origin: proxy.url });
    }
    proxy.restore();
    await client.waitReceived(expected.length);
    assert.deepEqual(await client.received(), expected, 'every event published while it was away, once');

    const gets = proxy.requestsOf('GET');
    assert.equal(gets.length, 2, `two stream requests, got:\n${gets.join('\n\n')}`);
    assert.equal(headerOf(gets[0], 'Last-Event-ID'), undefined);
    const learned = headerOf(gets[1], 'Last-Event-ID');
    if (published) {
        assert.equal(learned, before, 'the reconnect sent the opening id: where the stream started');
    } else {
        assert.equal(learned, `${expected[0].id.split('-')[0]}-0`, "the epoch's origin");
    }
    await client.close();
    await server.stop();
}

test('a connection dropped before its first event resumes from the opening id', { timeout: TEST_TIMEOUT }, async (t) => {
    await dropBeforeFirstEvent(t, true);
});

test("before anything is published the opening id is the epoch's origin, and resumes too", { timeout: TEST_TIMEOUT }, async (t) => {
    await dropBeforeFirstEvent(t, false);
});

test('across a server restart on the same data_dir the page resumes: every event exactly once, no resync', { timeout: 30000 }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const dataDir = tempDataDir();
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const args = ['--cors-origins', site.origin, '--cors-credentials', 'true', '--retry', '200ms',
        '--fsync', 'always'];
    const first = await startServer(t, args, { dataDir });
    const client = await openPage(t, site.origin, `${first.url}/events?topic=a&topic=b`,
        { types: ['a', 'b', 'resync'] });
    await client.waitOpen();

    const expected = [];
    const push = async (server, topic, data) => {
        const { id } = await publish(server, topic, data);
        expected.push({ type: topic, id, data, origin: first.url });
    };
    for (let i = 1; i <= 4; i++) await push(first, i % 2 ? 'a' : 'b', `read ${i}`);
    await client.waitReceived(4);
    // Published just before the stop: the page may or may not have read them when the
    // server goes; either way it gets each once.
    for (let i = 1; i <= 6; i++) await push(first, i % 3 ? 'a' : 'b', `just before the stop ${i} 🎉`);
    await first.stop();
    await waitUntil(async () => (await client.state()).errors.length >= 1, {
        what: () => 'the page saw no error when the server stopped',
    });
    const seenAtStop = (await client.received()).length;

    // The same port and data_dir: the browser's own reconnect, with its Last-Event-ID.
    const second = await startServer(t, [...args, '--listen', `127.0.0.1:${first.port}`], { dataDir });
    assert.equal(second.url, first.url);
    await client.waitOpen(2, 10000);
    for (let i = 1; i <= 5; i++) await push(second, i % 2 ? 'b' : 'a', `after the restart ${i}\nline 2`);
    await client.waitReceived(expected.length, 10000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may follow

    const got = await client.received();
    assert.deepEqual(got, expected, `every event exactly once, in order, no resync (the page had ${seenAtStop} at the stop)`);
    const epochs = new Set(expected.map((e) => e.id.split('-')[0]));
    assert.equal(epochs.size, 1, `one epoch across the restart: ${[...epochs]}`);
    const st = await client.state();
    assert.equal(st.opens, 2, 'the page reconnected once');

    await client.close();
    await second.stop();
});

test('after a crash (kill -9) and a restart on the same data_dir the page may be told (resync) but gets no event twice', { timeout: 30000 }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const dataDir = tempDataDir();
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const args = ['--cors-origins', site.origin, '--cors-credentials', 'true', '--retry', '200ms',
        '--fsync', 'always'];
    const first = await startServer(t, args, { dataDir });
    const client = await openPage(t, site.origin, `${first.url}/events?topic=a&topic=b`,
        { types: ['a', 'b', 'resync'] });
    await client.waitOpen();

    const expected = [];
    const push = async (server, topic, data) => {
        const { id } = await publish(server, topic, data);
        expected.push({ type: topic, id, data, origin: first.url });
    };
    for (let i = 1; i <= 6; i++) await push(first, i % 2 ? 'a' : 'b', `before ${i}`);
    await client.waitReceived(6);
    await first.kill();
    await waitUntil(async () => (await client.state()).errors.length >= 1, {
        what: () => 'the page saw no error when the server died',
    });

    const second = await startServer(t, [...args, '--listen', `127.0.0.1:${first.port}`], { dataDir });
    await client.waitOpen(2, 10000);
    for (let i = 1; i <= 4; i++) await push(second, i % 2 ? 'b' : 'a', `after ${i}`);
    const last = expected.at(-1).id;
    await client.page.waitForFunction((id) => window.received.some((e) => e.id === id), last,
        { timeout: 10000 }).catch(async () => assert.fail(`the page never got ${last}: ` +
            JSON.stringify(await client.received())));

    const received = await client.received();
    const got = received.filter((e) => e.type !== 'resync');
    const told = received.filter((e) => e.type === 'resync').map((e) => e.data);
    assert.deepEqual(got.map((e) => `${e.type} ${e.id} ${e.data}`),
        expected.map((e) => `${e.type} ${e.id} ${e.data}`),
        `every acknowledged event exactly once, in order (told: ${told.join(' ')})`);

    await client.close();
    await second.stop();
});

test('CORS: a page of an allowed origin publishes with fetch, another origin is refused', { timeout: TEST_TIMEOUT }, async (t) => {
    const allowed = await startPageServer(t, '127.0.0.2');
    const other = await startPageServer(t, '127.0.0.3');
    const server = await startServer(t, ['--cors-origins', allowed.origin, '--cors-credentials', 'true']);
    const src = `${server.url}/events/chat`;
    const good = await openPage(t, allowed.origin, src, { types: ['msg'] });
    const bad = await openPage(t, other.origin, src, { types: ['msg'] });
    await good.waitOpen();

    const pagePublish = (client, path, init) => client.page.evaluate(async ({ url, init: i }) => {
        try {
            const res = await fetch(url, { ...i, credentials: 'include' });
            return { status: res.status, body: await res.text() };
        } catch (err) {
            return { error: String(err) };
        }
    }, { url: `${server.url}${path}`, init });

    // JSON with Content-Type: application/json needs a preflight, which the allowed origin passes.
    const r1 = await pagePublish(good, '/publish', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ topic: 'chat', event: 'msg', data: 'hi from the page 👋\nsecond line' }),
    });
    assert.equal(r1.status, 200, JSON.stringify(r1));
    const a1 = JSON.parse(r1.body);
    assert.equal(a1.topic, 'chat');
    const r2 = await pagePublish(good, '/publish/chat', { method: 'POST', body: '生のデータ' });
    assert.equal(r2.status, 200, JSON.stringify(r2));
    const a2 = JSON.parse(r2.body);

    // The other origin's preflight gets 403: the browser never sends the POST.
    const r3 = await pagePublish(bad, '/publish', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ topic: 'chat', data: 'forged' }),
    });
    assert.ok(r3.error && /Failed to fetch/.test(r3.error), `the other origin's publish must fail: ${JSON.stringify(r3)}`);

    const last = await publish(server, 'chat', 'from the server side');
    await good.waitReceived(3);
    assert.deepEqual((await good.received()).map((e) => [e.type, e.id, e.data]), [
        ['msg', a1.id, 'hi from the page 👋\nsecond line'],
        ['message', a2.id, '生のデータ'],
        ['message', last.id, 'from the server side'],
    ], 'the refused publish never reached subscribers');
    assert.deepEqual((await bad.state()).received, []);

    await good.close();
    await server.stop();
});

// ---- auth_mode jwt in the browser: EventSource cannot set headers, so the token travels in
// the query string or in a cookie. Tokens are made with node:crypto (tests/e2e/support.mjs).

const JWT_SECRET = 'e2e-browser-secret-of-at-least-32-bytes';
const jwtArgs = (site) => ['--auth-mode', 'jwt', '--auth-jwt-secret', JWT_SECRET,
    '--auth-cookie', 'rp_token', '--auth-publisher-key', 'e2e-publisher-key',
    '--cors-origins', site.origin, '--cors-credentials', 'true'];
const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;
const asPublisher = { headers: { Authorization: 'Bearer e2e-publisher-key' } };

test('auth: a page subscribes with a token in the query string', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const server = await startServer(t, jwtArgs(site));
    const token = hs256({ sub: 'page', exp: inOneHour(), read: ['news/#'] }, JWT_SECRET);
    const client = await openPage(t, site.origin, `${server.url}/events/news/uk?auth=${token}`);
    await client.waitOpen();
    const id = (await publish(server, 'news/uk', 'for the page', asPublisher)).id;
    await client.waitReceived(1);
    assert.deepEqual((await client.received()).map((e) => [e.id, e.data]), [[id, 'for the page']]);

    // A token without read on the topic: the browser gets an error and no stream.
    const other = hs256({ sub: 'page', exp: inOneHour(), read: ['sports'] }, JWT_SECRET);
    const refused = await openPage(t, site.origin, `${server.url}/events/news/uk?auth=${other}`);
    await refused.page.waitForFunction(() => window.es.readyState === 2, null, { timeout: 8000 });
    assert.equal((await refused.state()).opens, 0);
});

test('auth: a page subscribes with a token in a cookie; the stream ends when the token expires', { timeout: TEST_TIMEOUT }, async (t) => {
    // Same site (another port of 127.0.0.1): browsers send SameSite=Lax cookies only there.
    const site = await startPageServer(t, '127.0.0.1');
    const server = await startServer(t, jwtArgs(site));
    const exp = Math.floor(Date.now() / 1000) + 3;
    const token = hs256({ sub: 'cookie', exp, read: ['news/+'] }, JWT_SECRET);
    const client = await openPage(t, site.origin, `${server.url}/events/news/uk`, {
        types: ['auth_expired'],
        cookies: [{ name: 'rp_token', value: token, url: server.url }],
    });
    await client.waitOpen();
    const id = (await publish(server, 'news/uk', 'via cookie', asPublisher)).id;
    await client.waitReceived(1);
    // At exp the server says why and closes; the page can fetch a new token and reconnect.
    await client.waitReceived(2, 8000);
    const got = await client.received();
    assert.deepEqual(got.map((e) => [e.type, e.id, e.data]), [
        ['message', id, 'via cookie'],
        ['auth_expired', id, '{"reason":"the token expired"}'],
    ]);
    assert.ok(Date.now() / 1000 >= exp, 'not closed before exp');
});

// ---- a webhook written to the documented RevenProx's contract: POST {"jwt", "topic": the
// topic's UUIDv5 as 32 hex digits}, answer {"valid": bool} (auth_webhook_format documented).

/** The topic's UUID as docs/api.md derives it, as 32 hex digits. */
function topicUuidHex(topic) {
    const ns = Buffer.from('cf11a541ad1641839cfe8876de3cc0b9', 'hex');
    const h = createHash('sha1').update(ns).update(topic, 'utf8').digest();
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    return h.subarray(0, 16).toString('hex');
}

/** The application's verifier: tokens "ok-..." are valid for `allowed` topic UUIDs. */
async function startDocumentedWebhook(t, allowed) {
    const asked = [];
    const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            const q = JSON.parse(body);
            asked.push(q);
            const valid = q.jwt.startsWith('ok-') && allowed.has(q.topic);
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ valid }));
        });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
    });
    return { url: `http://127.0.0.1:${server.address().port}/verify`, asked };
}

test('a documented-contract webhook admits a browser EventSource and refuses another token', { timeout: TEST_TIMEOUT }, async (t) => {
    const site = await startPageServer(t, '127.0.0.2');
    const hook = await startDocumentedWebhook(t, new Set([topicUuidHex('news/uk')]));
    const server = await startServer(t, ['--auth-mode', 'webhook', '--auth-webhook-url', hook.url,
        '--auth-webhook-format', 'documented', '--auth-publisher-key', 'e2e-publisher-key',
        '--cors-origins', site.origin, '--cors-credentials', 'true']);
    const client = await openPage(t, site.origin, `${server.url}/events/news/uk?auth=ok-page`);
    await client.waitOpen();
    assert.deepEqual(hook.asked, [{ jwt: 'ok-page', topic: topicUuidHex('news/uk') }]);
    const id = (await publish(server, 'news/uk', 'verified, then streamed', asPublisher)).id;
    await client.waitReceived(1);
    assert.deepEqual((await client.received()).map((e) => [e.id, e.data]),
        [[id, 'verified, then streamed']]);

    const refused = await openPage(t, site.origin, `${server.url}/events/news/uk?auth=no-page`);
    await refused.page.waitForFunction(() => window.es.readyState === 2, null, { timeout: 8000 });
    assert.equal((await refused.state()).opens, 0);
    await server.stop();
});
