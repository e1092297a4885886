// The npm `eventsource` client (the WHATWG EventSource for Node.js) against a real server:
// what a Node.js subscriber sees, event by event.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import {
    startServer, startProxy, publish, publishJson, waitUntil, headerOf, sleep,
} from './support.mjs';

const TEST_TIMEOUT = 20000;

/**
 * Opens an EventSource on `url` and records every event of type `message` or one of
 * `types` as {type, id, data}, in arrival order. Closed after the test.
 */
function subscribe(t, url, types = []) {
    const es = new EventSource(url);
    const got = [];
    const errors = [];
    let opens = 0;
    for (const type of new Set(['message', ...types])) {
        es.addEventListener(type, (e) => got.push({ type: e.type, id: e.lastEventId, data: e.data }));
    }
    es.addEventListener('open', () => { opens++; });
    es.addEventListener('error', (e) => errors.push(e));
    t.after(() => es.close());
    return {
        es,
        got,
        errors,
        get opens() { return opens; },
        /** Resolves once the stream is open (the server has sent its response head). */
        opened(count = 1) {
            return waitUntil(() => opens >= count, {
                timeout: 5000,
                what: () => `readyState=${es.readyState} opens=${opens} errors=${errors.map((e) => e.message)}`,
            });
        },
        /** Resolves once at least `n` events have arrived. */
        received(n, timeout = 8000) {
            return waitUntil(() => got.length >= n, {
                timeout,
                what: () => `expected ${n} events, got ${got.length}: ${JSON.stringify(got)}`,
            });
        },
    };
}

/** epoch and sequence number of an id `<epoch8hex>-<seq>`. */
function parseId(id) {
    const m = /^([0-9a-f]{8})-(\d+)$/.exec(id);
    assert.ok(m, `malformed event id ${JSON.stringify(id)}`);
    return { epoch: m[1], seq: Number(m[2]) };
}

