import assert from "node:assert/strict";
import { type OwnPath, PathAdvertiser } from "./advertiser.ts";
import type { PathMessage } from "./path_codec.ts";

/** A fake gobgpd API recording calls; paths carry their key in `sourceId`. */
class FakePort {
  calls: string[] = [];
  fail = 0;
  addPath(path: PathMessage) {
    if (this.fail-- > 0) return Promise.reject(new Error("unavailable"));
    this.calls.push(`add ${path.sourceId}`);
    return Promise.resolve(new Uint8Array());
  }
  deletePath(path: PathMessage) {
    assert.ok(path.nlri, "DeletePath always carries a path");
    this.calls.push(`del ${path.sourceId}`);
    return Promise.resolve();
  }
}

function own(key: string, fingerprint = "a"): OwnPath {
  const path = {
    sourceId: `${key}/${fingerprint}`,
    nlri: { type_url: "x", value: new Uint8Array() },
  };
  return { key, fingerprint, path, withdrawal: path };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

Deno.test("PathAdvertiser writes nothing until it knows what gobgpd holds", async () => {
  const port = new FakePort();
  const adv = new PathAdvertiser(port);
  adv.set([own("k1")]);
  await settle();
  assert.deepEqual(port.calls, []);
  assert.equal(adv.advertised, undefined);
  adv.known([]);
  await settle();
  assert.deepEqual(port.calls, ["add k1/a"]);
  assert.ok(adv.settled);
});

Deno.test("PathAdvertiser adopts a held path that says the same and withdraws the stale ones", async () => {
  const port = new FakePort();
  const adv = new PathAdvertiser(port);
  adv.set([own("k1"), own("k2", "b")]);
  adv.known([own("k1"), own("k2", "old"), own("k3")]);
  await settle();
  assert.deepEqual(port.calls, ["del k3/a", "add k2/b"]);
});

Deno.test("PathAdvertiser withdraws nothing before it was given a desired set", async () => {
  const port = new FakePort();
  const adv = new PathAdvertiser(port);
  adv.known([own("k1")]);
  await settle();
  assert.deepEqual(port.calls, []);
  adv.set([own("k1")]);
  await settle();
  assert.deepEqual(port.calls, [], "adopted");
});

Deno.test("PathAdvertiser withdraws before re-adding a changed path when asked to", async () => {
  const port = new FakePort();
  const adv = new PathAdvertiser(port, { withdrawBeforeReplace: true });
  adv.known([]);
  adv.set([own("k1", "a")]);
  await settle();
  adv.set([own("k1", "b")]);
  await settle();
  assert.deepEqual(port.calls, ["add k1/a", "del k1/a", "add k1/b"]);
  adv.set([]);
  await settle();
  assert.deepEqual(port.calls.at(-1), "del k1/b");
});

Deno.test("PathAdvertiser retries failures and ends at the latest desired set", async () => {
  const port = new FakePort();
  port.fail = 2;
  const errors: number[] = [];
  const adv = new PathAdvertiser(port, {
    retryMinMs: 1,
    retryMaxMs: 2,
    onError: (_e, ms) => errors.push(ms),
  });
  adv.known([]);
  adv.set([own("k1")]);
  adv.set([own("k2")]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(errors.length, 2);
  assert.deepEqual(port.calls, ["add k2/a"]);
});

Deno.test("PathAdvertiser.withdrawAll() withdraws what is held, and the desired set while unknown", async () => {
  const port = new FakePort();
  const adv = new PathAdvertiser(port);
  adv.set([own("k1")]);
  assert.equal(await adv.withdrawAll(100), true);
  assert.deepEqual(port.calls, ["del k1/a"]);

  const port2 = new FakePort();
  const adv2 = new PathAdvertiser(port2);
  adv2.known([own("k9")]);
  adv2.set([]);
  await settle();
  assert.equal(await adv2.withdrawAll(100), true);
  assert.deepEqual(port2.calls, ["del k9/a"]);
});
