import assert from "node:assert/strict";
import {
  after,
  drawRound,
  entryKey,
  type Fault,
  Model,
  parseDeviceKey,
  pingCause,
  SHAPE,
  stableEntries,
} from "./plan.ts";
import { Rng } from "./rng.ts";

Deno.test("Rng draws the same sequence for the same seed and another for another seed", () => {
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 20 }, () => rng.int(0, 1_000_000));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
});

Deno.test("Rng.int stays inside its range and reaches both ends", () => {
  const rng = new Rng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2_000; i++) {
    const x = rng.int(3, 6);
    assert.ok(x >= 3 && x <= 6, `${x}`);
    seen.add(x);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
});

Deno.test("Rng refuses a seed that is not a 32-bit unsigned integer", () => {
  assert.throws(() => new Rng(-1), RangeError);
  assert.throws(() => new Rng(2 ** 32), RangeError);
  assert.throws(() => new Rng(1.5), RangeError);
});

Deno.test("Model gives the flood lists and membership routes of the initial shape", () => {
  const model = new Model(SHAPE);
  assert.deepEqual(model.floodLists(), {
    "spoke1/vxlan10010": ["192.0.2.12", "192.0.2.13"],
    "spoke1/vxlan10011": ["192.0.2.13", "192.0.2.14"],
    "spoke2/vxlan10010": ["192.0.2.11", "192.0.2.13"],
    "spoke3/vxlan10010": ["192.0.2.11", "192.0.2.12"],
    "spoke3/vxlan10011": ["192.0.2.11", "192.0.2.14"],
    "spoke4/vxlan10011": ["192.0.2.11", "192.0.2.13"],
  });
  assert.deepEqual(model.rib(), {
    "192.0.2.11/32": ["65000:10010", "65000:10011"],
    "192.0.2.12/32": ["65000:10010"],
    "192.0.2.13/32": ["65000:10010", "65000:10011"],
    "192.0.2.14/32": ["65000:10011"],
  });
});

Deno.test("Model without any device on a spoke expects no membership route for it", () => {
  const model = after(new Model(SHAPE), [{ kind: "device-toggle", spoke: 4, vni: 10011 }]);
  assert.equal(model.rib()["192.0.2.14/32"], undefined);
  assert.equal(model.floodLists()["spoke4/vxlan10011"], undefined);
  assert.deepEqual(model.floodLists()["spoke1/vxlan10011"], ["192.0.2.13"]);
});

Deno.test("drawRound never touches protected devices or long-lived agents, and never conflicts", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rng(seed);
    let model = new Model(SHAPE);
    for (let round = 0; round < 20; round++) {
      const faults = drawRound(rng, model);
      assert.ok(faults.length === 1 || faults.length === 2);
      for (const f of faults) {
        if ("vni" in f) {
          const key = `${f.spoke}/${f.vni}` as const;
          if (f.kind !== "drift-delete" && f.kind !== "drift-stray") {
            assert.ok(!SHAPE.protected.includes(key), `seed ${seed}: ${JSON.stringify(f)}`);
          }
          if (f.kind !== "device-toggle") assert.ok(model.present.has(key), JSON.stringify(f));
        }
        if (f.kind === "agent-kill" || f.kind === "agent-term") {
          assert.ok(!SHAPE.longLived.includes(f.spoke), JSON.stringify(f));
        }
        if (f.kind === "drift-delete") {
          assert.ok(model.flood(f.spoke, f.vni).includes(f.dst), JSON.stringify(f));
        }
      }
      if (faults.length === 2) {
        const [a, b] = faults as [Fault, Fault];
        assert.notEqual(a.kind, b.kind);
        if ("vni" in a && "vni" in b) {
          assert.ok(a.spoke !== b.spoke || a.vni !== b.vni, JSON.stringify(faults));
        }
      }
      model = after(model, faults);
      for (const key of SHAPE.protected) assert.ok(model.present.has(key));
    }
  }
});