function assertIncreasingIds(events) {
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids}`);
    const parsed = ids.map(parseId);
    for (let i = 1; i < parsed.length; i++) {
        assert.equal(parsed[i].epoch, parsed[0].epoch, 'one epoch');
        assert.ok(parsed[i].seq > parsed[i - 1].seq, `ids increase: ${ids[i - 1]} then ${ids[i]}`);
    }
}

test('published events arrive with their type, id and multi-line data', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t);
    const sub = subscribe(t, `${server.url}/events/news`, ['update']);
    await sub.opened();

    const expected = [];
    const add = (type, data, answer) => expected.push({ type, id: answer.id, data });

    add('message', 'hello', await publish(server, 'news', 'hello'));
    add('update', 'second', await publishJson(server, { topic: 'news', event: 'update', data: 'second' }));
    // LF, CRLF and CR line breaks all become separate data: lines, which the client joins with LF.
    add('update', 'line1\nline2\nline3\nline4',
        await publish(server, 'news', 'line1\nline2\r\nline3\rline4', { event: 'update' }));
    add('message', '', await publishJson(server, { topic: 'news', data: '' }));
    add('message', 'trailing\n', await publish(server, 'news', 'trailing\n'));
    add('message', '  two leading spaces', await publish(server, 'news', '  two leading spaces'));
    // Data that looks like SSE fields must stay data, not become fields or new events.
    add('message', 'data: fake\n\nid: 999\nevent: evil\n: comment\nretry: 1',
        await publish(server, 'news', 'data: fake\n\nid: 999\nevent: evil\n: comment\nretry: 1'));
    const batch = await publishJson(server, [
        { topic: 'news', data: 'b1' },
        { topic: 'elsewhere', data: 'not for news' },
        { topic: 'news', event: 'update', data: 'b2\nb2 second line' },
    ]);
    add('message', 'b1', { id: batch.ids[0] });
    add('update', 'b2\nb2 second line', { id: batch.ids[2] });

    await sub.received(expected.length);
    // One more event proves nothing else (e.g. the other topic's event) slipped in before it.
    add('message', 'last', await publish(server, 'news', 'last'));
    await sub.received(expected.length);

    assert.deepEqual(sub.got, expected);
    assertIncreasingIds(sub.got);
    assert.equal(sub.errors.length, 0, 'no stream errors');
    assert.equal(sub.opens, 1, 'one connection');

    sub.es.close();
    await server.stop();
});

test('UTF-8 text (emoji, CJK, accents) arrives intact, also in event types and big events', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t);
    const sub = subscribe(t, `${server.url}/events/intl`, ['café 🎉', '通知']);
    await sub.opened();

    const big = '🎉世界é'.repeat(40000); // ~400 kB: split across many TCP reads mid-character
    const samples = [
        'héllo 世界 🎉',
        '日本語のテキスト、中文文本、한국어 텍스트',
        '👩‍👩‍👧‍👦 family (ZWJ), 🇯🇵 flag, 👍🏽 skin tone',
        'combining: e\u0301 vs \u00e9; math: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢; RTL: שלום مرحبا',
        'multi\n行\n🎉',
    ];
    const expected = [];
    for (const s of samples) {
        expected.push({ type: 'message', id: (await publish(server, 'intl', s)).id, data: s });
    }
    const viaJson = await publishJson(server, [
        { topic: 'intl', event: 'café 🎉', data: '絵文字 😀😃😄' },
        { topic: 'intl', event: '通知', data: 'Ünïcödé\n第二行' },
    ]);
    expected.push({ type: 'café 🎉', id: viaJson.ids[0], data: '絵文字 😀😃😄' });
    expected.push({ type: '通知', id: viaJson.ids[1], data: 'Ünïcödé\n第二行' });
    expected.push({ type: 'message', id: (await publish(server, 'intl', big)).id, data: big });

    await sub.received(expected.length);
    assert.equal(sub.got.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
        const got = sub.got[i];
        assert.equal(got.type, expected[i].type, `event ${i} type`);
        assert.equal(got.id, expected[i].id, `event ${i} id`);
        // Compare without dumping 400 kB on failure.
        assert.ok(got.data === expected[i].data,
            `event ${i} data differs: got ${got.data.length} chars ${JSON.stringify(got.data.slice(0, 80))}, ` +
            `expected ${expected[i].data.length} chars ${JSON.stringify(expected[i].data.slice(0, 80))}`);
        assert.ok(!got.data.includes('\uFFFD'), `event ${i} has a replacement character`);
    }

    sub.es.close();
    await server.stop();
});

test('a multi-topic and pattern stream names the topic in the event type', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t);
    const types = ['a', 'a:alert', 'b', 'b:t', 'c', 'sport', 'sport/football', 'sport/tennis:score',
        'sport/football/uk', 'sport/golf:score', 't', 'alert', 'score'];
    const sub = subscribe(t, `${server.url}/events?topic=a&topic=b&topic=sport/%2B`, types);
    await sub.opened();

    const items = [
        { topic: 'a', data: '1' },
        { topic: 'b', event: 't', data: '2' },
        { topic: 'c', data: 'not subscribed' },
        { topic: 'sport', data: 'parent: not matched by sport/+' },
        { topic: 'sport/football', data: 'goal\nscored' },
        { topic: 'sport/football/uk', data: 'too deep for sport/+' },
        { topic: 'sport/tennis', event: 'score', data: '15-0' },
        { topic: 'a', event: 'alert', data: '🚨' },
        { topic: 'b', data: 'plain b' },
    ];
    const { ids } = await publishJson(server, items);
    // Single publishes too, interleaved with a topic the stream does not want.
    const single1 = await publish(server, 'c', 'still not subscribed');
    const single2 = await publish(server, 'sport/golf', 'hole in one', { event: 'score' });

    const expected = [
        { type: 'a', id: ids[0], data: '1' },
        { type: 'b:t', id: ids[1], data: '2' },
        { type: 'sport/football', id: ids[4], data: 'goal\nscored' },
        { type: 'sport/tennis:score', id: ids[6], data: '15-0' },
        { type: 'a:alert', id: ids[7], data: '🚨' },
        { type: 'b', id: ids[8], data: 'plain b' },
    ];
    assert.ok(single1.id);
    expected.push({ type: 'sport/golf:score', id: single2.id, data: 'hole in one' });

    await sub.received(expected.length);
    const last = await publish(server, 'a', 'end');
    expected.push({ type: 'a', id: last.id, data: 'end' });
    await sub.received(expected.length);

    assert.deepEqual(sub.got, expected);
    assertIncreasingIds(sub.got);
    assert.equal(sub.errors.length, 0);

    sub.es.close();
    await server.stop();
});

test('after a dropped connection the client resumes with Last-Event-ID: missed events exactly once', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t, ['--retry', '200ms']);
    const proxy = await startProxy(t, server);
    const sub = subscribe(t, `${proxy.url}/events/feed`, ['tick']);
    await sub.opened();

    const expected = [];
    for (let i = 1; i <= 3; i++) {
        expected.push({ type: 'message', id: (await publish(server, 'feed', `before ${i}`)).id, data: `before ${i}` });
    }
    await sub.received(3);
    assert.deepEqual(sub.got, expected);
    const lastSeen = expected[2].id;

    // The link drops; the server keeps running. The client's reconnect attempt is held by
    // the proxy, so everything below is published while the client is disconnected.
    proxy.cut();
    await waitUntil(() => sub.errors.length >= 1, { what: () => 'the client saw no error' });
    const N = 30;
    for (let i = 1; i <= N; i++) {
        if (i % 3 === 0) {
            const a = await publish(server, 'feed', `missed ${i}\nsecond line`, { event: 'tick' });
            expected.push({ type: 'tick', id: a.id, data: `missed ${i}\nsecond line` });
        } else if (i % 3 === 1) {
            const a = await publishJson(server, [{ topic: 'feed', data: `missed ${i} 🎉` }, { topic: 'noise', data: 'x' }]);
            expected.push({ type: 'message', id: a.ids[0], data: `missed ${i} 🎉` });
        } else {
            const a = await publishJson(server, { topic: 'feed', data: `missed ${i}` });
            expected.push({ type: 'message', id: a.id, data: `missed ${i}` });
        }
    }
    assert.equal(sub.got.length, 3, 'nothing arrives while the link is down');
    proxy.restore();

    await sub.received(3 + N);
    for (let i = 1; i <= 2; i++) {
        expected.push({ type: 'message', id: (await publish(server, 'feed', `live ${i}`)).id, data: `live ${i}` });
    }
    await sub.received(expected.length);

    assert.deepEqual(sub.got, expected, 'every missed event exactly once, in order, then live ones');
    assertIncreasingIds(sub.got);
    assert.equal(sub.opens, 2, 'the client reconnected once');
    const gets = proxy.requestsOf('GET');
    assert.equal(gets.length, 2, `two stream requests, got:\n${gets.join('\n\n')}`);
    assert.equal(headerOf(gets[0], 'Last-Event-ID'), undefined);
    assert.equal(headerOf(gets[1], 'Last-Event-ID'), lastSeen, 'the reconnect sent the last id seen');

    sub.es.close();
    await server.stop();
});

test('a multi-topic stream resumes after several failed reconnect attempts', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t, ['--retry', '100ms']);
    const proxy = await startProxy(t, server);
    const sub = subscribe(t, `${proxy.url}/events?topic=a&topic=b`, ['a', 'b', 'b:t', 'c']);
    await sub.opened();

    const expected = [];
    const pub = async (topic, data, event) => {
        const a = await publish(server, topic, data, { event });
        if (topic !== 'c') expected.push({ type: event ? `${topic}:${event}` : topic, id: a.id, data });
    };
    await pub('a', 'a0');
    await pub('b', 'b0', 't');
    await sub.received(2);
    const lastSeen = expected[1].id;

    // While down, every reconnect attempt is reset at once: the client keeps retrying.
    proxy.cut({ refuse: true });
    for (let i = 1; i <= 10; i++) {
        await pub(i % 2 ? 'a' : 'b', `during outage ${i}`, i % 4 === 0 ? 't' : undefined);
        await pub('c', `other topic ${i}`);
    }
    await waitUntil(() => proxy.refused >= 3, { what: () => `only ${proxy.refused} reconnect attempts` });
    for (let i = 11; i <= 15; i++) await pub('b', `during outage ${i}`);
    assert.equal(sub.got.length, 2, 'nothing arrives while the link is down');
    proxy.restore();

    await sub.received(expected.length);
    await pub('a', 'after');
    await sub.received(expected.length);

    assert.deepEqual(sub.got, expected);
    assertIncreasingIds(sub.got);
    const gets = proxy.requestsOf('GET');
    assert.equal(gets.length, 2, 'refused attempts never reached the server');
    assert.equal(headerOf(gets[1], 'Last-Event-ID'), lastSeen);

    sub.es.close();
    await server.stop();
});

test('?lastEventId replays on the first connection; reconnects then resume from the newer Last-Event-ID', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t, ['--retry', '200ms']);
    const proxy = await startProxy(t, server);

    const early = [];
    for (let i = 1; i <= 4; i++) early.push((await publish(server, 'q', `e${i}`)).id);

    // A client that remembered e2 from an earlier page load passes it in the URL.
    const sub = subscribe(t, `${proxy.url}/events/q?lastEventId=${early[1]}`);
    await sub.received(2);
    const expected = [
        { type: 'message', id: early[2], data: 'e3' },
        { type: 'message', id: early[3], data: 'e4' },
    ];
    assert.deepEqual(sub.got, expected, 'replay starts right after the id in the URL');

    proxy.cut();
    for (let i = 5; i <= 8; i++) {
        expected.push({ type: 'message', id: (await publish(server, 'q', `e${i}`)).id, data: `e${i}` });
    }
    proxy.restore();
    // The reconnect carries both the stale ?lastEventId=e2 and the header Last-Event-ID: e4;
    // the header is the newer position and must win (else e3 and e4 come twice).
    await sub.received(expected.length);
    expected.push({ type: 'message', id: (await publish(server, 'q', 'e9')).id, data: 'e9' });
    await sub.received(expected.length);

    assert.deepEqual(sub.got, expected);
    const gets = proxy.requestsOf('GET');
    assert.equal(gets.length, 2);
    assert.equal(headerOf(gets[1], 'Last-Event-ID'), early[3]);

    sub.es.close();
    await server.stop();
});

test('after a server restart the client is told to resync and gets the new log', { timeout: TEST_TIMEOUT }, async (t) => {
    const first = await startServer(t, ['--retry', '200ms']);
    const proxy = await startProxy(t, first);
    const sub = subscribe(t, `${proxy.url}/events/r`, ['resync']);
    await sub.opened();
    const old = await publish(first, 'r', 'from the first server');
    await sub.received(1);

    // SIGTERM: the stream is closed; the client keeps retrying (refused while no server runs).
    await first.stop();
    await waitUntil(() => sub.errors.length >= 1, { what: () => 'the client saw no error' });
    const second = await startServer(t, ['--retry', '200ms']);
    proxy.targetPort = second.port;
    const kept = await publish(second, 'r', 'from the second server');
    assert.notEqual(parseId(kept.id).epoch, parseId(old.id).epoch, 'a restart starts a new epoch');

    await sub.received(3);
    assert.deepEqual(sub.got[0], { type: 'message', id: old.id, data: 'from the first server' });
    assert.equal(sub.got[1].type, 'resync');
    assert.deepEqual(JSON.parse(sub.got[1].data), { reason: 'epoch', requested: old.id, after: null });
    assert.deepEqual(sub.got[2], { type: 'message', id: kept.id, data: 'from the second server' });
    const gets = proxy.requestsOf('GET');
    assert.equal(headerOf(gets.at(-1), 'Last-Event-ID'), old.id);

    sub.es.close();
    await second.stop();
});

test('repeated drops while two publishers keep publishing: every event exactly once, in order', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t, ['--retry', '30ms']);
    const proxy = await startProxy(t, server);
    const single = subscribe(t, `${proxy.url}/events/storm/a`);
    const pattern = subscribe(t, `${proxy.url}/events?topic=storm/%2B`, ['storm/a', 'storm/b', 'storm/b:odd']);
    await single.opened();
    await pattern.opened();

    const PER_PUBLISHER = 150;
    const published = { a: [], b: [] };
    let publishing = true;
    const publisher = async (name) => {
        for (let i = 0; i < PER_PUBLISHER; i++) {
            const event = name === 'b' && i % 2 ? 'odd' : undefined;
            const data = `${name}${i} ${'é🎉'.repeat(i % 7)}\nline2 of ${name}${i}`;
            const r = await publish(server, `storm/${name}`, data, { event });
            published[name].push({ id: r.id, data, type: event ? `storm/${name}:${event}` : `storm/${name}` });
        }
    };
    const cutter = async () => {
        let cuts = 0;
        while (publishing || cuts < 4) { // at least 4 drops, even if publishing was quick
            await sleep(40);
            proxy.cut();
            await sleep(cuts % 2 ? 5 : 60); // some reconnects land while the link is still down
            proxy.restore();
            cuts++;
        }
        return cuts;
    };
    const cutting = cutter();
    await Promise.all([publisher('a'), publisher('b')]);
    publishing = false;
    const cuts = await cutting;

    const seq = (id) => Number(id.split('-')[1]);
    const all = [...published.a, ...published.b].sort((x, y) => seq(x.id) - seq(y.id));
    await single.received(PER_PUBLISHER, 10000);
    await pattern.received(2 * PER_PUBLISHER, 10000);
    const end = await publish(server, 'storm/a', 'end');
    await single.received(PER_PUBLISHER + 1);
    await pattern.received(2 * PER_PUBLISHER + 1);

    const describe = (got, want) => {
        const gotIds = got.map((e) => e.id);
        const wantIds = want.map((e) => e.id);
        const missing = wantIds.filter((id) => !gotIds.includes(id));
        const dups = gotIds.filter((id, i) => gotIds.indexOf(id) !== i);
        return `missing ${JSON.stringify(missing)}, duplicated ${JSON.stringify(dups)}`;
    };
    const wantSingle = [...published.a.map((e) => ({ type: 'message', id: e.id, data: e.data })),
        { type: 'message', id: end.id, data: 'end' }];
    assert.deepEqual(single.got.map((e) => e.id), wantSingle.map((e) => e.id), describe(single.got, wantSingle));
    assert.deepEqual(single.got, wantSingle);

    const wantPattern = [...all.map((e) => ({ type: e.type, id: e.id, data: e.data })),
        { type: 'storm/a', id: end.id, data: 'end' }];
    assert.deepEqual(pattern.got.map((e) => e.id), wantPattern.map((e) => e.id), describe(pattern.got, wantPattern));
    assert.deepEqual(pattern.got, wantPattern);
    assert.ok(single.opens >= 3 && pattern.opens >= 3,
        `clients reconnected (${single.opens}, ${pattern.opens} opens for ${cuts} cuts)`);

    single.es.close();
    pattern.es.close();
    await server.stop();
});

test('a pattern stream resumes with events of topics created while it was disconnected', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t, ['--retry', '100ms']);
    const proxy = await startProxy(t, server);
    const types = ['sport/football', 'sport/tennis', 'sport/cricket', 'sport/cricket:wicket', 'sport/golf', 'sport/golf/eu'];
    const sub = subscribe(t, `${proxy.url}/events/sport/%2B`, types);
    await sub.opened();

    const expected = [];
    const pub = async (topic, data, event) => {
        const r = await publish(server, topic, data, { event });
        if (!topic.startsWith('sport/golf/')) expected.push({ type: event ? `${topic}:${event}` : topic, id: r.id, data });
    };
    await pub('sport/football', 'kick-off');
    await sub.received(1);

    proxy.cut();
    await pub('sport/tennis', 'new topic during the outage');
    await pub('sport/cricket', 'another new one', 'wicket');
    await pub('sport/golf/eu', 'too deep');
    await pub('sport/football', 'goal');
    await pub('sport/cricket', 'six');
    proxy.restore();

    await sub.received(expected.length);
    await pub('sport/golf', 'created after the reconnect');
    await sub.received(expected.length);
    assert.deepEqual(sub.got, expected);
    assertIncreasingIds(sub.got);

    sub.es.close();
    await server.stop();
});

test('a long outage: a big backlog is replayed whole; past the history the client is told to resync', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(t, ['--retry', '100ms', '--history-count', '900']);
    const proxy = await startProxy(t, server);
    const big = subscribe(t, `${proxy.url}/events/backlog`);
    const small = subscribe(t, `${proxy.url}/events/overflow`, ['resync']);
    await big.opened();
    await small.opened();
    const first = await publishJson(server, [{ topic: 'backlog', data: 'b0' }, { topic: 'overflow', data: 'o0' }]);
    await big.received(1);
    await small.received(1);

    proxy.cut();
    // 800 missed events of ~2 kB (within the 900 kept) on one topic; 1000 on the other.
    const payload = (i) => `#${i} ${'0123456789abcdef'.repeat(128)}\n${'世'.repeat(i % 50)}`;
    const bigWant = [{ type: 'message', id: first.ids[0], data: 'b0' }];
    const smallIds = [];
    for (let start = 0; start < 1000; start += 100) {
        const items = [];
        for (let i = start; i < start + 100; i++) {
            if (i < 800) items.push({ topic: 'backlog', data: payload(i) });
            items.push({ topic: 'overflow', data: `o${i + 1}` });
        }
        const { ids } = await publishJson(server, items);
        let k = 0;
        for (let i = start; i < start + 100; i++) {
            if (i < 800) bigWant.push({ type: 'message', id: ids[k++], data: payload(i) });
            smallIds.push(ids[k++]);
        }
    }
    proxy.restore();

    await big.received(bigWant.length, 10000);
    assert.equal(big.got.length, bigWant.length);
    for (let i = 0; i < bigWant.length; i++) {
        assert.ok(big.got[i].id === bigWant[i].id && big.got[i].data === bigWant[i].data,
            `backlog event ${i}: got id ${big.got[i].id}, want ${bigWant[i].id}`);
    }

    // 1000 missed, 900 kept: first a resync saying where the kept log starts, then those 900.
    await small.received(1 + 1 + 900, 10000);
    assert.equal(small.got[1].type, 'resync');
    assert.deepEqual(JSON.parse(small.got[1].data),
        { reason: 'expired', topic: 'overflow', from: smallIds[100] });
    const replayed = small.got.slice(2);
    assert.deepEqual(replayed.map((e) => e.id), smallIds.slice(100));
    assert.deepEqual(replayed.map((e) => e.data), smallIds.slice(100).map((_, i) => `o${i + 101}`));
    assert.ok(replayed.every((e) => e.type === 'message'));

    big.es.close();
    small.es.close();
    await server.stop();
});

