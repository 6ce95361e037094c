import assert from "node:assert/strict";
import type { AgentStatus, VniStatus } from "../status/types.ts";
import { fetchStatus, listenToStatusAddr, renderStatus } from "./status.ts";
import { type HostPort, parseHostPort } from "../net/host_port.ts";

const endpoint = (text: string): HostPort => (parseHostPort(text, "") as { value: HostPort }).value;

function vni(overrides: Partial<VniStatus> & Pick<VniStatus, "vni">): VniStatus {
  return {
    community: `65000:${overrides.vni}`,
    device: `vxlan${overrides.vni}`,
    ifindex: 7,
    online: true,
    localAddress: "192.0.2.11",
    desired: [],
    programmed: [],
    missing: [],
    extra: [],
    familyMismatch: [],
    lastError: null,
    ...overrides,
  };
}

function status(vnis: VniStatus[], overrides: Partial<AgentStatus> = {}): AgentStatus {
  return {
    version: "0.1.0",
    dryRun: false,
    ready: true,
    node: { localAddress: "192.0.2.11", addressFamily: "ipv4", mode: "discover" },
    bgp: {
      address: "127.0.0.1:50051",
      stream: "up",
      reconnects: 2,
      remoteVteps: 3,
      membership: {
        enabled: true,
        prefix: "192.0.2.11/32",
        communities: ["65000:10010", "65000:10011"],
      },
    },
    lastSync: "2025-01-02T03:04:05.000Z",
    vnis,
    ...overrides,
  };
}

const IN_SYNC = vni({
  vni: 10010,
  desired: ["192.0.2.12", "192.0.2.13"],
  programmed: ["192.0.2.12", "192.0.2.13"],
});

const DRIFTED = vni({
  vni: 10011,
  ifindex: 8,
  desired: ["192.0.2.13", "192.0.2.14"],
  programmed: ["192.0.2.13", "192.0.2.66"],
  missing: ["192.0.2.14"],
  extra: ["192.0.2.66"],
  lastError: { message: "Cannot append FDB entry: busy", at: "2025-01-02T03:04:00.000Z" },
});

const OFFLINE = vni({
  vni: 10012,
  ifindex: null,
  online: false,
  localAddress: null,
  desired: ["192.0.2.15"],
});

Deno.test("renderStatus() prints the header, BGP line and membership", () => {
  const lines = renderStatus(status([IN_SYNC])).split("\n");
  assert.equal(
    lines[0],
    "evpn-agent 0.1.0: ready, VTEP 192.0.2.11 (discovered VNIs), last sync 2025-01-02T03:04:05.000Z",
  );
  assert.equal(lines[1], "BGP 127.0.0.1:50051: stream up, 2 reconnects, 3 remote VTEPs");
  assert.equal(lines[2], "Membership 192.0.2.11/32: 65000:10010 65000:10011");
});

Deno.test("renderStatus() shows an in-sync VNI as a table row and its flood entries", () => {
  const text = renderStatus(status([IN_SYNC]));
  assert.match(
    text,
    /^VNI\s+Community\s+Device\s+Ifindex\s+State\s+Local\s+Desired\s+Programmed\s+Diff$/m,
  );
  assert.match(
    text,
    /^10010\s+65000:10010\s+vxlan10010\s+7\s+online\s+192\.0\.2\.11\s+2\s+2\s+in sync$/m,
  );
  assert.match(text, /^vxlan10010 flood entries \(bridge fdb show dev vxlan10010\):$/m);
  assert.match(text, /^ {2}00:00:00:00:00:00 dst 192\.0\.2\.12 +ok$/m);
  assert.match(text, /^ {2}00:00:00:00:00:00 dst 192\.0\.2\.13 +ok$/m);
  assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"));
});

