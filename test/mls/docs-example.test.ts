// Runs the worked example of docs/mls.md verbatim (extracted by the test), so the documentation cannot rot.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import {
  nativeProvider, createGroup, createKeyPackage, joinFromWelcome, joinExternal,
  basicCredential, utf8Bytes, encode, decode, encodeMLSMessage, decodeMLSMessage,
  PublicGroup, externalSendersExtension, serializeGroup, deserializeGroup, isMlsError,
} from "../../mls/node.js";

it("the worked example in docs/mls.md is the code tested here", () => {
  const doc = readFileSync(new URL("../../docs/mls.md", import.meta.url), "utf8");
  const mine = readFileSync(new URL(import.meta.url), "utf8");
  const example = /## A worked example\n\n```ts\n([\s\S]*?)```/.exec(doc)![1]!;
  for (const line of example.split("\n").slice(6)) expect(mine).toContain(line.trim());
});

it("runs the worked example", () => {
  const log: unknown[] = [];
  const console = { log: (...a: unknown[]) => log.push(a) };
  {

    const cs = nativeProvider.suite(1); // MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519

    // An identity: a signature key pair and a credential.
    function identity(name: string) {
      const sig = cs.signature.generateKeyPair();
      return { cs, credential: basicCredential(utf8Bytes(name)), signaturePrivateKey: sig.privateKey, signaturePublicKey: sig.publicKey };
    }
    const alice = identity("alice@example.org");
    const bob = identity("bob@example.org");

    // A Delivery Service that may propose Adds and Removes (an external sender, §12.1.8).
    const ds = cs.signature.generateKeyPair();
    const externalSenders = externalSendersExtension([{ signatureKey: ds.publicKey, credential: basicCredential(utf8Bytes("mls.example.org")) }]);

    // Alice creates the group (epoch 0) and adds Bob with his KeyPackage.
    const a = createGroup({ ...alice, extensions: [externalSenders] });
    const bobKp = createKeyPackage(bob);                       // publish bobKp.keyPackage, keep bobKp.privateKeys
    const created = a.commit({ add: [bobKp.keyPackage] });     // nothing changes until merged
    // ... send created.commit to the DS; when it accepts:
    a.mergePendingCommit();

    // Bob joins from the Welcome (bytes on the wire in real life).
    const welcome = decode(decodeMLSMessage, encode(encodeMLSMessage, created.welcome!));
    const b = joinFromWelcome({ cs, welcome, keyPackage: bobKp.keyPackage, keyPackagePrivate: bobKp.privateKeys });
    console.log(a.epoch, b.epoch);                             // 1n 1n; equal epochAuthenticator

    // Application messages (PrivateMessage).
    const msg = a.encrypt(utf8Bytes("hello Bob"));
    const r = b.process(msg);                                  // { kind: "application", data, sender, ... }

    // The DS keeps the public view and validates every handshake message.
    const view = PublicGroup.fromGroupInfo(cs, created.groupInfo, a.ratchetTree()); // the tree travels beside it
    const { message: removeBob } = view.proposeRemove(0, ds.privateKey, 1);  // external proposal
    a.process(removeBob);
    b.process(removeBob);                                      // every member sees the DS's proposals
    const c = a.commit();                                      // includes the pending proposal by reference
    view.process(c.commit);                                    // the DS validates and advances
    a.mergePendingCommit();
    const out = b.process(c.commit);                           // { kind: "commit", summary: { selfRemoved: true, ... } }

    // Anyone with a GroupInfo (which carries external_pub) can join by external commit.
    const carol = joinExternal({ ...identity("carol@example.org"), groupInfo: a.groupInfo() });
    view.process(carol.commit);
    a.process(carol.commit);

    // State survives restarts (it contains secrets: keep it encrypted at rest).
    const saved = serializeGroup(a);
    const again = deserializeGroup(nativeProvider, saved);

    // Every failure is an MlsError with a stable code; a rejected message changes nothing.
    try { again.process(c.commit); } catch (e) { if (isMlsError(e, "WrongEpoch")) { /* old commit */ } }

    expect(r.kind).toBe("application");
    expect(out.kind === "commit" && out.summary.selfRemoved).toBe(true);
    expect(again.epoch).toBe(a.epoch);
    expect(carol.group.epochAuthenticator).toEqual(a.epochAuthenticator);
    expect(log[0]).toEqual([1n, 1n]);
    void isMlsError;
  }
});