Deno.test("drawRound draws every kind of fault and sometimes two at once", () => {
  const rng = new Rng(1);
  const kinds = new Set<string>();
  let doubles = 0;
  let hub = 0;
  for (let i = 0; i < 500; i++) {
    const faults = drawRound(rng, new Model(SHAPE));
    if (faults.length === 2) doubles++;
    for (const f of faults) {
      kinds.add(f.kind);
      if (f.kind === "gobgpd-kill" && f.node === 0) hub++;
    }
  }
  assert.equal(kinds.size, 9, [...kinds].join());
  assert.ok(doubles > 50 && doubles < 250, `${doubles} double rounds`);
  assert.ok(hub > 0, "the hub's gobgpd is sometimes killed");
});

Deno.test("stableEntries keeps every entry through an agent SIGKILL and a local gobgpd restart", () => {
  const model = new Model(SHAPE);
  const all = new Set<string>();
  for (const key of model.present) {
    const { spoke, vni } = parseDeviceKey(key);
    for (const dst of model.flood(spoke, vni)) all.add(entryKey(spoke, vni, dst));
  }
  assert.deepEqual(
    stableEntries(model, [{ kind: "agent-kill", spoke: 3, restartAfterMs: 0 }]),
    all,
  );
  // spoke4's gobgpd: spoke4 keeps its own entries, the others lose spoke4.
  const s = stableEntries(model, [{ kind: "gobgpd-kill", node: 4, restartAfterMs: 0 }]);
  assert.ok(s.has(entryKey(4, 10011, "192.0.2.11")));
  assert.ok(!s.has(entryKey(1, 10011, "192.0.2.14")));
  assert.ok(s.has(entryKey(1, 10011, "192.0.2.13")));
});

Deno.test("stableEntries excludes what a fault legitimately removes", () => {
  const model = new Model(SHAPE);
  assert.equal(stableEntries(model, [{ kind: "gobgpd-kill", node: 0, restartAfterMs: 0 }]).size, 0);
  const term = stableEntries(model, [{ kind: "agent-term", spoke: 3, restartAfterMs: 0 }]);
  assert.ok(!term.has(entryKey(1, 10010, "192.0.2.13")));
  assert.ok(term.has(entryKey(3, 10010, "192.0.2.11")), "its own entries stay in the kernel");
  const toggle = stableEntries(model, [{ kind: "device-toggle", spoke: 3, vni: 10011 }]);
  assert.ok(!toggle.has(entryKey(3, 10011, "192.0.2.11")));
  assert.ok(!toggle.has(entryKey(1, 10011, "192.0.2.13")));
  assert.ok(toggle.has(entryKey(1, 10010, "192.0.2.13")), "another VNI of the same node stays");
  const drift = stableEntries(model, [
    { kind: "drift-delete", spoke: 1, vni: 10010, dst: "192.0.2.12" },
  ]);
  assert.ok(!drift.has(entryKey(1, 10010, "192.0.2.12")));
  assert.ok(drift.has(entryKey(2, 10010, "192.0.2.11")));
});

Deno.test("pingCause names only the faults that cut the ping path", () => {
  const cause = (f: Fault) => pingCause(SHAPE, f);
  assert.equal(
    cause({ kind: "gobgpd-kill", node: 0, restartAfterMs: 0 }),
    "gobgpd restart on the hub",
  );
  assert.ok(cause({ kind: "gobgpd-kill", node: 2, restartAfterMs: 0 }));
  assert.equal(cause({ kind: "gobgpd-kill", node: 3, restartAfterMs: 0 }), undefined);
  assert.ok(cause({ kind: "agent-term", spoke: 2, restartAfterMs: 0 }));
  assert.equal(cause({ kind: "agent-kill", spoke: 2, restartAfterMs: 0 }), undefined);
  assert.ok(cause({ kind: "drift-delete", spoke: 1, vni: 10010, dst: "192.0.2.12" }));
  assert.equal(cause({ kind: "drift-delete", spoke: 1, vni: 10010, dst: "192.0.2.13" }), undefined);
  assert.equal(cause({ kind: "flap-storm", spoke: 3, vni: 10010, cycles: 5 }), undefined);
});