Deno.test("renderStatus() marks missing and extra entries and the last error", () => {
  const text = renderStatus(status([IN_SYNC, DRIFTED]));
  assert.match(text, /^10011\s+65000:10011\s+vxlan10011\s+8\s+online\s+\S+\s+2\s+2\s+\+1 -1$/m);
  assert.match(text, /dst 192\.0\.2\.13 +ok$/m);
  assert.match(text, /dst 192\.0\.2\.14 +missing, pending$/m);
  assert.match(text, /dst 192\.0\.2\.66 +stale, pending removal$/m);
  assert.match(
    text,
    /^ {2}last error 2025-01-02T03:04:00\.000Z: Cannot append FDB entry: busy$/m,
  );
  assert.doesNotMatch(text, /would/);
});

Deno.test("renderStatus() shows an offline VNI with dashes and no flood section", () => {
  const text = renderStatus(status([IN_SYNC, OFFLINE]));
  assert.match(text, /^10012\s+65000:10012\s+vxlan10012\s+-\s+offline\s+-\s+1\s+-\s+-$/m);
  assert.doesNotMatch(text, /vxlan10012 flood entries/);
});

Deno.test("renderStatus() words a dry run as changes that would be made", () => {
  const text = renderStatus(status([DRIFTED], { dryRun: true }));
  assert.match(text.split("\n")[0]!, /: ready \(dry run\), VTEP/);
  assert.match(text, /dst 192\.0\.2\.14 +would add$/m);
  assert.match(text, /dst 192\.0\.2\.66 +would remove$/m);
  assert.doesNotMatch(text, /pending/);
  assert.match(
    text,
    /^Membership 192\.0\.2\.11\/32: would advertise 65000:10010 65000:10011 \(dry run\)$/m,
  );
});

Deno.test("renderStatus() lists flood entries in numeric address order", () => {
  const text = renderStatus(status([vni({
    vni: 10010,
    desired: ["192.0.2.9", "192.0.2.100", "192.0.2.12"],
    programmed: ["192.0.2.100", "192.0.2.12", "192.0.2.9"],
  })]));
  const dsts = [...text.matchAll(/dst (\S+)/g)].map((m) => m[1]);
  assert.deepEqual(dsts, ["192.0.2.9", "192.0.2.12", "192.0.2.100"]);
});

Deno.test("renderStatus() covers not ready, no membership and no VNIs", () => {
  const notReady = status([], {
    ready: false,
    lastSync: null,
    node: { localAddress: "192.0.2.11", addressFamily: "ipv4", mode: "static" },
  });
  notReady.bgp = { ...notReady.bgp, stream: "connecting" };
  notReady.bgp.membership = { enabled: true, prefix: "192.0.2.11/32", communities: null };
  let text = renderStatus(notReady);
  assert.match(
    text,
    /^evpn-agent 0\.1\.0: NOT READY, VTEP 192\.0\.2\.11 \(static VNIs\), last sync never$/m,
  );
  assert.match(text, /^BGP 127\.0\.0\.1:50051: stream connecting,/m);
  assert.match(text, /^Membership 192\.0\.2\.11\/32: unknown \(not yet confirmed by gobgpd\)$/m);
  assert.match(text, /^No VNIs \(no vxlan device found and none configured\)\.$/m);

  notReady.bgp.membership = { enabled: true, prefix: "192.0.2.11/32", communities: [] };
  text = renderStatus(notReady);
  assert.match(text, /^Membership 192\.0\.2\.11\/32: withdrawn \(no VNI online\)$/m);
  notReady.bgp.membership = { enabled: false, prefix: "192.0.2.11/32", communities: null };
  text = renderStatus(notReady);
  assert.match(text, /^Membership 192\.0\.2\.11\/32: not advertised \(advertiseSelf: false\)$/m);
});

Deno.test("renderStatus() prints (none) for an online VNI with no flood entries", () => {
  const text = renderStatus(status([vni({ vni: 10010 })]));
  assert.match(
    text,
    /^vxlan10010 flood entries \(bridge fdb show dev vxlan10010\):\n {2}\(none\)$/m,
  );
});