// ---- tvdw/sse-server compatibility (auth_mode branca) ----
// Tokens are made with the npm branca and @msgpack/msgpack packages: an implementation
// independent of the server's (libsodium + msgpack-c).

const SSE_SECRET = '7ed0c1a2e2c2b1f1b2d0c5a4f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3';

async function brancaToken(payload) {
    const { default: brancaFactory } = await import('branca');
    const { encode } = await import('@msgpack/msgpack');
    return brancaFactory(Buffer.from(SSE_SECRET, 'hex')).encode(Buffer.from(encode(payload)));
}

async function submit(server, token) {
    const res = await fetch(`${server.url}/submit`, { method: 'POST', body: token });
    return { status: res.status, body: await res.text() };
}

test('sse-server clients work unchanged: /events?token= and POST /submit with Branca tokens', { timeout: TEST_TIMEOUT }, async (t) => {
    process.env.SSE_SECRET = SSE_SECRET; // read from the environment, as sse-server does
    t.after(() => { delete process.env.SSE_SECRET; });
    const server = await startServer(t, ['--auth-mode', 'branca']);

    const sub = subscribe(t, `${server.url}/events?token=${await brancaToken({ topics: ['chat/room1', 'chat/room2'] })}`, ['chat/room1:greeting', 'chat/room2']);
    await waitUntil(() => sub.opens >= 1, { what: () => `errors: ${sub.errors.length}` });

    // The map form, and the positional form rmp_serde writes by default.
    const first = await submit(server, await brancaToken({ events: [{ topic: 'chat/room1', event: 'greeting', data: 'hello' }] }));
    assert.deepEqual(first, { status: 200, body: '' });
    const second = await submit(server, await brancaToken([[['chat/room2', '', 'second room']]]));
    assert.deepEqual(second, { status: 200, body: '' });
    const other = await submit(server, await brancaToken({ events: [{ topic: 'chat/room3', event: 'greeting', data: 'not for this token' }] }));
    assert.equal(other.status, 200);

    await waitUntil(() => sub.got.length >= 2, { what: () => JSON.stringify(sub.got) });
    await sleep(200);
    assert.deepEqual(sub.got.map((e) => [e.type, e.data]), [
        ['chat/room1:greeting', 'hello'],
        ['chat/room2', 'second room'],
    ]);

    // A forged or foreign token is refused with a reason; so is a subscriber token at /submit.
    const tampered = (await brancaToken({ events: [] })).slice(0, -2) + 'zz';
    const bad = await submit(server, tampered);
    assert.equal(bad.status, 401, bad.body);
    const wrongShape = await submit(server, await brancaToken({ topics: ['chat/room1'] }));
    assert.equal(wrongShape.status, 400, wrongShape.body);
    assert.match(JSON.parse(wrongShape.body).error, /events/);
    const res = await fetch(`${server.url}/events?token=${tampered}`);
    assert.equal(res.status, 401);
    assert.match((await res.json()).error, /signature|malformed/);
    const ping = await fetch(`${server.url}/ping`);
    assert.deepEqual([ping.status, await ping.text()], [200, '']);
});