Deno.test("fetchStatus() reads /status and names the address when it cannot", async () => {
  const doc = status([IN_SYNC]);
  let answer = 200;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      answer === 200 && new URL(request.url).pathname === "/status"
        ? Response.json(doc)
        : new Response("unavailable\n", { status: answer }),
  );
  try {
    const addr = `127.0.0.1:${server.addr.port}`;
    assert.deepEqual(await fetchStatus(addr), doc);
    answer = 503;
    await assert.rejects(fetchStatus(addr), {
      message: `GET http://${addr}/status answered 503`,
    });
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = closed.addr.port;
    closed.close();
    await assert.rejects(fetchStatus(`127.0.0.1:${port}`, 1_000), {
      message: `GET http://127.0.0.1:${port}/status: connection refused`,
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("fetchStatus() says when the agent does not answer in time", async () => {
  // Accepts the connection, never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const addr = `127.0.0.1:${listener.addr.port}`;
    await assert.rejects(fetchStatus(addr, 200), {
      message: `GET http://${addr}/status: no answer within 0.2 s`,
    });
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
  }
});

Deno.test("listenToStatusAddr() asks a wildcard listener on loopback, any other where it listens", () => {
  assert.equal(listenToStatusAddr(endpoint("192.0.2.11:9469")), "192.0.2.11:9469");
  assert.equal(listenToStatusAddr(endpoint("127.0.0.1:9470")), "127.0.0.1:9470");
  assert.equal(listenToStatusAddr(endpoint("0.0.0.0:9469")), "127.0.0.1:9469");
  assert.equal(listenToStatusAddr(endpoint("[::]:9469")), "[::1]:9469");
  assert.equal(listenToStatusAddr(endpoint("[fd00::1]:9469")), "[fd00::1]:9469");
});

Deno.test("renderStatus() shows a VNI's Type 2 side: our routes, remote MACs and neighbours", () => {
  const text = renderStatus(status([vni({
    vni: 10010,
    macIp: {
      ownRoutes: ["02:0b:00:00:00:01", "02:0b:00:00:00:01 198.51.100.1"],
      remoteMacs: {
        desired: ["02:aa:00:00:00:01 192.0.2.10", "02:aa:00:00:00:02 192.0.2.12"],
        programmed: ["02:aa:00:00:00:01 192.0.2.10"],
        missing: ["02:aa:00:00:00:02 192.0.2.12"],
        extra: [],
        userHeld: 1,
      },
      neighbours: { desired: [], programmed: [], missing: [], extra: [], userHeld: 0 },
    },
  })]));
  assert.match(
    text,
    /^vxlan10010 our Type 2 routes: 02:0b:00:00:00:01, 02:0b:00:00:00:01 198\.51\.100\.1$/m,
  );
  assert.match(text, /^vxlan10010 remote MACs \(bridge fdb\) \(1 held by user entries\):$/m);
  assert.match(text, /^ {2}02:aa:00:00:00:01 dst 192\.0\.2\.10 {2}ok$/m);
  assert.match(text, /^ {2}02:aa:00:00:00:02 dst 192\.0\.2\.12 {2}missing, pending$/m);
  assert.match(text, /^vxlan10010 remote neighbours \(ip neigh\):\n {2}\(none\)$/m);
});

Deno.test("renderStatus() lists the members of the other address family a VNI cannot reach", () => {
  const text = renderStatus(status([
    vni({
      vni: 10010,
      localAddress: "2001:db8::11",
      desired: ["2001:db8::12"],
      programmed: ["2001:db8::12"],
      familyMismatch: ["192.0.2.13"],
    }),
  ], { node: { localAddress: "2001:db8::11", addressFamily: "ipv6", mode: "static" } }));
  assert.match(text, /VTEP 2001:db8::11 \(IPv6 underlay\)/);
  assert.match(text, /00:00:00:00:00:00 dst 2001:db8::12 +ok/);
  assert.match(
    text,
    /VNI 10010: members not reachable from this VTEP \(IPv4, family_mismatch;.*\n {2}192\.0\.2\.13\n/,
  );
  assert.doesNotMatch(renderStatus(status([IN_SYNC])), /family_mismatch/);
});