// ---- auth_mode jwt with RS256 and ES256 keys from a JWKS file ----
// Keys and tokens are made here with node:crypto, independently of the server's code.

test('jwt: RS256 and ES256 tokens verify by kid from a JWKS file; confusion and foreign keys are refused', { timeout: TEST_TIMEOUT }, async (t) => {
    const { generateKeyPairSync, sign, createHmac } = await import('node:crypto');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = mkdtempSync(path.join(tmpdir(), 'rp-jwks-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const jwks = path.join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [
        { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ] }));

    const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    const claims = { sub: 'node', exp: Math.floor(Date.now() / 1000) + 600, read: ['jwks/#'] };
    const jws = (header, key, alg) => {
        const input = `${b64(header)}.${b64(claims)}`;
        const sig = alg === 'HS256' ? createHmac('sha256', key).update(input).digest()
            : sign('sha256', Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
        return `${input}.${sig.toString('base64url')}`;
    };
    const server = await startServer(t, ['--auth-mode', 'jwt', '--auth-jwt-jwks-file', jwks]);
    const status = async (token) => {
        const res = await fetch(`${server.url}/topics/jwks/a`, { headers: { Authorization: `Bearer ${token}` } });
        return [res.status, (await res.json()).error];
    };
    const notFound = 'no topic named "jwks/a" (nothing was published or subscribed to it yet)';
    assert.deepEqual(await status(jws({ alg: 'RS256', kid: 'rsa-1' }, rsa.privateKey, 'RS256')), [404, notFound]);
    assert.deepEqual(await status(jws({ alg: 'ES256', kid: 'ec-1' }, ec.privateKey, 'ES256')), [404, notFound]);
    assert.deepEqual(await status(jws({ alg: 'ES256' }, ec.privateKey, 'ES256')), [404, notFound], 'no kid: every EC key is tried');
    assert.equal((await status(jws({ alg: 'ES256', kid: 'ec-1' }, foreign.privateKey, 'ES256')))[0], 401, 'another key');
    assert.equal((await status(jws({ alg: 'ES256', kid: 'nobody' }, ec.privateKey, 'ES256')))[1], 'no configured key has the token\'s kid');
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' });
    assert.match((await status(jws({ alg: 'HS256', kid: 'rsa-1' }, pem, 'HS256')))[1], /algorithm/, 'the RSA public key as an HMAC secret');
    assert.match((await status(jws({ alg: 'RS256', kid: 'ec-1' }, rsa.privateKey, 'RS256')))[1], /algorithm/, 'kid of another key type');

    // The grant works for streams too.
    const token = jws({ alg: 'ES256', kid: 'ec-1' }, ec.privateKey, 'ES256');
    const res = await fetch(`${server.url}/events/other`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
});
